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

from saas import chunks, scratch
from saas.db import current_tenant
from saas.modules.imports.models import ImportChunk


def save(import_id: int, stream: BinaryIO, *, also: BinaryIO | None = None) -> int:
    """Store the upload (and copy it to ``also``); returns its size. Raises
    :class:`chunks.TooLarge` past ``IMPORT_MAX_BYTES``."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    return chunks.store(ImportChunk, "import_id", import_id, stream, limit=limit, also=also)


@contextmanager
def temp_path(import_id: int, suffix: str) -> Iterator[Path]:
    """A private temporary file for the import's copy, removed when the block ends (or,
    if the process is killed, by the next one: see :mod:`saas.scratch`)."""
    prefix = f"import-{current_tenant().schema_name}-{import_id}-"
    handle, name = tempfile.mkstemp(prefix=prefix, suffix="." + suffix, dir=scratch.directory())
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def copy_to(import_id: int, path: Path, *, limit: int | None = None) -> None:
    """Write the stored file to ``path`` (its first ``limit`` bytes or a little more)."""
    with path.open("wb") as out:
        for data in chunks.read(ImportChunk, "import_id", import_id, limit=limit):
            out.write(data)
