"""Text encodings of uploaded CSV files: the choices offered to the user, detection,
and decoding into newline-normalised text.

Detection: a byte-order mark; UTF-16 without one (Excel's "Unicode text" has one,
other tools not always); then the first part of the file that is not plain ASCII
decides. Valid UTF-8 is UTF-8 (text in another encoding is almost never valid UTF-8
by chance); text that is not even valid GB18030 is Western; between GB18030 and
Western, which both decode most byte sequences, charset-normalizer judges which
reading looks like real text. A file that is all ASCII is UTF-8.

Western files are read as Windows-1252, not Latin-1: Excel on Windows writes
Windows-1252, which differs from Latin-1 only in 0x80-0x9F, where it has the euro
sign, curly quotes and dashes and Latin-1 has invisible control characters. The five
bytes Windows-1252 leaves undefined are read as Latin-1 (as browsers do for both
labels), so a Western file never fails to decode.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO

from flask_babel import lazy_gettext as _l

# (codec, label): what the user may choose when the detected encoding is wrong.
ENCODINGS: list[tuple[str, object]] = [
    ("utf-8", _l("Unicode (UTF-8)")),
    ("gb18030", _l("Chinese Simplified (GB18030, GBK: Chinese Excel)")),
    ("big5", _l("Chinese Traditional (Big5)")),
    ("cp1252", _l("Western European (Windows-1252, Latin-1)")),
    ("utf-16", _l("Unicode (UTF-16: Excel “Unicode text”)")),
]

CHUNK = 1024 * 1024
SAMPLE = 1024 * 1024  # bytes of non-ASCII text that decide the encoding

_BOMS = [  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_ESCAPED = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of undecodable bytes


def _latin1_fallback(exc: UnicodeDecodeError) -> tuple[str, int]:
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("saas-latin-1", _latin1_fallback)


# Names read as a superset: what Excel calls GBK may hold GB18030 characters, and
# Latin-1 files come from tools that really write Windows-1252 (as browsers assume).
_SUPERSETS = {"ascii": "utf-8", "gbk": "gb18030", "gb2312": "gb18030", "iso8859-1": "cp1252"}


def canonical(encoding: str) -> str | None:
    """The codec to read a file the user says is in ``encoding`` (any name Python knows:
    ``UTF8`` -> ``utf-8``, ``GBK`` -> ``gb18030``), or None if it is not a text encoding."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    name = info.name.replace("_", "-")
    return _SUPERSETS.get(name, name)


def label(codec: str) -> str:
    """How the encoding is called in messages: its label in ENCODINGS, else its name."""
    codec = "utf-8" if codec == "utf-8-sig" else codec
    return next((str(text) for c, text in ENCODINGS if c == codec), codec.upper())


def is_wide(codec: str) -> bool:
    """UTF-16 and UTF-32: zero bytes are normal there, and bytes are not characters."""
    return codec.startswith(("utf-16", "utf-32"))


def decoder(codec: str, errors: str = "strict"):
    """An incremental decoder; Windows-1252 falls back to Latin-1 for its undefined bytes."""
    if codec == "cp1252":
        errors = "saas-latin-1"
    return codecs.getincrementaldecoder(codec)(errors)


def from_bom(head: bytes) -> str | None:
    return next((codec for mark, codec in _BOMS if head.startswith(mark)), None)


def utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text of mostly ASCII characters has a zero in every other byte."""
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even, odd = head[0 : pairs * 2 : 2].count(0), head[1 : pairs * 2 : 2].count(0)
    if odd > pairs * 0.6 and even < pairs * 0.05:
        return "utf-16-le"
    if even > pairs * 0.6 and odd < pairs * 0.05:
        return "utf-16-be"
    return None


def detect(f: BinaryIO) -> str:
    """The encoding of a file without a byte-order mark (see the module docstring)."""
    f.seek(0)
    chunk = f.read(CHUNK)
    while chunk and chunk.isascii():  # every candidate reads ASCII the same way
        chunk = f.read(CHUNK)
    if not chunk:
        return "utf-8"
    sample = chunk[:SAMPLE]
    if _decodes(sample, "utf-8"):
        return "utf-8"
    if not _decodes(sample, "gb18030"):
        return "cp1252"
    # Chinese text is runs of two-byte characters that read as ideographs; Western
    # text has accented letters between ASCII ones (runs of one byte), which GB18030
    # often decodes too, into nonsense.
    runs = HIGH_RUN.findall(sample)
    single = sum(1 for run in runs if len(run) == 1) / len(runs)
    if single < 0.05 and _ideographs(sample) > 0.9:
        return "gb18030"
    if single > 0.5:
        return "cp1252"
    from charset_normalizer import from_bytes  # only for the rare ambiguous file

    best = from_bytes(sample[: 256 * 1024], cp_isolation=["gb18030", "cp1252"]).best()
    return "gb18030" if best is not None and best.encoding == "gb18030" else "cp1252"


HIGH_RUN = re.compile(rb"[\x80-\xff]+")


def _ideographs(sample: bytes) -> float:
    """The share of CJK characters (and CJK punctuation) among the sample's non-ASCII
    characters when read as GB18030."""
    high = [c for c in sample.decode("gb18030", errors="ignore") if ord(c) > 127]
    if not high:
        return 0.0
    cjk = sum(
        1
        for c in high
        if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
    )
    return cjk / len(high)


def _decodes(sample: bytes, codec: str) -> bool:
    try:  # not final: the sample may end inside a character
        codecs.getincrementaldecoder(codec)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def text_chunks(f: BinaryIO, codec: str, errors: str = "strict") -> Iterator[str]:
    """The file decoded about a megabyte at a time, every line break (CRLF, CR) turned
    into LF, never ending between the CR and LF of one line break."""
    dec = decoder(codec, errors)
    held = ""
    while True:
        raw = f.read(CHUNK)
        text = held + dec.decode(raw, final=not raw)
        held = ""
        if raw and text.endswith("\r"):
            text, held = text[:-1], "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if "\r" in text:  # a file of CR line ends (old Macs), or a stray one
                text = text.replace("\r", "\n")
        if text:
            yield text
        if not raw:
            return


def first_bad_line(f: BinaryIO, codec: str, *, limit: int | None = None) -> int | None:
    """The 1-based line holding the first bytes ``codec`` cannot decode, or None (looking
    at about ``limit`` bytes when given).

    Decoding with surrogateescape turns each undecodable byte into a lone surrogate,
    which strict decoding never produces, so the first one is found exactly."""
    f.seek(0)
    line = 1
    try:
        for text in text_chunks(f, codec, "surrogateescape"):
            found = _ESCAPED.search(text)
            if found:
                return line + text.count("\n", 0, found.start())
            line += text.count("\n")
            if limit is not None and f.tell() >= limit:
                return None
    except UnicodeDecodeError:  # UTF-16/32 ending inside a character: no escape for that
        return line
    return None
