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
import operator
import re
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, repeat
from pathlib import Path

from flask_babel import gettext as _

from saas.modules.imports import encodings

MAX_COLUMNS = 1000
MAX_NAME = 1000  # characters in a column name
HEAD = 64 * 1024  # bytes looked at for the format, binary content and the delimiter
DELIMITERS = ",;\t|"
QUOTES_PER_LINE = 2  # from this many on average, csv.reader reads every line
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
    table = (_XlsxTable if sniffed.format == "xlsx" else _CsvTable)(Path(path), sniffed, max_field)
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


class _Source:
    """The file's lines, a chunk's worth at a time (for chain.from_iterable). Notes the
    lines with a NUL, keeps the last chunks to re-read a record csv refused, says when
    the end was reached, and whether quotes are common (judged on the first chunk)."""

    def __init__(self, f, codec: str, max_line: int):
        self.f, self.codec, self.max_line = f, codec, max_line
        self.damaged: set[int] = set()
        self.recent: deque[tuple[int, list[str]]] = deque(maxlen=4)
        self.done, self.quoted = False, False

    def __iter__(self) -> Iterator[list[str]]:
        carry, base = "", 0
        try:
            for text in encodings.text_chunks(self.f, self.codec):
                if carry:
                    text = carry + text
                lines = text.split("\n")
                carry = lines.pop()
                if len(carry) > self.max_line:
                    raise FileError(
                        _(
                            "Line %(line)d is longer than %(n)d characters: this is not a "
                            "CSV file an import can read.",
                            line=base + len(lines) + 1,
                            n=self.max_line,
                        )
                    )
                if not base:
                    self.quoted = text.count('"') >= QUOTES_PER_LINE * len(lines)
                if "\x00" in text:
                    self.damaged.update(
                        base + i for i, line in enumerate(lines, 1) if "\x00" in line
                    )
                self.recent.append((base + 1, lines))
                base += len(lines)
                yield lines
        except UnicodeDecodeError:
            bad = encodings.first_bad_line(self.f, self.codec) or base + 1
            raise _undecodable(bad, self.codec) from None
        if carry:
            if "\x00" in carry:
                self.damaged.add(base + 1)
            self.recent.append((base + 1, [carry]))
            yield [carry]
        self.done = True

    def between(self, first: int, last: int) -> list[str]:
        """Lines ``first`` to ``last``, as far as they are still kept."""
        out = []
        for base, lines in self.recent:
            out += lines[max(first - base, 0) : max(last - base + 1, 0)]
        return out


class _Feed:
    """What csv.reader reads in the split mode: the line a quoted record starts on,
    then, while csv is inside a quoted value, the following lines, so csv itself finds
    where a record with line breaks ends. Keeps the record's lines."""

    __slots__ = ("rest", "first", "lines", "eof")

    def __init__(self, rest: Iterator[str]):
        self.rest, self.first, self.lines, self.eof = rest, None, [], False

    def begin(self, line: str) -> None:
        self.first, self.lines = line, []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.first
        if line is None:
            line = next(self.rest, None)
            if line is None:
                self.eof = True
                raise StopIteration
        else:
            self.first = None
        self.lines.append(line)
        return line + "\n"  # the line break belongs to a quoted value that spans lines


