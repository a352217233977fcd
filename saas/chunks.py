"""Files kept in PostgreSQL in pieces of about a megabyte (an import's upload, an
export's result), so that any web or worker host can read them. A chunk table has
an owner column (``import_id``, ``export_id``), ``seq`` and ``data``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import delete, insert, select

from saas.db import session

CHUNK = 1024 * 1024


class TooLarge(ValueError):
    """The file is longer than the ``limit`` it was stored with."""


def store(
    model, owner: str, owner_id: int, source: BinaryIO, *, limit: int | None = None, also=None
) -> int:
    """Keep ``source`` as ``owner_id``'s chunks (replacing any); returns its size. ``also``
    gets a copy of every byte (a local file to read it from next)."""
    column = getattr(model, owner)
    session().execute(delete(model).where(column == owner_id))
    seq = size = 0
    while data := source.read(CHUNK):
        size += len(data)
        if limit is not None and size > limit:
            raise TooLarge(size)
        if also is not None:
            also.write(data)
        session().execute(insert(model).values({owner: owner_id, "seq": seq, "data": data}))
        seq += 1
    return size


def read(model, owner: str, owner_id: int, *, limit: int | None = None) -> Iterator[bytes]:
    """The file's chunks in order (only the first ``limit`` bytes' worth, if given)."""
    stmt = select(model.data).where(getattr(model, owner) == owner_id)
    if limit is not None:
        stmt = stmt.where(model.seq < -(-limit // CHUNK))
    yield from session().execute(stmt.order_by(model.seq).execution_options(yield_per=8)).scalars()


def drop(model, owner: str, *owner_ids: int) -> None:
    session().execute(delete(model).where(getattr(model, owner).in_(owner_ids)))
