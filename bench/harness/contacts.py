"""The contacts file of the import benchmarks, the company's custom fields it fills, the
import of it run as the app runs it, and loading it with COPY (their baseline)."""

from __future__ import annotations

import csv
import multiprocessing
import random
import subprocess
from pathlib import Path
from time import perf_counter

import psycopg

from harness import Services, tenant_ref, worker_command
from harness.web import cpu_seconds, machine_cpu
from saas.db import db
from saas.modules.customization import service as customization
from saas.modules.imports import service as imports
from saas.modules.imports.models import Import
from saas.modules.records.registry import get

# The custom contact fields of the import and export benchmarks.
CUSTOM_CONTACT_FIELDS = [
    {"label": "Customer number", "type": "text"},
    {"label": "Credit limit", "type": "currency"},
    {"label": "Renewal date", "type": "date"},
    {"label": "Tier", "type": "choice", "choices": "Gold\nSilver\nBronze"},
    {"label": "Newsletter", "type": "bool"},
]
STANDARD = [
    "first_name", "last_name", "email", "phone", "mobile", "title", "city", "country",
    "birthday", "description",
]  # fmt: skip
COUNTS = ("created", "updated", "unchanged", "skipped", "failed")
HEADER = [
    "First name", "Last name", "E-mail", "Phone", "Mobile", "Job title", "City", "Country",
    "Birthday", "Description",
    "Customer number", "Credit limit", "Renewal date", "Tier", "Newsletter",
]  # fmt: skip
FIRST = ["Anna", "Ben", "Carla", "Daniel", "Emma", "Felix", "Grace", "Henry", "伟", "芳", "静"]
LAST = ["Smith", "Müller", "Garcia", "Novak", "Chen", "Okafor", "王", "李", "张", "Rossi"]
TITLES = ["Buyer", "CEO", "Office manager", "采购经理", "", "Engineer"]
PLACES = [("Berlin", "Germany"), ("上海", "China"), ("Austin", "USA"), ("Lyon", "France")]


def add_custom_fields(slug: str) -> list[str]:
    """The company's five custom contact fields; returns the file's columns as contact
    fields (in an app context)."""
    with db.scope(tenant_ref(slug)):
        for form in CUSTOM_CONTACT_FIELDS:
            customization.add_field(get("contact"), dict(form))
    with db.scope(tenant_ref(slug)):
        names = {str(f.label): f.name for f in get("contact").fields}
    return [*STANDARD, *(names[f["label"]] for f in CUSTOM_CONTACT_FIELDS)]


def existing_emails(url: str, schema: str, n: int) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f'SELECT email FROM "{schema}".contacts WHERE deleted_at IS NULL AND email IS NOT NULL'
            " GROUP BY email HAVING count(*) = 1 LIMIT %s",
            (n,),
        ).fetchall()
    return [r[0] for r in rows]