class _CsvTable(Table):
    """Two ways through the rows, both streaming: when few lines hold a quote, lines
    without one are split with str.split (three times faster than csv.reader) and csv
    reads only the others; when quotes are everywhere, csv.reader reads every line."""

    def __init__(self, path: Path, sniffed: Sniffed, max_field: int):
        self._path, self._codec = path, sniffed.encoding or "utf-8"
        self._delim, self._max_field = sniffed.delimiter or ",", max_field
        self._max_line = 64 * max_field  # a longer line is no CSV row: refuse the file
        self.header = []
        if csv.field_size_limit() < max_field:  # process-wide: only ever raised
            csv.field_size_limit(max_field)

    def _walk(self, start: float):
        with open(self._path, "rb") as f:
            source = _Source(f, self._codec, self._max_line)
            lines = chain.from_iterable(source)
            feed = _Feed(lines)
            reader = csv.reader(feed, delimiter=self._delim, **_DIALECT)
            lineno, header = 0, None
            for line in lines:
                lineno += 1
                if lineno == 1:
                    line = line.lstrip("\ufeff")
                    if _SEP_LINE.fullmatch(line.strip()):
                        continue
                if '"' in line:
                    header, lineno = self._quoted(line, lineno, feed, reader)
                else:
                    header = list(map(str.strip, line.split(self._delim)))
                if header and any(header):
                    break
            else:
                return 0
            header = _trimmed(header)
            yield header
            walk = self._csv_mode if source.quoted else self._split_mode
            return (yield from walk(start, len(header), lineno, lines, source, feed, reader))

    def _split_mode(self, start, width, lineno, lines, source, feed, reader):
        d, max_field, names = self._delim, self._max_field, self.header or None
        strip, damaged = str.strip, source.damaged
        number = 0
        for line in lines:
            lineno += 1
            if '"' not in line:
                if number < start:
                    if line.replace(d, "").strip():
                        number += 1
                    continue
                # Trimming every cell costs no more than finding out whether a line
                # needs it (isprintable and substring searches scan every character).
                cells = list(map(strip, line.split(d)))
                if not any(cells):
                    continue
                number += 1
                if len(cells) == width and len(line) <= max_field and not damaged:
                    yield Row(number, cells, None, lineno)
                else:  # ragged, long, or in a file with NUL characters
                    cells, problem = _fit(cells, width, max_field, names)
                    yield Row(number, cells, problem, lineno)
                continue
            first = lineno
            cells, lineno = self._quoted(line, lineno, feed, reader)
            if cells is None:
                continue
            number += 1
            if number <= start:
                continue
            if len(cells) == width and lineno == first and len(line) <= max_field and not damaged:
                yield Row(number, cells, None, first)
            else:
                yield self._odd(number, cells, width, first, lineno)
        return number

    def _csv_mode(self, start, width, lineno, lines, source, _feed, _reader):
        d, max_field = self._delim, self._max_field
        strip, damaged = str.strip, source.damaged
        check_long = csv.field_size_limit() > max_field  # else csv refuses long values
        reader = csv.reader(map(operator.add, lines, repeat("\n")), delimiter=d, **_DIALECT)
        number, done = 0, lineno  # ``done``: lines read before the record csv reads next
        while True:
            try:
                for cells in reader:
                    first, done = done + 1, lineno + reader.line_num
                    if source.done:  # csv met the end inside a quoted value
                        raise _unclosed(first, "\n".join(source.between(first, done)), d)
                    if number < start:
                        if "".join(cells).strip():
                            number += 1
                        continue
                    cells = list(map(strip, cells))
                    if not any(cells):
                        continue
                    number += 1
                    if (
                        len(cells) == width
                        and done == first
                        and not damaged
                        and not (check_long and max(map(len, cells)) > max_field)
                    ):
                        yield Row(number, cells, None, first)
                    else:
                        yield self._odd(number, cells, width, first, done)
                return number
            except csv.Error:  # csv dropped the rest of the line it was reading
                first, failed = done + 1, lineno + reader.line_num
                cells, done = self._refused(first, source.between(first, failed), lines)
                lineno += done - failed  # lines read behind csv's back
                number += 1
                if number > start:
                    yield self._odd(number, [c.strip() for c in cells], width, first, done)

    def _odd(self, number, cells, width, first, last) -> Row:
        """A row that is ragged, spans lines, has a long value or a NUL."""
        cells, problem = _fit(cells, width, self._max_field, self.header or None)
        if problem is None and last > first and width >= 4:
            problem = _swallowed(cells, self._delim, width, first, last)
        return Row(number, cells, problem, first)

    def _quoted(self, line, lineno, feed, reader):
        """The record starting with ``line`` (which has a quote) read by csv, and the line it
        ends on; None for a blank record."""
        feed.begin(line)
        try:
            cells = next(reader)
            last = lineno + len(feed.lines) - 1
        except csv.Error:  # csv dropped the rest of the line it was reading
            cells, last = self._refused(lineno, feed.lines, feed.rest)
        if feed.eof:
            raise _unclosed(lineno, "\n".join(feed.lines), self._delim)
        cells = list(map(str.strip, cells))
        return (cells if any(cells) else None), last

    def _refused(self, lineno: int, record: list[str], rest: Iterator[str]):
        """A record csv gave up on midway (a value over its field size limit), read in
        Python: its cells (the long value is cut and reported by _fit) and the line it
        ends on, which may be further on when the long value is quoted."""
        d = self._delim
        text = "\n".join(record)
        last = lineno + len(record) - 1
        opened = _parse(text, d)[1]
        while opened is not None:
            more = next(rest, None)
            if more is None:
                raise _unclosed(lineno, text, d)
            last += 1
            if len(text) < self._max_line:
                text += "\n" + more
            if not _still_open(more, d):
                opened = None
        return _parse(text, d)[0], last


