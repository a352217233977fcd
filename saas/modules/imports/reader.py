"""An uploaded import file, CSV or XLSX, read as column names and rows of strings.

``sniff`` judges the file by its content (the name only shapes messages); ``open_table``
reads the header; ``Table.rows`` streams the rows and ``Table.count`` counts them.
Anything that makes the whole file unusable is a ``FileError`` whose text tells the
user what to do; a row that is broken by itself carries a ``problem`` instead, and
reading goes on with the next row.

Decisions the import relies on:

- Blank rows (every cell empty once trimmed) are skipped and not numbered, so
  ``Row.number`` counts the rows an import handles: ``rows(start=n)`` resumes after
  row n, and ``count()`` is the last number. ``Row.line`` is where the row starts
  in the file (the CSV line, the worksheet row), for messages.
- Column names but no rows: a FileError from ``open_table``.
- An empty column name becomes "Column 3" (its position). It is not translated: the
  upload and the worker may run in different languages and must agree on it. Empty
  names at the end of the header are dropped (a row formatted further than filled);
  values under them make the row's problem.
- The same column name twice (ignoring case): a FileError naming them.
- Bytes the encoding cannot decode: a FileError naming the line, so nothing is
  imported half-garbled; ``count()`` reads the whole file, so it comes before any row.
- A quote that is never closed: a FileError naming the line where it opens.
- A row with more values than there are columns, a value over ``max_field``
  characters (cut to that length in ``cells``), a NUL character, or a quoted value
  that swallowed lines looking like rows of their own: ``Row.problem``.
- Every line break (CRLF, LF, CR) reads as LF, inside quoted values too.
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _

from saas.modules.imports import encodings

MAX_COLUMNS = 1000
MAX_NAME = 1000  # characters in a column name
HEAD = 64 * 1024  # bytes looked at for the format, binary content and the delimiter
DELIMITERS = ",;\t|"
# XLSX: parts this large are refused before openpyxl inflates them (zip bombs); a
# workbook this big is better imported as CSV, which is also much faster to read.
XLSX_MAX_PART = 2 * 1024**3
XLSX_MAX_STRINGS = 256 * 1024**2  # openpyxl keeps every shared string in memory
XLSX_MAX_RATIO = 200  # real sheets deflate 5-30 times, bombs a thousand times,
XLSX_RATIO_FROM = 50 * 1024**2  # which matters once a part is this large

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls/.doc, and password-protected .xlsx
_IMAGES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_ARCHIVES = (b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"BZh")
_MARKUP = (b"<?xml", b"<!doctype html", b"<html", b"<table")
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13, 26))
_SEP_LINE = re.compile(r"sep=(.)", re.IGNORECASE)  # Excel's hint line: "sep=;"
_DIALECT = {"quotechar": '"', "doublequote": True, "skipinitialspace": True, "strict": False}


class FileError(Exception):
    """A file that cannot be imported; str(exc) is a sentence telling the user what to fix."""


@dataclass(frozen=True)
class Sniffed:
    format: str  # "csv" or "xlsx"
    encoding: str | None  # the codec of a CSV file
    delimiter: str | None  # of a CSV file


@dataclass(slots=True)
class Row:
    number: int  # 1 = the first row after the header; blank rows are not numbered
    cells: list[str]  # one per column, trimmed
    problem: str | None = None  # why the row cannot be imported as it is
    line: int = 0  # where the row starts: CSV line or worksheet row


class Table:
    header: list[str]

    def rows(self, start: int = 0) -> Iterator[Row]:
        """The rows after the header; the first ``start`` are only counted (a resume).
        Opens the file at once, so a FileError may come from this call too."""
        walk = self._walk(start)
        next(walk)  # the header
        return walk

    def count(self) -> int:
        """How many rows ``rows()`` yields (reads the whole file)."""
        walk = self._walk(math.inf)
        next(walk)
        try:
            while True:
                next(walk)
        except StopIteration as stop:
            return stop.value

    def estimate(self) -> int:
        """At least as many rows as ``rows()`` yields, found faster than :meth:`count`
        where the format allows (the progress bar's total until the run ends)."""
        return self.count()

    def close(self) -> None:
        """Let go of the file (XLSX keeps it open between ``rows`` and ``count``)."""

    def _walk(self, start: float):
        """Yields the raw header cells, then the rows numbered above ``start``; returns
        the number of the last row."""
        raise NotImplementedError


# -- sniffing -----------------------------------------------------------------------------


def sniff(path: Path, filename: str, *, encoding: str | None = None) -> Sniffed:
    """The file's format, and for CSV its encoding (``encoding`` overrides the guess)
    and delimiter; a FileError for anything that is neither CSV nor XLSX."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise FileError(_("The file is empty. Choose a CSV or Excel file with a header row."))
    with open(path, "rb") as f:
        head = f.read(HEAD)
        if _refuse(head, filename) == "zip":
            _check_zip(path, filename)
            return Sniffed("xlsx", None, None)
        marked = encodings.from_bom(head)
        if encoding and not (marked and encodings.is_wide(marked)):  # UTF-16/32 marks are sure
            codec = encodings.canonical(encoding)
            if codec is None:
                raise FileError(_("“%(name)s” is not an encoding we know.", name=encoding))
            if codec == "utf-8" and head.startswith(b"\xef\xbb\xbf"):
                codec = "utf-8-sig"  # the mark is not part of the first column's name
            if codec in {"utf-16", "utf-32"}:  # without its mark Python will not read it
                codec = encodings.utf16_without_bom(head) or f"{codec}-le"
        else:
            codec = marked or encodings.utf16_without_bom(head)
            if codec is None:
                codec = encodings.detect(f) if b"\x00" not in head else "utf-8"
        if not encodings.is_wide(codec):
            _refuse_binary(head)
        bad = encodings.first_bad_line(f, codec, limit=encodings.SAMPLE)
    if bad is not None:
        raise _undecodable(bad, codec)
    text = encodings.decoder(codec, "replace").decode(head, final=False)
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise FileError(_("The file has only blank lines. Choose a file with a header row."))
    return Sniffed("csv", codec, _delimiter(text, cut=len(head) == HEAD))


def _refuse(head: bytes, filename: str) -> str:
    """FileError for a kind of file we cannot read; "zip" or "text" otherwise."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    ext = Path(filename or "").suffix.lower()
    if head.startswith(_OLE):
        raise FileError(
            _(
                "This is an old Excel file (.xls) or a password-protected one. Open it in "
                "Excel, save it as .xlsx (without a password) or as CSV, and upload that."
            )
        )
    if head.startswith(b"%PDF"):
        raise FileError(_("This is a PDF, not a spreadsheet. Upload a CSV or .xlsx file."))
    if head.startswith(_IMAGES) or head[8:12] in (b"WEBP", b"ftyp") or head[4:8] == b"ftyp":
        raise FileError(_("This is an image, not a spreadsheet. Upload a CSV or .xlsx file."))
    if head.startswith(_ARCHIVES):
        raise FileError(
            _("This is a compressed archive. Unpack it and upload the CSV or .xlsx inside.")
        )
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:20].lower()
    if start.startswith(_MARKUP) or (ext in {".xls", ".xlsx"} and start.startswith(b"<")):
        raise FileError(
            _(
                "This file is a web page or XML with a spreadsheet's name. Open it in Excel "
                "and save it as .xlsx or CSV, then upload that."
            )
        )
    return "text"