def write_csv(path: Path, rows: int, known: list[str]) -> None:
    """The file: a fifth of its rows carry e-mails of existing contacts."""
    rnd = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(rows):
            city, country = PLACES[i % len(PLACES)]
            email = (
                known[i // 5] if i % 5 == 0 and i // 5 < len(known) else f"new{i}@import.example"
            )
            out.writerow(
                [
                    FIRST[i % len(FIRST)],
                    LAST[(i * 7) % len(LAST)],
                    email,
                    f"+1 555 {i % 10_000_000:07d}",
                    f"+86 138 {i % 10000:04d} {(i * 3) % 10000:04d}" if i % 2 else "",
                    TITLES[i % len(TITLES)],
                    city,
                    country,
                    f"19{60 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}" if i % 3 == 0 else "",
                    "Met at the trade fair" if i % 10 == 0 else "",
                    f"C-{i:08d}",
                    f"{rnd.randint(0, 100000)}.{rnd.randint(0, 99):02d}",
                    f"2027-{1 + i % 12:02d}-15",
                    ("Gold", "Silver", "Bronze", "")[i % 4],
                    ("yes", "no")[i % 2],
                ]
            )


def start_import(slug: str, path: Path, owner: int, columns: list[str]) -> int:
    """Upload the file as ``owner``, check the automatic mapping, start an upsert by
    e-mail; returns the import's id (in an app context)."""
    with db.scope(tenant_ref(slug)), path.open("rb") as fh:
        imp = imports.upload(get("contact"), "contacts.csv", fh, user_id=owner)
        mapped = [c["field"] for c in imp.mapping]
        if mapped != columns:
            raise SystemExit(f"FAILED: automatic mapping {mapped} is not {columns}")
        form = {f"field_{i}": n for i, n in enumerate(mapped)}
        imports.configure(imp, form | {"mode": "upsert", "dedupe": "email"})
        imports.start(imp)
        return imp.id


def run_worker(svc: Services) -> None:
    """A real worker process for the bulk queue, until the queue is empty."""
    command, env = worker_command(svc, "bulk")
    worker = subprocess.run(command, env=env, check=False)
    if worker.returncode != 0:
        raise SystemExit(f"FAILED: the worker exited with {worker.returncode}")


def finished(slug: str, import_id: int, rows: int) -> tuple[float, dict]:
    """The import's seconds from its start to its last commit, and its counts; fails the
    benchmark unless it is done with every row accounted for (in an app context)."""
    with db.scope(tenant_ref(slug)) as s:
        imp = s.get(Import, import_id)
        if imp.status != "done":
            raise SystemExit(f"FAILED: the import is {imp.status}: {imp.error}")
        seconds = (imp.finished_at - imp.run_started_at).total_seconds()
        counts = {k: getattr(imp, k) for k in COUNTS}
    if sum(counts.values()) != rows:
        raise SystemExit(f"FAILED: {counts} do not add up to {rows} rows")
    return seconds, counts


def copy_baseline(
    url: str, schema: str, path: Path, columns: list[str], during=None
) -> tuple[float, float | None]:
    """Seconds for COPY of the file, sent by a process of its own (as the import's worker
    is), into a table like the company's contacts holding the same rows (same columns,
    defaults and indexes), and the machine's CPU seconds meanwhile (while ``during``, a
    load with ``thread`` and ``on``, runs)."""
    s = f'"{schema}"'
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {s}.copy_baseline (LIKE {s}.contacts INCLUDING ALL)")
        conn.execute(f"INSERT INTO {s}.copy_baseline SELECT * FROM {s}.contacts")
        conn.execute(f"VACUUM ANALYZE {s}.copy_baseline")
        names = ", ".join(f'"{c}"' for c in columns)
        statement = f"COPY {s}.copy_baseline ({names}) FROM STDIN WITH (FORMAT csv, HEADER)"
        result = timed_in_child(url, [(statement, path)], during)
        conn.execute(f"DROP TABLE {s}.copy_baseline")
    return result


def timed_in_child(url: str, steps: list, during=None) -> tuple[float, float | None]:
    """Seconds for ``steps`` ([(statement, file to COPY from or None)], one transaction)
    in a process of its own (while ``during``, a load with ``thread`` and ``on``, runs),
    and the machine's CPU seconds meanwhile."""
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_run_steps, args=(url, steps, send))
    if during is not None:
        during.thread.start()
    cpu = machine_cpu()
    child.start()
    seconds = receive.recv()
    cpu_s = cpu_seconds(cpu)
    child.join()
    if during is not None:
        during.on = False
        during.thread.join()
    return seconds, cpu_s


def _run_steps(url: str, steps: list, out) -> None:
    with psycopg.connect(url) as conn:
        start = perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for statement, path in steps:
                if path is None:
                    cur.execute(statement)
                else:
                    copy_from(cur, statement, path)
        out.send(perf_counter() - start)


def copy_from(cur, statement: str, path: Path) -> None:
    with path.open("rb") as fh, cur.copy(statement) as copy:
        while data := fh.read(1 << 20):
            copy.write(data)
