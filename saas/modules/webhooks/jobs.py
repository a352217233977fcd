"""Webhook jobs: send a subscription's due deliveries, and the sweep that finds them.

The database says what is due; Redis only says "look now". A delivery whose job was
lost (Redis flushed, worker killed) is found by the sweep a minute later.
"""

from __future__ import annotations

import time as clock

from saas.db import current_tenant, db
from saas.jobs import enqueue, enqueue_for_every_tenant, job
from saas.modules.webhooks import delivery

BATCH = 20  # deliveries claimed at once
BUDGET = 60  # seconds of sending per job: a long backlog continues in a new job


@job(queue="webhooks", timeout=300, retries=0)
def deliver(subscription_id: int) -> dict:
    """Send what is due for one subscription, each attempt committed as it is made."""
    tenant = current_tenant()
    began = clock.monotonic()
    counts = {"delivered": 0, "failed": 0}
    while True:
        with db.scope(tenant):
            claimed = delivery.claim(subscription_id, BATCH)
        if not claimed:
            break
        for index, c in enumerate(claimed):
            outcome = delivery.post(c)
            with db.scope(tenant):
                active = delivery.record(c, outcome)
            counts["delivered" if outcome.ok else "failed"] += 1
            if not active:
                with db.scope(tenant):
                    delivery.release(claimed[index + 1 :])
                return counts
        if clock.monotonic() - began > BUDGET:
            enqueue(deliver, subscription_id)  # the rest, behind other tenants' work
            break
    return counts


@job(queue="webhooks", timeout=300)
def webhooks_tick() -> dict:
    """One tenant: purge old deliveries, start a job for each subscription with work due."""
    purged = delivery.purge()
    due = delivery.due_subscriptions()
    for subscription_id in due:
        enqueue(deliver, subscription_id)
    return {"purged": purged, "due": len(due)}


@job(queue="webhooks", tenant=False)
def sweep_webhooks() -> int:
    """Periodic: one ``webhooks_tick`` per active tenant."""
    return enqueue_for_every_tenant(webhooks_tick)
