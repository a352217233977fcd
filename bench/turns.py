"""How long a small import waits behind another company's big one on a shared worker.

One worker (``saas worker --burst``, every queue, as a one-worker deployment runs it;
``saas dev`` runs a second one for quick jobs) is given company A's import of a 1,000,000-row contacts CSV
(times ``--scale``; first and last name, e-mail, city: all new records). Five
seconds after the worker starts, company B queues an import of two rows.

- ``small_wait_s``: from B's start to B's import finished, with imports taking
  turns (``IMPORT_TURN_SECONDS`` at its default). ``big_s``: A's import, from the
  worker's start to A finished, in the same run.
- Baseline, same run: the same two imports of two new companies with turns off
  (``IMPORT_TURN_SECONDS`` = 1e9): ``small_wait_without_turns_s`` and
  ``big_without_turns_s``.
- ``ratio`` = small_wait_s / small_wait_without_turns_s (lower is better), and
  ``big_cost`` = big_s / big_without_turns_s: what handing over costs the big import.

Both imports must end with every row created once.

    .venv/bin/python bench/turns.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
from pages import PASSWORD  # noqa: E402
from sqlalchemy import select  # noqa: E402

from saas.db import db  # noqa: E402
from saas.modules.accounts.models import User  # noqa: E402
from saas.modules.accounts.passwords import hash_password  # noqa: E402
from saas.modules.imports import service as imports  # noqa: E402
from saas.modules.imports.models import Import  # noqa: E402
from saas.modules.records.registry import get  # noqa: E402
from saas.tenants.models import Tenant  # noqa: E402
from saas.tenants.service import create_tenant  # noqa: E402

SMALL_AFTER = 5.0  # seconds after the worker starts that B queues its import


def write_csv(path: Path, rows: int, domain: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["First name", "Last name", "E-mail", "City"])
        for i in range(rows):
            out.writerow(["Anna", f"Person {i}", f"p{i}@{domain}", ("Berlin", "上海")[i % 2]])


def company(name: str, email: str) -> tuple[str, int]:
    """A new company and its owner: (slug, owner id)."""
    with db.scope() as s:
        user = User(name=name, email=email, password_hash=hash_password(PASSWORD))
        s.add(user)
        s.flush()
        return create_tenant(name, user).slug, user.id


def queue(slug: str, owner: int, path: Path) -> int:
    """Upload ``path`` for ``slug``, map it automatically and start it; the import's id."""
    with db.scope() as s:
        tenant = s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one().ref()
    with db.scope(tenant), path.open("rb") as fh:
        imp = imports.upload(get("contact"), path.name, fh, user_id=owner)
        form = {f"field_{i}": c["field"] for i, c in enumerate(imp.mapping)}
        imports.configure(imp, form | {"mode": "insert", "dedupe": ""})
        imports.start(imp)
        return imp.id


def finished(slug: str, import_id: int, rows: int) -> float:
    """When the import finished (epoch seconds); fails the bench unless it made every row."""
    with db.scope() as s:
        tenant = s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one().ref()
    with db.scope(tenant) as s:
        imp = s.get(Import, import_id)
        if (imp.status, imp.created, imp.done) != ("done", rows, rows):
            raise SystemExit(f"FAILED: {slug}'s import is {imp.status}, {imp.created} of {rows}")
        return imp.finished_at.timestamp()


def race(app, svc, big: Path, rows: int, small: Path, turn: str, label: str) -> dict:
    """A's big import on one worker, B's small one queued SMALL_AFTER seconds later."""
    with app.app_context():
        a_slug, a_owner = company(f"Big {label}", f"big-{label}@turns.example")
        b_slug, b_owner = company(f"Small {label}", f"small-{label}@turns.example")
        a_id = queue(a_slug, a_owner, big)
    command, env = harness.worker_command(svc, IMPORT_TURN_SECONDS=turn)  # every queue
    start = time.time()
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(SMALL_AFTER)
    with app.app_context():
        b_id = queue(b_slug, b_owner, small)
    queued = time.time()
    _, err = worker.communicate()
    if worker.returncode != 0:
        raise SystemExit(f"FAILED: the worker exited with {worker.returncode}: {err[-2000:]}")
    with app.app_context():
        big_end, small_end = finished(a_slug, a_id, rows), finished(b_slug, b_id, 2)
    figures = {"small_wait_s": small_end - queued, "big_s": big_end - start}
    print(
        f"  {label:<14} small import waited {figures['small_wait_s']:6.1f} s,"
        f" big import took {figures['big_s']:6.1f} s",
        flush=True,
    )
    return figures


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--scale", type=float, default=1.0, help="fraction of 1,000,000 rows")
    args = cli.parse_args()
    rows = max(1000, int(1_000_000 * args.scale))
    started = time.perf_counter()
    with harness.services("turns") as svc:
        app = harness.create_app(svc)
        big, small = svc.workdir / "big.csv", svc.workdir / "small.csv"
        write_csv(big, rows, "big.example")
        write_csv(small, 2, "small.example")
        print(f"wrote {rows:,} rows to {big.name}", flush=True)
        turns = race(app, svc, big, rows, small, "", "taking turns")
        alone = race(app, svc, big, rows, small, "1e9", "without turns")
        turn_s = app.config["IMPORT_TURN_SECONDS"]
    result = {
        "rows": rows,
        "turn_s": turn_s,
        "small_wait_s": round(turns["small_wait_s"], 1),
        "small_wait_without_turns_s": round(alone["small_wait_s"], 1),
        "ratio": round(turns["small_wait_s"] / alone["small_wait_s"], 3),
        "big_s": round(turns["big_s"], 1),
        "big_without_turns_s": round(alone["big_s"], 1),
        "big_cost": round(turns["big_s"] / alone["big_s"], 3),
        "total_s": round(time.perf_counter() - started, 1),
    }
    harness.emit(result)


if __name__ == "__main__":
    main()