def _parse(text: str, d: str) -> tuple[list[str], int | None]:
    """One record read the way csv.reader reads it (doubled quotes, spaces before an
    opening quote skipped, text after a closing quote kept), for the records csv refuses;
    also where a quoted value still open at the end opened (None if none is)."""
    cells, pos, n = [], 0, len(text)
    while True:
        while pos < n and text[pos] == " ":
            pos += 1
        if pos < n and text[pos] == '"':
            opened, pos, parts = pos, pos + 1, []
            while True:
                q = text.find('"', pos)
                if q == -1:
                    parts.append(text[pos:])
                    cells.append("".join(parts))
                    return cells, opened
                parts.append(text[pos:q])
                if text.startswith('"', q + 1):
                    parts.append('"')
                    pos = q + 2
                    continue
                pos = q + 1
                break
            end = text.find(d, pos)
            parts.append(text[pos:] if end == -1 else text[pos:end])
            cells.append("".join(parts))
        else:
            end = text.find(d, pos)
            cells.append(text[pos:] if end == -1 else text[pos:end])
        if end == -1:
            return cells, None
        pos = end + 1


def _still_open(line: str, d: str) -> bool:
    """Whether a quoted value that was open when ``line`` began is open at its end."""
    pos = 0
    while True:
        q = line.find('"', pos)
        if q == -1:
            return True
        if not line.startswith('"', q + 1):
            break
        pos = q + 2
    end = line.find(d, q + 1)
    return end != -1 and _parse(line[end + 1 :], d)[1] is not None


def _unclosed(lineno: int, text: str, d: str) -> FileError:
    opened = _parse(text, d)[1] or 0
    return FileError(
        _(
            'The quote (") that opens a value on line %(line)d is never closed, so the rest '
            "of the file would be read as that one value. Fix the quotes on that line and "
            "upload the file again.",
            line=lineno + text.count("\n", 0, opened),
        )
    )


def _swallowed(cells: list[str], d: str, width: int, first: int, last: int) -> str | None:
    """A quote closed too late makes one value of the rows after it; their lines inside
    the value then split into exactly as many columns as the file has."""
    for value in cells:
        if "\n" in value and sum(line.count(d) == width - 1 for line in value.split("\n")) >= 2:
            return _(
                'This row runs from line %(first)d to line %(last)d because of a quote ("), '
                "and the lines inside look like rows of their own. Check the quotes on line "
                "%(first)d.",
                first=first,
                last=last,
            )
    return None


# -- XLSX -----------------------------------------------------------------------------------


class _XlsxTable(Table):
    def __init__(self, path: Path, sniffed: Sniffed, max_field: int):
        _check_zip(path, path.name)
        self._max_field, self.header = max_field, []
        self._handle = open(path, "rb")  # noqa: SIM115 (closed by close())
        try:  # a broken workbook fails in many ways inside openpyxl; each means "damaged"
            self._book, self._sheet = _first_sheet(self._handle)
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
    """openpyxl's read-only workbook and its first worksheet (None if it has none).

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
            return reader.wb, Sheet(reader.wb, sheet.name, rel.target, reader.shared_strings)
    return reader.wb, None


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
