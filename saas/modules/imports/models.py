"""Imports: the uploaded file, its progress and its outcome live in PostgreSQL.

Redis only carries the job that works on an import. Each batch of rows commits
together with the import's position (``done``), the log of what it created or
updated (``import_rows``, which revert reads) and its rejected rows
(``import_problems``, the error report), so a worker killed at any moment
resumes after its last committed batch: nothing lost, nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase

# uploaded: mapping and preview; queued / running: on a worker; done, failed or
# cancelled: finished; reverting / reverted: being / been undone.
STATUSES = (
    "uploaded",
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "reverting",
    "reverted",
)
ACTIVE = ("queued", "running", "reverting")
MODES = ("insert", "update", "upsert")


class Import(TenantBase):
    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(8))  # csv | xlsx
    encoding: Mapped[str | None] = mapped_column(String(20))
    delimiter: Mapped[str | None] = mapped_column(String(2))
    header: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # One entry per column: {"field": name or "", "by": how a lookup is matched}.
    mapping: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    mode: Mapped[str] = mapped_column(String(10), default="insert", server_default="insert")
    dedupe: Mapped[str | None] = mapped_column(String(80))  # the field that finds a record
    create_missing: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[str] = mapped_column(String(20), default="uploaded", server_default="uploaded")
    error: Mapped[str | None] = mapped_column(Text)  # why the whole import failed
    total: Mapped[int | None] = mapped_column(Integer)  # data rows in the file
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # rows handled
    created: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reverted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revert_upto: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # last row
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When the current run started and where it started: the rate and time left.
    run_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run_started_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportChunk(TenantBase):
    """The uploaded file, in pieces of about a megabyte (any web or worker host reads it)."""

    __tablename__ = "import_chunks"

    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRow(TenantBase):
    """A record an import created (``before`` is NULL) or updated (its values before).

    ``import_id`` has no foreign key: imports are never deleted, and checking every
    logged row against ``imports`` cost a tenth of a batch's database time."""

    __tablename__ = "import_rows"

    import_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger)
    before: Mapped[dict | None] = mapped_column(JSONB)


class ImportProblem(TenantBase):
    """A row that was not imported (failed) or deliberately left out (skipped), and why."""

    __tablename__ = "import_problems"

    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
    )
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    cells: Mapped[list] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)


class SavedMapping(TenantBase):
    """A column mapping kept for the next file of the same shape (shared in the company)."""

    __tablename__ = "import_mappings"
    __table_args__ = (Index("ix_import_mappings_object", "object"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    # {header text: {"field": name, "by": ...}}: applied by header, not by position.
    columns: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    user_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
