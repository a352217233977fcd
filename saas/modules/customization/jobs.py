"""Background jobs of custom fields."""

from __future__ import annotations

import logging

from saas.db import session
from saas.jobs import job
from saas.modules.customization import ddl, meta, types
from saas.modules.customization.models import CustomField
from saas.modules.records.registry import get

log = logging.getLogger(__name__)


@job(queue="default", timeout=3600, retries=2)
def build_index(field_id: int) -> str:
    """Build a custom field's filter-and-sort index without blocking writes."""
    cf = session().get(CustomField, field_id)
    if cf is None or not cf.indexed or cf.index_state == "ready":
        return "nothing to do"
    otype, field = get(cf.object), types.to_field(cf)
    # CREATE INDEX CONCURRENTLY waits for every open transaction, this job's too: end it.
    session().commit()
    try:
        ddl.build_index_concurrently(otype, field)
    except Exception:
        log.exception("index of custom field %s.%s failed", cf.object, cf.name)
        cf = session().get(CustomField, field_id)
        if cf is not None:
            cf.index_state = "failed"
            meta.changed()
        return "failed"
    cf = session().get(CustomField, field_id)
    if cf is None or not cf.indexed:  # deleted or switched off meanwhile
        return "gone"
    cf.index_state = "ready"
    meta.changed()
    return "ready"


@job(queue="default", timeout=3600, retries=2)
def convert_field(field_id: int) -> str:
    """Change a big table's custom field type (queued by the field's page). A worker
    killed midway rolls back the whole conversion; the retry starts it again."""
    from saas.modules.customization import convert

    cf = session().get(CustomField, field_id)
    if cf is None:
        return "gone"
    return convert.run_queued(get(cf.object), cf).get("state", "nothing to do")
