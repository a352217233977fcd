"""A new company's first import, next to PostgreSQL's own COPY of the same file.

The company has just signed up: no contacts yet, the five custom contact fields of
bench/import.py added. The file is bench/import.py's contacts CSV (15 columns),
1,000,000 rows (``--rows``), every e-mail new.

- ``rows_per_s``: the import, mapped by the automatic header match, mode upsert with
  the e-mail as key (what a company that may import the same people again chooses),
  run by a real worker process (``saas worker bulk --burst``), from the job's start to
  its commit of the last batch.
- ``copy_rows_per_s`` (baseline, same run): ``COPY … FROM STDIN (FORMAT csv)`` of the
  same file, through psycopg, from a process of its own, into ``CREATE TABLE … (LIKE
  contacts INCLUDING ALL)``: an empty table with the same columns and indexes.
  ``ratio`` = rows_per_s / copy_rows_per_s.

Each batch of the import looks its e-mails up among the contacts written so far, in a
table whose planner statistics still say it is empty: this figure is about that case.

    .venv/bin/python bench/first_import.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
from harness.contacts import (  # noqa: E402
    add_custom_fields,
    copy_baseline,
    finished,
    run_worker,
    start_import,
    write_csv,
)
from pages import make_tenant  # noqa: E402


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--rows", type=harness.positive_int, default=1_000_000)
    args = cli.parse_args()
    rows = args.rows
    started = perf_counter()
    with harness.services("first_import") as svc:
        app = harness.create_app(svc)
        with app.app_context():
            slug, schema, owners = make_tenant()
            columns = add_custom_fields(slug)
        path = svc.workdir / "contacts.csv"
        write_csv(path, rows, [])
        copy_s, _cpu = copy_baseline(svc.database_url, schema, path, columns)
        print(f"  COPY baseline     {copy_s:>8.1f} s  {rows / copy_s:>10,.0f} rows/s", flush=True)
        with app.app_context():
            import_id = start_import(slug, path, owners[0], columns)
        run_worker(svc)
        with app.app_context():
            seconds, counts = finished(slug, import_id, rows)
        print(f"  import            {seconds:>8.1f} s  {rows / seconds:>10,.0f} rows/s  {counts}")
    harness.emit(
        {
            "rows": rows,
            "rows_per_s": round(rows / seconds),
            "copy_rows_per_s": round(rows / copy_s),
            "ratio": round(copy_s / seconds, 3),
            "import_s": round(seconds, 1),
            "copy_s": round(copy_s, 1),
            **counts,
            "total_s": round(perf_counter() - started, 1),
        }
    )


if __name__ == "__main__":
    main()
