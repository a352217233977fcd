"""Periodic jobs, declared as data with stable names, run by ``saas scheduler``."""

from __future__ import annotations

from rq.cron import CronScheduler

from saas.extensions import redis
from saas.modules.activities.jobs import sweep_reminders
from saas.modules.contracts.jobs import sweep_contract_renewals
from saas.modules.exports.jobs import sweep_exports
from saas.modules.notifications.sweeps import sweep_daily_notifications, sweep_due_tasks
from saas.modules.records.jobs import purge_recycle_bins
from saas.modules.webhooks.jobs import sweep_webhooks
from saas.modules.workflows.jobs import sweep_workflow_timers
from saas.tenants.provisioning import refill_schema_pool
from saas.tenants.service import purge_deleted_tenants
from saas.tracked import reconcile

PERIODIC = (
    # (stable name, job, interval in seconds)
    # Imports, reverts and exports whose job was lost (Redis flushed) or whose worker died.
    ("reconcile-tracked-jobs", reconcile, 60),
    ("refill-schema-pool", refill_schema_pool, 60),
    ("purge-deleted-tenants", purge_deleted_tenants, 3600),
    ("purge-recycle-bins", purge_recycle_bins, 86400),
    # Reminders whose delayed job was lost (Redis flushed, worker gone): a safety net.
    ("send-due-reminders", sweep_reminders, 600),
    # Hourly so that each tenant's "today" (its time zone) is caught soon after midnight.
    ("contract-renewals", sweep_contract_renewals, 3600),
    # "Date" and "schedule" workflow rules; daily rules run within the hour they name.
    ("workflow-timers", sweep_workflow_timers, 3600),
    # Expired export files go; scheduled exports run within the hour they name.
    ("exports", sweep_exports, 3600),
    # "Task due" / "overdue" notifications: due times are to the minute, so every 10 min.
    ("task-due-notifications", sweep_due_tasks, 600),
    # Birthdays (from 07:00) and the daily digest (from 08:00), each tenant's own hours.
    ("daily-notifications", sweep_daily_notifications, 3600),
    # Webhook deliveries due (retries, lost jobs, re-enabled endpoints); 30-day purge.
    ("webhooks", sweep_webhooks, 60),
)


def make_scheduler() -> CronScheduler:
    scheduler = CronScheduler(connection=redis(), name="saas-scheduler")
    for name, fn, interval in PERIODIC:
        spec = fn.job_spec
        scheduler.register(
            fn, queue_name=spec.queue, interval=interval, job_timeout=spec.timeout, name=name
        )
    return scheduler
