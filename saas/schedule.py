"""Periodic jobs, declared as data with stable names, run by ``saas scheduler``."""

from __future__ import annotations

from rq.cron import CronScheduler

from saas.extensions import redis
from saas.modules.activities.jobs import sweep_reminders
from saas.modules.contracts.jobs import sweep_contract_renewals
from saas.modules.records.jobs import purge_recycle_bins
from saas.modules.workflows.jobs import sweep_workflow_timers
from saas.tenants.provisioning import refill_schema_pool
from saas.tenants.service import purge_deleted_tenants

PERIODIC = (
    # (stable name, job, interval in seconds)
    ("refill-schema-pool", refill_schema_pool, 60),
    ("purge-deleted-tenants", purge_deleted_tenants, 3600),
    ("purge-recycle-bins", purge_recycle_bins, 86400),
    # Reminders whose delayed job was lost (Redis flushed, worker gone): a safety net.
    ("send-due-reminders", sweep_reminders, 600),
    # Hourly so that each tenant's "today" (its time zone) is caught soon after midnight.
    ("contract-renewals", sweep_contract_renewals, 3600),
    # "Date" and "schedule" workflow rules; daily rules run within the hour they name.
    ("workflow-timers", sweep_workflow_timers, 3600),
)


def make_scheduler() -> CronScheduler:
    scheduler = CronScheduler(connection=redis(), name="saas-scheduler")
    for name, fn, interval in PERIODIC:
        spec = fn.job_spec
        scheduler.register(
            fn, queue_name=spec.queue, interval=interval, job_timeout=spec.timeout, name=name
        )
    return scheduler
