"""Search documents and queries that work for English and Chinese.

PostgreSQL's parser does not split Chinese (no spaces) and a trigram index
cannot serve a two-character pattern. Each record keeps a ``tsvector`` built
here from lexemes we choose: lower-cased words (and the parts of e-mail
addresses and domains) for alphabetic text, and every character and every
overlapping character pair for CJK text. A query matches words by prefix and
Chinese by its pairs, so "晨光" finds "上海晨光贸易" and "acm" finds "Acme".
The vector is made with ``array_to_tsvector`` so no text-search parser or
dictionary touches it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from sqlalchemy import Text, cast, func, literal
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+")
WORD = re.compile(r"[^\W_]+", re.UNICODE)
ASCII_WORD = re.compile(r"[a-z0-9]+")  # WORD in lower-case ASCII text, quicker
MAX_LEXEME = 60
MAX_QUERY_TERMS = 8


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _cjk_grams(run: str) -> list[str]:
    return list(run) + [run[i : i + 2] for i in range(len(run) - 1)]


def lexemes(*values) -> list[str]:
    """The lexemes of a record's searchable values (strings; others are skipped)."""
    return sorted(_lexemes(values))


@lru_cache(maxsize=4096)  # names, cities and titles repeat: worth remembering
def _non_ascii(value: str) -> tuple[tuple[str, ...], str]:
    """The CJK lexemes of a value and the rest of its text, normalised."""
    text = _normal(value)
    grams = tuple(gram for run in CJK.findall(text) for gram in _cjk_grams(run))
    return grams, CJK.sub(" ", text)


def _lexemes(values) -> set[str]:
    ascii_, rests, grams = [], [], []
    for value in values:
        if not value or not isinstance(value, str):
            continue
        if value.isascii():  # most values: no normalisation or CJK to look for
            ascii_.append(value)
            continue
        cjk, rest = _non_ascii(value)
        grams.extend(cjk)
        rests.append(rest)
    # One pass over all the text: a space never belongs to a word or a token.
    text = " ".join(ascii_).lower()
    if rests:
        text = " ".join([text, *rests])
    out = set(WORD.findall(text) if rests else ASCII_WORD.findall(text))
    out.update(grams)
    if "@" in text or "." in text:
        for token in text.split():
            if "@" in token or "." in token:  # e-mail addresses and domains, whole
                out.add(token.strip(".,;:()<>"))
                out.update(token.split("@"))
        out.discard("")
    if out and max(map(len, out)) > MAX_LEXEME:
        return {lex[:MAX_LEXEME] for lex in out}
    return out


def document(*values):
    """A SQL expression for the ``search`` column of a record with these values."""
    return func.array_to_tsvector(cast(literal(lexemes(*values), ARRAY(Text)), ARRAY(Text)))


def _quote(lexeme: str) -> str:
    return "'" + _escaped(lexeme) + "'"


def query_text(q: str) -> str | None:
    """The ``tsquery`` text for what the user typed, or None if nothing is searchable.

    Alphabetic words match by prefix; CJK runs match all their character pairs
    (a single character matches itself).
    """
    text = _normal(q)
    terms: list[str] = []
    for run in CJK.findall(text):
        grams = [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
        terms.extend(_quote(g) for g in grams)
    for word in WORD.findall(CJK.sub(" ", text)):
        terms.append(_quote(word[:MAX_LEXEME]) + ":*")
    terms = list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]
    return " & ".join(terms) if terms else None


def matches(column, q: str):
    """A WHERE clause: ``column`` matches the query ``q`` (None if ``q`` has no terms)."""
    text = query_text(q)
    if text is None:
        return None
    return column.op("@@")(cast(literal(text), TSQUERY))


def vector_text(values) -> str:
    """The ``tsvector`` input text of the same lexemes as :func:`document` (for COPY)."""
    lexes = _lexemes(values)  # unsorted: PostgreSQL sorts a tsvector itself
    if not lexes:
        return ""
    every = "".join(lexes)
    if "'" in every or "\\" in every:
        lexes = map(_escaped, lexes)
    return "'" + "' '".join(lexes) + "'"


def _escaped(lexeme: str) -> str:
    return lexeme.replace("\\", "\\\\").replace("'", "''")
