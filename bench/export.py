"""Exporting a company's contacts to CSV and to Excel, next to PostgreSQL's own COPY TO.

Setup (untimed): a company gets 200,000 contacts (``--rows``; bench/pages.py's loader)
and the five custom contact fields of bench/import.py, filled in for every contact.

- ``csv_rows_per_s`` / ``xlsx_rows_per_s``: an export of the whole contact list (every
  field, custom ones too) run by a real worker process (``saas worker bulk --burst``),
  from the job's start to the file kept in PostgreSQL for download
  (``started_at`` to ``finished_at`` of the export's row).
- ``copy_rows_per_s`` (baseline, same run): ``COPY (SELECT the same columns …) TO
  STDOUT (FORMAT csv, HEADER)`` of the same contacts into a file, through psycopg, from
  a process of its own. Raw column values: lookups as ids, no names looked up, nothing
  neutralised. ``csv_ratio`` / ``xlsx_ratio`` = each format's rows_per_s /
  copy_rows_per_s.

    .venv/bin/python bench/export.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
import psycopg  # noqa: E402
from harness.contacts import CUSTOM_CONTACT_FIELDS  # noqa: E402
from pages import load, make_tenant  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from saas.db import db  # noqa: E402
from saas.modules.customization import service as customization  # noqa: E402
from saas.modules.exports import service as exports  # noqa: E402
from saas.modules.exports.files import columns  # noqa: E402
from saas.modules.exports.models import Export  # noqa: E402
from saas.modules.records.registry import get  # noqa: E402


def fill_custom(url: str, schema: str, names: dict[str, str], tiers: list[str]) -> None:
    """Every contact gets a value in each custom field."""
    c = {label: f'"{name}"' for label, name in names.items()}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f'UPDATE "{schema}".contacts SET'
            f" {c['Customer number']} = 'C-' || lpad(id::text, 8, '0'),"
            f" {c['Credit limit']} = (id * 7919 %% 10000000) / 100.0,"
            f" {c['Renewal date']} = date '2027-01-01' + (id %% 365)::int,"
            f" {c['Tier']} = (%s::text[])[1 + id %% 3],"
            f" {c['Newsletter']} = id %% 2 = 0",
            (tiers,),
        )
        conn.execute(f'VACUUM ANALYZE "{schema}".contacts')


def baseline(url: str, statement: str, path: Path) -> float:
    """Seconds for ``statement`` (a COPY … TO STDOUT) into ``path``, in a process of its own."""
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_copy_out, args=(url, statement, path, send)
    )
    child.start()
    seconds = receive.recv()
    child.join()
    return seconds


def _copy_out(url: str, statement: str, path: Path, out) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur, path.open("wb") as fh:
        start = perf_counter()
        with cur.copy(statement) as copy:
            for data in copy:
                fh.write(data)
        out.send(perf_counter() - start)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--rows", type=harness.positive_int, default=200_000)
    args = cli.parse_args()
    started = perf_counter()
    with harness.services("export") as svc:
        app = harness.create_app(svc)
        with app.app_context():
            slug, schema, owners = make_tenant()
        print(f"loading {args.rows:,} contacts", flush=True)
        load(
            svc.database_url, schema, {"contacts": args.rows, "accounts": 1000, "deals": 20}, owners
        )
        with app.app_context():
            ref = harness.tenant_ref(slug)
            with db.scope(ref):
                for form in CUSTOM_CONTACT_FIELDS:
                    customization.add_field(get("contact"), dict(form))
            with db.scope(ref):
                otype = get("contact")
                names = {str(f.label): f.name for f in otype.fields}
                tier = otype.field(names["Tier"])
                fields = [otype.column(f.name).name for f in columns(otype)]
                fill_custom(svc.database_url, schema, names, [key for key, _label in tier.choices])

        with psycopg.connect(svc.database_url) as conn:
            live = conn.execute(
                f'SELECT count(*) FROM "{schema}".contacts WHERE deleted_at IS NULL'
            ).fetchone()[0]  # the loader puts some in the recycle bin
        listed = ", ".join(f'"{name}"' for name in ["id", *fields])
        statement = (
            f'COPY (SELECT {listed} FROM "{schema}".contacts WHERE deleted_at IS NULL'
            " ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"
        )
        copy_s = baseline(svc.database_url, statement, svc.workdir / "copy.csv")
        print(f"  COPY TO           {copy_s:>8.1f} s  {live / copy_s:>10,.0f} rows/s")

        result: dict = {"rows": live, "copy_rows_per_s": round(live / copy_s)}
        for fmt in ("csv", "xlsx"):
            with app.app_context(), db.scope(ref):
                export_id = exports.start(get("contact"), MultiDict(), fmt, owners[0], "en").id
            command, env = harness.worker_command(svc, "bulk")
            if subprocess.run(command, env=env, check=False).returncode != 0:
                raise SystemExit(f"FAILED: the worker exited with an error ({fmt})")
            with app.app_context(), db.scope(ref) as s:
                export = s.get(Export, export_id)
                if export.status != "finished" or export.done != live:
                    raise SystemExit(
                        f"FAILED: the {fmt} export is {export.status} ({export.done} rows): {export.error}"
                    )
                seconds = (export.finished_at - export.started_at).total_seconds()
                size = export.size
            rps = live / seconds
            print(
                f"  export {fmt:<5}      {seconds:>8.1f} s  {rps:>10,.0f} rows/s  {size / 1e6:.0f} MB"
            )
            result |= {
                f"{fmt}_rows_per_s": round(rps),
                f"{fmt}_ratio": round(rps / (live / copy_s), 3),
                f"{fmt}_s": round(seconds, 1),
                f"{fmt}_mb": round(size / 1e6, 1),
            }
    result["copy_s"] = round(copy_s, 1)
    result["total_s"] = round(perf_counter() - started, 1)
    harness.emit(result)


if __name__ == "__main__":
    main()
