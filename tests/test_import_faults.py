"""A real worker process killed with SIGKILL in the middle of an import: the import is
put back on the queue and completes exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from saas.db import current_tenant, db, session
from saas.modules.customers.models import Contact
from saas.modules.imports.models import Import, ImportRow
from tests.conftest import signup
from tests.factories import tenant_ref
from tests.test_imports import age_heartbeats, attempts, csv_bytes, start, upload

ROWS = 3000


def _state(slug, import_id) -> tuple[str, int, int | None]:
    with db.scope(tenant_ref(slug)):
        imp = session().get(Import, import_id)
        return imp.status, imp.done, imp.total


def _worker(services, *options: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        SAAS_ENV="test",
        SECRET_KEY="test-secret-key",
        DATABASE_URL=services["DATABASE_URL"],
        REDIS_URL=services["REDIS_URL"],
        IMPORT_BATCH_ROWS="50",
        IMPORT_PAUSE_MS="20",  # slow enough to be caught halfway
    )
    saas = Path(sys.executable).with_name("saas")
    return subprocess.Popen(
        [str(saas), "worker", "bulk", *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _children(worker: subprocess.Popen) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def _kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its work horse (RQ starts the horse in a process group of
    its own, so it is found as the worker's child, not in the worker's group)."""
    for pid in [*_children(worker), worker.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait()


def test_a_worker_killed_mid_import_loses_and_duplicates_nothing(client, services, app):
    from saas import scratch
    from saas.tracked import reconcile

    slug, _ = signup(client)
    rows = [["Last name", "E-mail"]] + [[f"P{i}", f"p{i}@example.com"] for i in range(ROWS)]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "email"], mode="upsert", dedupe="email")

    worker = _worker(services)
    try:
        deadline = time.monotonic() + 120
        while _state(slug, import_id)[1] < 500:
            assert worker.poll() is None, "the worker stopped on its own"
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.05)
        # The work horse gives way to web requests on the same machine: it runs in the
        # idle scheduling class, the worker itself (which answers RQ) does not.
        [horse] = [p for p in _children(worker) if os.getpgid(p) == p]  # its own group
        assert os.sched_getscheduler(horse) == os.SCHED_IDLE
        assert os.sched_getscheduler(worker.pid) == os.SCHED_OTHER
    finally:
        _kill(worker)
    status, done, total = _state(slug, import_id)
    assert status == "running" and 500 <= done < total == ROWS  # killed halfway
    time.sleep(0.5)  # nothing of the killed run goes on writing
    assert _state(slug, import_id)[1] == done
    # The killed run's copy of the upload is still on the disk, in its scratch directory.
    with db.scope(tenant_ref(slug)):
        pattern = f"*/import-{current_tenant().schema_name}-{import_id}-*"
    [left] = scratch.base().glob(pattern)
    long_ago = time.time() - 120
    os.utime(left.parent, (long_ago, long_ago))

    with app.app_context():
        age_heartbeats(slug)  # three minutes without a batch: stalled
        reconcile()
        assert attempts(slug) == [1]
    finisher = _worker(services, "--burst")  # another worker process takes it over
    try:
        assert finisher.wait(timeout=120) == 0
    finally:
        _kill(finisher)  # only if it is still there
    assert not left.parent.exists()  # the new work horse removed what the killed one left

    with db.scope(tenant_ref(slug)):
        imp = session().get(Import, import_id)
        assert (imp.status, imp.done, imp.created, imp.updated, imp.failed) == (
            "done",
            ROWS,
            ROWS,
            0,
            0,
        )
        emails = session().execute(select(Contact.email)).scalars().all()
        logged = (
            session().execute(select(func.count()).where(ImportRow.import_id == import_id)).scalar()
        )
    assert len(emails) == len(set(emails)) == ROWS
    assert logged == ROWS
    assert attempts(slug) == []
