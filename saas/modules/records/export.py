"""Cells of an exported file that a spreadsheet must not run.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (CSV injection). Such cells get a leading
apostrophe, which spreadsheets show as text and do not run. The files themselves
are written by ``saas.modules.exports`` on a worker.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """A cell value a spreadsheet will not evaluate."""
    if value and value.startswith(FORMULA_START):
        return "'" + value
    return value
