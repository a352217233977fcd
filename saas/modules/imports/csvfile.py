"""Reading a CSV import file (see ``reader`` for what the import relies on): lines split
by ``str.split`` when they hold no quote, by ``csv.reader`` otherwise."""

from __future__ import annotations

import csv
import operator
from collections import deque
from collections.abc import Iterator
from itertools import chain, repeat
from pathlib import Path

from flask_babel import gettext as _

from saas.modules.imports import encodings
from saas.modules.imports.reader import (
    _DIALECT,
    _SEP_LINE,
    FileError,
    Row,
    Sniffed,
    Table,
    _fit,
    _trimmed,
    _undecodable,
)

QUOTES_PER_LINE = 2  # from this many on average, csv.reader reads every line


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


class CsvTable(Table):
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
