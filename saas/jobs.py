"""Background jobs on RQ: one way to define them, one way to enqueue them.

* ``@job(queue=..., timeout=..., retries=..., tenant=True)`` declares a job.
* ``enqueue(fn, *args)`` sends it after the current unit of work commits
  (never if it rolls back). Arguments are ids and plain values.
* A tenant job carries its tenant id in the job's metadata; the worker
  re-checks the tenant and runs the function inside that tenant's unit of
  work, where ``db.session()`` is bound to the tenant's schema. A job for a
  suspended or deleted tenant does nothing and logs why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from rq import Queue, Retry, Worker
from rq.job import Job
from sqlalchemy import select

from saas.db import after_commit, current_tenant, db
from saas.extensions import redis

log = logging.getLogger(__name__)

QUEUES = ("default", "imports", "notifications", "webhooks")
# Long bulk work: its work horse gives way (a higher nice value) to web requests and to
# other jobs on the same machine, so other companies' pages stay quick while a million
# rows come in (bench/import.py's neighbour figure).
NICE = {"imports": 10}
BACKOFF = [10, 60, 300, 900, 3600]  # seconds before retry 1, 2, 3, ...


@dataclass(frozen=True)
class JobSpec:
    queue: str
    timeout: int | None
    retries: int
    tenant: bool


def job(
    queue: str = "default", timeout: int | None = None, retries: int = 3, tenant: bool = True
) -> Callable:
    """Declare a background job. ``tenant=False`` marks a platform job."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")

    def decorate(fn: Callable) -> Callable:
        fn.job_spec = JobSpec(queue=queue, timeout=timeout, retries=retries, tenant=tenant)
        return fn

    return decorate


def get_queue(name: str) -> Queue:
    return Queue(name, connection=redis())


def enqueue(
    fn: Callable, *args, delay: timedelta | None = None, job_id: str | None = None, **kwargs
) -> None:
    """Enqueue ``fn`` once the current unit of work commits (at once outside one).

    ``job_id`` names the job in Redis, so that a watcher can tell whether it is still
    there (imports: see ``imports.jobs.reconcile_imports``)."""
    spec: JobSpec = fn.job_spec
    meta = {}
    if spec.tenant:
        tenant = current_tenant()
        if tenant is None:
            raise RuntimeError(f"{fn.__name__} is a tenant job: enqueue it inside a tenant scope")
        meta["tenant_id"] = tenant.id
    options = {
        "meta": meta,
        "job_id": job_id,
        "job_timeout": spec.timeout or current_app.config["JOB_TIMEOUT"],
        "retry": Retry(max=spec.retries, interval=BACKOFF[: spec.retries])
        if spec.retries
        else None,
    }

    def send() -> None:
        queue = get_queue(spec.queue)
        if delay is None:
            queue.enqueue(fn, args=args, kwargs=kwargs, **options)
        else:
            queue.enqueue_in(delay, fn, args=args, kwargs=kwargs, **options)

    try:
        after_commit(send)
    except RuntimeError:  # no unit of work (CLI, scheduler): nothing to wait for
        send()


class TenantJob(Job):
    """Runs every job inside a unit of work, bound to the job's tenant if it has one."""

    def perform(self):
        with self._unit_of_work() as skip_reason:
            if skip_reason:
                log.warning("job %s (%s) did nothing: %s", self.id, self.func_name, skip_reason)
                return {"skipped": skip_reason}
            return super().perform()

    @contextmanager
    def _unit_of_work(self):
        from saas.tenants.models import Tenant

        tenant_id = (self.meta or {}).get("tenant_id")
        if tenant_id is None:
            with db.scope():
                yield None
            return
        with db.scope() as session:
            tenant = session.execute(
                select(Tenant).where(Tenant.id == tenant_id)
            ).scalar_one_or_none()
        if tenant is None:
            yield f"tenant {tenant_id} does not exist"
        elif tenant.status != "active":
            yield f"tenant {tenant.slug} is {tenant.status}"
        else:
            with db.scope(tenant.ref()):
                yield None


class TenantWorker(Worker):
    job_class = TenantJob

    def main_work_horse(self, job, queue):
        # The forked horse must not reuse the parent's pooled sockets.
        db.dispose(close=False)
        if NICE.get(queue.name):
            os.nice(NICE[queue.name])
        super().main_work_horse(job, queue)


def make_worker(
    queues: list[str] | None = None, worker_class: type[Worker] = TenantWorker
) -> Worker:
    names = queues or list(QUEUES)
    return worker_class([get_queue(n) for n in names], connection=redis(), job_class=TenantJob)


def enqueue_for_every_tenant(fn: Callable, *args) -> int:
    """From a platform job: enqueue the tenant job ``fn`` once for each active tenant."""
    from saas.tenants.models import Tenant

    with db.scope() as session:
        tenants = [
            t.ref()
            for t in session.execute(select(Tenant).where(Tenant.status == "active")).scalars()
        ]
    for tenant in tenants:
        with db.scope(tenant):
            enqueue(fn, *args)
    return len(tenants)
