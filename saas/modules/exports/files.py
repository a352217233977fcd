"""Export files: CSV (UTF-8 with a BOM, so Excel reads it) or XLSX, written a batch of
records at a time, and kept in PostgreSQL in chunks of about 1 MB.

Every cell a spreadsheet would run as a formula is neutralised in both formats
(``records.export.neutralise``). XLSX cells are typed: numbers, dates and checkboxes
as such, everything else as a string cell, never a formula.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import BinaryIO
from zoneinfo import ZoneInfo

import xlsxwriter
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select

from saas import chunks, scratch
from saas.db import TenantRef, db, session
from saas.modules.customization.meta import record_of
from saas.modules.exports.models import ExportChunk
from saas.modules.records import service
from saas.modules.records.display import Names, plain
from saas.modules.records.export import neutralise
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType

BATCH = 1000
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
NUMERIC = {"integer", "number", "currency", "percent"}
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")


class Stopped(Exception):
    """The export was cancelled while it was being written."""


def columns(otype: ObjectType, names: list[str] | None = None) -> list[Field]:
    """The fields to export: every one (custom ones too), or those named, in that order."""
    fields = list(otype.fields)
    if names is None:
        return fields
    by_name = {f.name: f for f in fields}
    return [by_name[n] for n in names if n in by_name]


def typed(f: Field, record, names: Names, zone: ZoneInfo):
    """A cell's value for XLSX: a number, date or checkbox as itself, text neutralised."""
    value = getattr(record, f.name, None)
    if value is None or value == "" or value == []:
        return None
    if f.options is None:
        if f.type == "bool":
            return bool(value)
        if f.type in NUMERIC:
            return value
        if f.type == "datetime" and isinstance(value, datetime):
            return value.astimezone(zone).replace(tzinfo=None)  # Excel has no time zones
        if f.type == "date":
            return value
    return neutralise(plain(f, record, names))


class CsvFile:
    def __init__(self, out: BinaryIO, title: str):
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self.text.write("\ufeff")
        self.writer = csv.writer(self.text)

    def header(self, labels: list[str]) -> None:
        self.writer.writerow(labels)

    def rows(self, fields, records, names: Names, zone: ZoneInfo) -> None:
        self.writer.writerows(
            [r.id, *(neutralise(plain(f, r, names)) for f in fields)] for r in records
        )

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the caller owns the file

    def cleanup(self) -> None:
        pass  # no files of its own


class XlsxFile:
    """Written a row at a time (XlsxWriter's ``constant_memory``: a row goes to a
    temporary file as soon as the next one starts); text always as a string cell."""

    OPTIONS = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }

    def __init__(self, out: BinaryIO, title: str):
        # Its temporary files, removed when the file is written, cancelled or fails (or,
        # if the process is killed, by the next one: see saas.scratch).
        self.tmp = tempfile.TemporaryDirectory(prefix="export-", dir=scratch.directory())
        self.book = xlsxwriter.Workbook(out, self.OPTIONS | {"tmpdir": self.tmp.name})
        self.sheet = self.book.add_worksheet(_SHEET_UNSAFE.sub(" ", title)[:31] or "Export")
        self.day = self.book.add_format({"num_format": "yyyy-mm-dd"})
        self.moment = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.row = 0

    def _append(self, values) -> None:
        sheet, row = self.sheet, self.row
        for col, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str):
                # Characters XML cannot hold (control characters) are left out.
                sheet.write_string(row, col, ILLEGAL_CHARACTERS_RE.sub("", value))
            elif isinstance(value, bool):
                sheet.write_boolean(row, col, value)
            elif isinstance(value, datetime):
                sheet.write_datetime(row, col, value, self.moment)
            elif isinstance(value, date):
                sheet.write_datetime(row, col, value, self.day)
            else:
                sheet.write_number(row, col, value)
        self.row += 1

    def header(self, labels: list[str]) -> None:
        self._append(labels)

    def rows(self, fields, records, names: Names, zone: ZoneInfo) -> None:
        for r in records:
            self._append([r.id, *(typed(f, r, names, zone) for f in fields)])

    def close(self) -> None:
        self.book.close()

    def cleanup(self) -> None:
        self.tmp.cleanup()


WRITERS = {"csv": CsvFile, "xlsx": XlsxFile}


def count(otype: ObjectType, stmt) -> int:
    counted = stmt.order_by(None).with_only_columns(otype.model.id).subquery()
    return session().execute(select(func.count()).select_from(counted)).scalar_one()


def write(
    otype: ObjectType,
    stmt,
    fields: list[Field],
    fmt: str,
    out: BinaryIO,
    zone: ZoneInfo,
    progress: Callable[[int], bool] | None = None,
) -> int:
    """Write the records of ``stmt`` to ``out``; returns how many. ``progress(rows done)``
    is called after each batch and stops the export (:class:`Stopped`) by returning False."""
    writer = WRITERS[fmt](out, str(otype.plural))
    try:
        writer.header(["id", *(str(f.label) for f in fields)])
        done, names = 0, None
        # Custom values come in the same query; names read once serve later batches.
        stmt, custom = service.with_custom(otype, stmt)
        result = session().execute(stmt.execution_options(yield_per=BATCH))
        for rows in result.partitions(BATCH):
            batch = [record_of(row, custom) for row in rows]
            names = Names(otype, batch, fields, earlier=names)
            writer.rows(fields, batch, names, zone)
            done += len(batch)
            if progress is not None and progress(done) is False:
                raise Stopped
        writer.close()
    finally:
        writer.cleanup()
    return done


def store(export_id: int, source: BinaryIO) -> int:
    """Keep the file ``source`` as the export's chunks (replacing any); returns its size."""
    source.seek(0)
    return chunks.store(ExportChunk, "export_id", export_id, source)


def drop(*export_ids: int) -> None:
    chunks.drop(ExportChunk, "export_id", *export_ids)


def stream(tenant: TenantRef, export_id: int) -> Iterator[bytes]:
    """The file, a chunk at a time. A response is streamed after the request's unit of
    work has ended, so the chunks are read in a unit of work of their own."""
    with db.scope(tenant):
        yield from chunks.read(ExportChunk, "export_id", export_id)
