"""CSV export of a list: the rows the list shows (filters and visibility), every field.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (CSV injection). Such cells get a leading
apostrophe, which spreadsheets show as text and do not run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from saas.db import TenantRef, db, session
from saas.modules.records.display import Names, plain
from saas.modules.records.registry import ObjectType

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def neutralise(value: str) -> str:
    """A cell value a spreadsheet will not evaluate."""
    if value and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def rows(otype: ObjectType, stmt, tenant: TenantRef) -> Iterator[str]:
    """CSV text in chunks: a header line, then one line per record of ``stmt``.

    The response is streamed after the request's unit of work has ended, so the
    rows are read in a unit of work of their own (read only, same tenant).
    """
    with db.scope(tenant):
        fields = list(otype.fields)  # the tenant's fields: custom ones too
        yield "\ufeff" + _line(["id", *(str(f.label) for f in fields)])  # BOM: Excel reads UTF-8
        result = session().execute(stmt.execution_options(yield_per=BATCH)).scalars()
        for batch in result.partitions(BATCH):
            names = Names(otype, batch)
            chunk = io.StringIO()
            writer = csv.writer(chunk)
            for record in batch:
                writer.writerow([record.id, *(neutralise(plain(f, record, names)) for f in fields)])
            yield chunk.getvalue()
