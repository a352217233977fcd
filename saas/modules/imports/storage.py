"""The uploaded file, kept in PostgreSQL in pieces so that any web or worker host can
read it, and copied to a private temporary file (named after the tenant and the
import) while a worker or the preview reads it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select

from saas.db import current_tenant, session
from saas.modules.imports.models import ImportChunk

CHUNK = 1024 * 1024


class TooLarge(ValueError):
    pass


def save(import_id: int, stream: BinaryIO) -> int:
    """Store the upload; returns its size. Raises :class:`TooLarge` past the limit."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    size, seq = 0, 0
    while True:
        data = stream.read(CHUNK)
        if not data:
            break
        size += len(data)
        if size > limit:
            raise TooLarge(
                _(
                    "The file is larger than %(mb)d MB. Split it into smaller files.",
                    mb=limit // (1024 * 1024),
                )
            )
        session().add(ImportChunk(import_id=import_id, seq=seq, data=data))
        seq += 1
        if seq % 16 == 0:
            session().flush()  # keep at most a few pieces in memory
    session().flush()
    return size


def drop(import_id: int) -> None:
    session().execute(delete(ImportChunk).where(ImportChunk.import_id == import_id))


@contextmanager
def temp_path(import_id: int, suffix: str) -> Iterator[Path]:
    """A private temporary file for the import's copy, removed when the block ends."""
    prefix = f"import-{current_tenant().schema_name}-{import_id}-"
    handle, name = tempfile.mkstemp(prefix=prefix, suffix="." + suffix)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def copy_to(import_id: int, path: Path, *, limit: int | None = None) -> None:
    """Write the stored file to ``path`` (its first ``limit`` bytes or a little more)."""
    stmt = select(ImportChunk.data).where(ImportChunk.import_id == import_id)
    if limit is not None:
        stmt = stmt.where(ImportChunk.seq < -(-limit // CHUNK))
    with path.open("wb") as out:
        for data in (
            session()
            .execute(stmt.order_by(ImportChunk.seq).execution_options(yield_per=8))
            .scalars()
        ):
            out.write(data)
