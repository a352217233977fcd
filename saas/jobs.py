"""Background jobs on RQ: one way to define them, one way to enqueue them.

* ``@job(queue=..., timeout=..., retries=..., tenant=True)`` declares a job.
* ``enqueue(fn, *args)`` sends it after the current unit of work commits
  (never if it rolls back). Arguments are ids and plain values.
* A tenant job carries its tenant id in the job's metadata; the worker
  re-checks the tenant and runs the function inside that tenant's unit of
  work, where ``db.session()`` is bound to the tenant's schema. A job for a
  suspended or deleted tenant does nothing and logs why.
* A long job that can resume (an import) takes turns with the others: when its
  :class:`Turn` is over and another job waits for its worker, it stops after a
  committed step and queues itself again, behind them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker, get_current_job
from rq.job import Job
from sqlalchemy import select

from saas.db import after_commit, current_tenant, db
from saas.extensions import redis

log = logging.getLogger(__name__)

# A worker takes the next job from the first of its queues that has one: bulk work (imports,
# exports) last, so an import that hands its turn over (see Turn) finds quick jobs served
# first. Run as two workers (``saas dev`` does), quick jobs never wait for bulk ones.
QUICK = ("default", "notifications", "webhooks")
QUEUES = (*QUICK, "bulk")
# Long bulk work: its work horse gives way to web requests and to other jobs on the same
# machine, so other companies' pages stay quick while a million rows come in
# (bench/import.py's neighbour figure). See give_way.
GIVES_WAY = {"bulk"}
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
        if queue.name in GIVES_WAY:
            give_way()
        super().main_work_horse(job, queue)


def give_way() -> None:
    """Put this process (and the threads it starts) in Linux's idle scheduling class: a
    web request or quick job that wakes up takes its core at once, and the kernel places
    it on a core that runs only such work as on a free one. ``nice`` 10 is not enough:
    it counts only against processes of the same session or cgroup, so a request still
    waited for a share of the core (bench/RESULTS.md). Where the idle class is missing
    (not Linux), ``nice`` 10.

    Nothing is lost if the machine stays busy: the work waits, holding no more than one
    batch's transaction, and a run stalled for long is taken over by the reconciler,
    which the batches' checks keep from duplicating anything."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(10)


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


def others_waiting() -> bool:
    """Whether a job waits in one of the queues that the worker running the current job
    serves: a job that cannot start before this one ends."""
    current = get_current_job()
    if current is None:
        return False
    try:
        names = [current.origin]
        if current.worker_name:
            key = Worker.redis_worker_namespace_prefix + current.worker_name
            worker = Worker.find_by_key(key, connection=redis())
            if worker is not None:
                names = worker.queue_names()
        return any(get_queue(name).count for name in names)
    except RedisError:  # Redis is away: no job can be waiting in it, the job goes on
        log.warning("could not see whether jobs wait; going on", exc_info=True)
        return False


class Turn:
    """How long a resumable job holds its worker while other jobs wait: a company's
    million-row import must not keep another company's ten-row import, or anyone's
    e-mail, waiting until it is done.

    The turn lasts ``seconds``, and at least five times what the job took to get going
    (:meth:`going`; an import reads its file back to where it stood), so that coming
    back costs at most a fifth of the work; ``seconds=0`` ends it after every step.
    :meth:`over` is asked after each committed step; once it says so, the job queues
    itself again and returns.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = time.monotonic()
        self.setup: float | None = None

    def going(self) -> None:
        """The job is ready to do its first step (called before each; counts once)."""
        if self.setup is None:
            self.setup = time.monotonic() - self.start

    def over(self) -> bool:
        due = max(self.seconds, 5 * (self.setup or 0.0)) if self.seconds else 0.0
        return time.monotonic() - self.start >= due and others_waiting()
