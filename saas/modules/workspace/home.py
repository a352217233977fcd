"""What the home page shows a salesperson first thing: their day, their pipeline, new
leads and what changed on their records. Each block is one query with a LIMIT, and
goes through ``select_records`` so visibility holds."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select

from saas.db import session
from saas.modules.activities.models import Activity
from saas.modules.deals.models import Deal
from saas.modules.leads.models import Lead
from saas.modules.records import service
from saas.modules.records.models import TimelineEntry
from saas.modules.records.registry import get

COUNT_CAP = 10_000
CHANGED_ON = ("account", "contact", "lead", "deal")  # the records a salesperson owns


def _rows(stmt) -> list:
    return list(session().execute(stmt).scalars())


def _count(stmt) -> int:
    """Rows of ``stmt``, counted up to COUNT_CAP + 1 (a million rows need no exact count)."""
    ids = stmt.order_by(None).limit(COUNT_CAP + 1).subquery()
    return session().execute(select(func.count()).select_from(ids)).scalar_one()


def my_day(user_id: int, tz: str) -> dict:
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    start = datetime.combine(today, time(), zone)
    end = start + timedelta(days=1)
    activity, deal, lead, contact = get("activity"), get("deal"), get("lead"), get("contact")

    mine_open = service.select_records(activity).where(
        Activity.owner_id == user_id, Activity.done.is_(False)
    )
    tasks = _rows(
        mine_open.where(Activity.kind.not_in(("meeting", "note")), Activity.due_at < end)
        .order_by(Activity.due_at, Activity.id)
        .limit(25)
    )
    meetings = _rows(
        mine_open.where(
            Activity.kind == "meeting",
            Activity.due_at >= start,
            Activity.due_at < start + timedelta(days=7),
        )
        .order_by(Activity.due_at, Activity.id)
        .limit(10)
    )
    my_deals = service.select_records(deal).where(Deal.owner_id == user_id, Deal.status == "open")
    deals = _rows(my_deals.order_by(Deal.close_date.asc().nulls_last(), Deal.id).limit(10))
    totals = (
        session()
        .execute(
            my_deals.with_only_columns(Deal.currency, func.sum(Deal.amount), func.count())
            .group_by(Deal.currency)
            .order_by(func.sum(Deal.amount).desc().nulls_last())
        )
        .all()
    )
    leads = _rows(
        service.select_records(lead)
        .where(Lead.owner_id == user_id, Lead.status == "new")
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(10)
    )
    return {
        "overdue": [a for a in tasks if a.due_at < start],
        "today": [a for a in tasks if a.due_at >= start],
        "meetings": meetings,
        "deals": deals,
        "pipeline": [(currency, amount or 0, n) for currency, amount, n in totals],
        "open_deals": sum(n for _, _, n in totals),
        "leads": leads,
        "changes": recent_changes(user_id),
        "open_activities": _count(mine_open.with_only_columns(Activity.id)),
        "contacts": _count(service.select_records(contact).with_only_columns(contact.model.id)),
        "today_start": start,
    }


def recent_changes(user_id: int, limit: int = 10) -> list[dict]:
    """The latest timeline entries of records ``user_id`` owns, with their titles.

    A change bumps ``updated_at``, so the owner's most recently updated records of each
    kind hold the latest changes; their entries come from the timeline's record index.
    """
    owned = []
    for name in CHANGED_ON:
        model = get(name).model
        ids = (
            session()
            .execute(
                select(model.id)
                .where(model.owner_id == user_id, model.deleted_at.is_(None))
                .order_by(model.updated_at.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        if ids:
            owned.append(and_(TimelineEntry.object == name, TimelineEntry.record_id.in_(ids)))
    if not owned:
        return []
    entries = _rows(
        select(TimelineEntry).where(or_(*owned)).order_by(TimelineEntry.id.desc()).limit(limit)
    )
    titles = {}
    for name in {e.object for e in entries}:
        titles[name] = service.titles(get(name), [e.record_id for e in entries if e.object == name])
    users = service.member_names()
    return [
        {
            "entry": e,
            "otype": get(e.object),
            "title": titles[e.object].get(e.record_id, f"#{e.record_id}"),
            "user": users.get(e.user_id),
            "fields": [
                str(f.label) if (f := get(e.object).field(n)) else n
                for n in (e.data.get("changes") or {})
            ],
        }
        for e in entries
    ]