def _refuse_binary(head: bytes) -> None:
    controls = len(head) - len(head.translate(None, _CONTROL))
    if b"\x00" in head or controls > len(head) // 100:
        raise FileError(
            _(
                "This file is not a CSV or Excel file (it holds binary data). Upload a CSV or .xlsx file."
            )
        )


def _check_zip(path: Path, filename: str) -> None:
    """FileError unless the zip is an XLSX workbook openpyxl can open without inflating
    absurd amounts of data."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, EOFError):
        raise FileError(_damaged()) from None
    if "xl/workbook.xml" not in names:
        if "Index/Document.iwa" in names or Path(filename or "").suffix.lower() == ".numbers":
            raise FileError(
                _(
                    "This is an Apple Numbers file. In Numbers choose File › Export To › "
                    "CSV or Excel, and upload that file."
                )
            )
        if b"opendocument.spreadsheet" in mimetype:
            raise FileError(
                _(
                    "This is an OpenDocument spreadsheet (.ods). Save it as .xlsx or CSV and upload that."
                )
            )
        raise FileError(
            _("This is a ZIP archive, not an Excel workbook. Upload a CSV or .xlsx file.")
        )
    for info in infos:
        big = info.file_size > XLSX_MAX_PART or (
            info.file_size > XLSX_RATIO_FROM
            and info.file_size > XLSX_MAX_RATIO * max(info.compress_size, 1)
        )
        if big or (info.filename == "xl/sharedStrings.xml" and info.file_size > XLSX_MAX_STRINGS):
            raise FileError(
                _(
                    "This workbook is too large to read as .xlsx (it unpacks to %(mb)s MB). "
                    "Save it as CSV and upload that: CSV files of any size import quickly.",
                    mb=info.file_size // 1024**2,
                )
            )


def _damaged() -> str:
    return _(
        "This .xlsx file is damaged. Open it in Excel, save it again (or as CSV) and upload that."
    )


def _undecodable(line: int, codec: str) -> FileError:
    return FileError(
        _(
            "Line %(line)d cannot be read as %(encoding)s. Choose the file's encoding in the "
            "list (Chinese Excel files are usually GB18030, Western ones Windows-1252).",
            line=line,
            encoding=encodings.label(codec),
        )
    )


def _delimiter(text: str, *, cut: bool) -> str:
    """The candidate that splits the first lines into as many columns as the header
    (at least two), most consistently; "," when none does. Parsing with each candidate
    keeps quoted delimiters out of the count, which csv.Sniffer's character statistics
    do not."""
    lines = text.split("\n")[:200]
    if cut and len(lines) > 1:
        lines.pop()  # may stop mid-line
    first = next((line.strip() for line in lines if line.strip()), "")
    hint = _SEP_LINE.fullmatch(first)
    if hint and hint.group(1) in DELIMITERS:
        return hint.group(1)
    best, best_score = ",", 0.0
    for d in DELIMITERS:
        records = [r for r in csv.reader(lines, delimiter=d, **_DIALECT) if any(map(str.strip, r))]
        if not records or len(records[0]) < 2:
            continue
        width, data = len(records[0]), records[1:]
        score = sum(len(r) == width for r in data) / len(data) if data else 0.5
        if score > best_score:
            best, best_score = d, score
    return best


# -- tables -------------------------------------------------------------------------------


def open_table(path: Path, sniffed: Sniffed, *, max_field: int = 131072) -> Table:
    """The file's table: its header read and checked, and at least one row found."""
    from saas.modules.imports.csvfile import CsvTable
    from saas.modules.imports.xlsxfile import XlsxTable

    table = (XlsxTable if sniffed.format == "xlsx" else CsvTable)(Path(path), sniffed, max_field)
    try:
        walk = table._walk(0)
        raw = next(walk, None)
        if raw is None:
            raise FileError(_("The file has only blank lines. Choose a file with a header row."))
        table.header = _names(raw)
        if next(walk, None) is None:
            raise FileError(_("The file has column names but no rows."))
        walk.close()
    except BaseException:
        table.close()
        raise
    return table


