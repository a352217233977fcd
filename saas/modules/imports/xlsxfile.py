"""Reading the first worksheet of an XLSX import file as strings (see ``reader``)."""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from flask_babel import gettext as _

from saas.modules.imports.reader import (
    FileError,
    Row,
    Sniffed,
    Table,
    _check_zip,
    _damaged,
    _fit,
    _trimmed,
)

# A row element of the sheet's XML, with or without a namespace prefix (<row …>, <x:row>).
ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
CHUNK = 1 << 20


class XlsxTable(Table):
    def __init__(self, path: Path, sniffed: Sniffed, max_field: int):
        _check_zip(path, path.name)
        self._path, self._max_field, self.header = path, max_field, []
        self._handle = open(path, "rb")  # noqa: SIM115 (closed by close())
        try:  # a broken workbook fails in many ways inside openpyxl; each means "damaged"
            self._book, self._sheet, self._part = _first_sheet(self._handle)
        except Exception:
            self._handle.close()
            raise FileError(_damaged()) from None
        if self._sheet is None:
            self.close()
            raise FileError(
                _("The workbook has no worksheet. Upload a file with the data on its first sheet.")
            )

    def close(self) -> None:
        self._book.close()
        self._handle.close()

    def estimate(self) -> int:
        """The sheet's row elements less the header's, counted in its XML without parsing
        it (a full read of a large workbook takes minutes); blank rows count too."""
        found, pending = 0, b""
        try:
            with zipfile.ZipFile(self._path) as zf, zf.open(self._part) as part:
                while chunk := part.read(CHUNK):
                    data = pending + chunk
                    cut = len(data) - 64  # a tag starting later is counted with the next chunk
                    found += sum(1 for m in ROW_TAG.finditer(data) if m.start() < cut)
                    pending = data[cut:]
                found += len(ROW_TAG.findall(pending))
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error):
            raise FileError(_damaged()) from None
        return max(found - 1, 1)

    def _walk(self, start: float):
        max_field = self._max_field
        names = self.header or None
        sheet_rows = self._sheet.iter_rows()
        line, header, width, number = 0, None, 0, 0
        try:
            for cells in sheet_rows:
                line += 1
                if header is None:
                    header = [_text(c.value, c) for c in cells]
                    if any(header):
                        header = _trimmed(header)
                        width = len(header)
                        yield header
                    else:
                        header = None
                    continue
                if number < start:
                    if any(
                        c.value is not None and (type(c.value) is not str or c.value.strip())
                        for c in cells
                    ):
                        number += 1
                    continue
                values = [_text(c.value, c) for c in cells]
                if not any(values):
                    continue
                number += 1
                problem = None
                if len(values) != width or any(len(v) > max_field for v in values):
                    values, problem = _fit(values, width, max_field, names)
                yield Row(number, values, problem, line)
        except Exception:  # openpyxl meeting broken XML midway
            raise FileError(_damaged()) from None
        return number


def _first_sheet(handle):
    """openpyxl's read-only workbook, its first worksheet (None if it has none) and the
    worksheet's part in the zip.

    Done with the steps of openpyxl's own loader (pinned version) but for one sheet and
    without measuring it: load_workbook reads every sheet through once to find its size
    when the file does not state it first (files not written by Excel), a whole extra
    pass over the data, and sizes stated are often wrong anyway. A file object, not a
    path: openpyxl refuses paths without an Excel extension, like the import's copies."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class Sheet(ReadOnlyWorksheet):
        def _get_size(self):
            pass  # unknown: rows are read as far as they go

    reader = ExcelReader(handle, read_only=True, keep_vba=False, data_only=True)
    reader.read_manifest()
    reader.read_strings()
    reader.read_workbook()
    apply_stylesheet(reader.archive, reader.wb)
    for sheet, rel in reader.parser.find_sheets():
        if rel.target in reader.valid_files and "chartsheet" not in rel.Type:
            sheet = Sheet(reader.wb, sheet.name, rel.target, reader.shared_strings)
            return reader.wb, sheet, rel.target
    return reader.wb, None, None


def _text(value, cell=None) -> str:
    """A cell as the text a person sees in Excel, in a form the importer parses."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        if cell is not None and "%" in (cell.number_format or ""):
            return _number(value * 100) + "%"  # shown as 25%, and percent fields want 25
        return _number(value)
    if kind is datetime:
        value = (value + timedelta(microseconds=500_000)).replace(microsecond=0)
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if kind is date:
        return value.isoformat()
    if kind is time:
        return value.replace(microsecond=0).isoformat()
    if kind is timedelta:
        seconds = round(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value).strip()


def _number(value: int | float) -> str:
    """Integers without ".0", others with Excel's 15 significant digits, never in
    exponent notation."""
    if type(value) is int:
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.15g}"
    return format(Decimal(text), "f") if "e" in text else text
