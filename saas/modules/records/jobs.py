"""Background jobs of the record framework."""

from __future__ import annotations

from saas.jobs import enqueue_for_every_tenant, job
from saas.modules.records import service


@job(queue="default", timeout=600)
def purge_recycle_bin() -> dict[str, int]:
    """Delete for good this tenant's records that have been in the recycle bin 30 days."""
    return service.purge_expired()


@job(queue="default", tenant=False)
def purge_recycle_bins() -> int:
    """Daily: empty every tenant's expired recycle bin, one job per tenant."""
    return enqueue_for_every_tenant(purge_recycle_bin)