def _trimmed(header: list[str]) -> list[str]:
    """Without the empty cells at the end: spreadsheets leave them where a row was
    formatted further than it was filled. Values under them make a row's problem."""
    while not header[-1]:
        header.pop()
    return header


def _names(raw: list[str]) -> list[str]:
    raw = [name.replace("\x00", "") for name in raw]
    if len(raw) > MAX_COLUMNS:
        raise FileError(
            _(
                "The file has %(n)d columns; an import takes at most %(max)d.",
                n=len(raw),
                max=MAX_COLUMNS,
            )
        )
    long = next((i for i, name in enumerate(raw, 1) if len(name) > MAX_NAME), None)
    if long is not None:
        raise FileError(
            _(
                "The name of column %(n)d has more than %(max)d characters: the first row "
                "must hold the column names.",
                n=long,
                max=MAX_NAME,
            )
        )
    names = [name or f"Column {i}" for i, name in enumerate(raw, 1)]
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, 1):
        seen.setdefault(name.casefold(), []).append(i)
    twice = [(names[at[0] - 1], at) for at in seen.values() if len(at) > 1]
    if twice:
        listed = ", ".join(
            _("“%(name)s” (columns %(at)s)", name=n, at=", ".join(map(str, at))) for n, at in twice
        )
        raise FileError(
            _(
                "Column names must differ, and these are used more than once: %(names)s. "
                "Rename them and upload the file again.",
                names=listed,
            )
        )
    return names


def _fit(cells: list[str], width: int, max_field: int, header: list[str] | None):
    """Cells padded or cut to ``width``, and the row's problem, if any."""
    problem = None
    if "\x00" in "".join(cells):  # PostgreSQL cannot store it, even in an error report
        cells = [c.replace("\x00", "") for c in cells]
        problem = _("The row contains a NUL character (a zero byte): the file may be damaged.")
    if len(cells) > width:
        used = max(i for i, c in enumerate(cells, 1) if c) if any(cells) else 0
        if used > width and problem is None:
            problem = _(
                "The row has %(n)d values but the file has %(width)d columns: check for "
                "an extra delimiter or a missing quote.",
                n=used,
                width=width,
            )
        cells = cells[:width]
    elif len(cells) < width:
        cells = cells + [""] * (width - len(cells))
    for i, value in enumerate(cells):
        if len(value) > max_field:
            cells[i] = value[:max_field]
            if problem is None:
                name = header[i] if header else str(i + 1)
                problem = _(
                    "The value in column “%(name)s” has %(n)d characters; at most %(max)d "
                    "can be imported.",
                    name=name,
                    n=len(value),
                    max=max_field,
                )
    return cells, problem
