"""Leads: round-robin owners for new leads and one-step conversion into an account,
a contact and (optionally) a deal. Flushes, never commits.

Conversion reuses what the company already has: an account chosen by the user,
else one with the same name, else one with the same web domain (from the lead's
website or a company e-mail address, never a free-mail one), and a contact with
the same e-mail address. The lead stays, marked converted and linked to what it
became; its notes and activities move to the contact's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from saas.db import session
from saas.modules.activities.models import Activity
from saas.modules.customers.models import Account, Contact
from saas.modules.customers.objects import domain_of
from saas.modules.leads.models import Lead
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.teams import service as teams

NEW = "new"  # account_id / contact_id: create one even if a match exists
FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "ymail.com", "icloud.com", "me.com",
        "mac.com", "aol.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "mail.ru",
        "yandex.ru", "yandex.com", "proton.me", "protonmail.com", "zoho.com", "qq.com",
        "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com",
        "139.com", "aliyun.com",
    }
)  # fmt: skip


def before_write(lead: Lead, values: dict, is_new: bool) -> None:
    """A new lead nobody was chosen for goes to the next member of a round-robin team."""
    if is_new:
        teams.assign_round_robin(values, lead.created_by)


# -- matching -------------------------------------------------------------------------


def email_domain(email: str | None) -> str | None:
    """The company domain of an e-mail address; None for free-mail providers."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().removeprefix("www.")
    return None if not domain or domain in FREE_MAIL else domain


def lead_domain(lead: Lead) -> str | None:
    website = domain_of(lead.website)
    if website and website not in FREE_MAIL:
        return website
    return email_domain(lead.email)


@dataclass
class Match:
    record: object
    reason: str  # "name", "domain", "email", "contact"


def account_matches(lead: Lead, limit: int = 5) -> list[Match]:
    """Visible accounts that look like the lead's company, best first."""
    otype = get("account")
    found: list[Match] = []
    if lead.company and lead.company.strip():
        stmt = records.select_records(otype).where(
            func.lower(Account.name) == lead.company.strip().lower()
        )
        found += [Match(a, "name") for a in session().execute(stmt.limit(limit)).scalars()]
    domain = lead_domain(lead)
    if domain:
        stmt = records.select_records(otype).where(Account.domain == domain)
        found += [Match(a, "domain") for a in session().execute(stmt.limit(limit)).scalars()]
    seen, unique = set(), []
    for m in found:
        if m.record.id not in seen:
            seen.add(m.record.id)
            unique.append(m)
    return unique[:limit]


def contact_matches(lead: Lead, limit: int = 5) -> list[Match]:
    """Visible contacts with the lead's e-mail address."""
    if not lead.email:
        return []
    stmt = (
        records.select_records(get("contact"))
        .where(Contact.email == lead.email.strip().lower())
        .order_by(Contact.id)
        .limit(limit)
    )
    return [Match(c, "email") for c in session().execute(stmt).scalars()]


# -- conversion -----------------------------------------------------------------------


def _chosen(object_name: str, chosen):
    """The record the user picked (visible, not deleted) or a ValidationErrors."""
    record = records.get_record(get(object_name), chosen)
    if record is None:
        field = "account" if object_name == "account" else "contact"
        raise records.ValidationErrors({field: _l("That record does not exist any more.")})
    return record


def convert(
    lead: Lead,
    *,
    create_deal: bool,
    deal_name: str | None = None,
    deal_amount=None,
    stage_id=None,
    account_id=None,
    contact_id=None,
    actor: int | None,
) -> dict:
    """Convert ``lead``; returns {"account", "contact", "deal" (or None),
    "account_created", "contact_created"}.

    ``account_id`` / ``contact_id``: an existing record's id to use, :data:`NEW` to
    create one, or None to use the best match (creating one when nothing matches).
    Raises ValidationErrors (keys: lead, account, contact, name, amount, stage_id).
    """
    if lead.converted_at is not None:
        raise records.ValidationErrors(
            {"lead": _l("This lead was converted already; open what it became from its page.")}
        )
    deal_type = get("deal")
    deal_raw = {}
    if create_deal:
        title = lead.company or lead.full_name
        deal_raw = {"name": (deal_name or "").strip() or title, "amount": deal_amount or ""}
        if stage_id not in (None, ""):
            deal_raw["stage_id"] = stage_id
        records.validate(deal_type, deal_raw, partial=True)  # before anything is written
    owner = lead.owner_id if lead.owner_id in records.member_names() else actor

    contact, account = None, None
    if contact_id not in (None, NEW):
        contact = _chosen("contact", contact_id)
    elif contact_id is None:
        contact = next((m.record for m in contact_matches(lead, 1)), None)

    if account_id not in (None, NEW):
        account = _chosen("account", account_id)
    elif account_id is None:
        account = next((m.record for m in account_matches(lead, 1)), None)
        if account is None and contact is not None and contact.account_id:
            account = records.get_record(get("account"), contact.account_id)

    account_created = account is None
    if account is None:
        account = records.create(
            get("account"),
            {
                "name": (lead.company or "").strip() or lead.full_name,
                "website": lead.website,
                "owner_id": owner,
            },
            actor=actor,
            trusted=True,
        )
    contact_created = contact is None
    if contact is None:
        contact = records.create(
            get("contact"),
            {
                "first_name": lead.first_name,
                "last_name": lead.last_name,
                "title": lead.title,
                "email": lead.email,
                "phone": lead.phone,
                "account_id": account.id,
                "owner_id": owner,
            },
            actor=actor,
            trusted=True,
        )
    elif contact.account_id != account.id:  # the person is at this company now
        records.update(get("contact"), contact, {"account_id": account.id}, actor=actor)

    deal = None
    if create_deal:
        deal = records.create(
            deal_type,
            {**deal_raw, "account_id": account.id, "contact_id": contact.id, "owner_id": owner},
            actor=actor,
        )

    lead_type = get("lead")
    records.update(
        lead_type,
        lead,
        {
            "status": "converted",
            "converted_at": datetime.now(UTC),
            "converted_by": actor,
            "account_id": account.id,
            "contact_id": contact.id,
            "deal_id": deal.id if deal else None,
        },
        actor=actor,
        trusted=True,
    )
    _move_activities(lead, contact, actor)
    records.note_event(
        lead,
        "converted",
        actor,
        account_id=account.id,
        account=account.name,
        account_created=account_created,
        contact_id=contact.id,
        contact=contact.full_name,
        contact_created=contact_created,
        deal_id=deal.id if deal else None,
        deal=deal.name if deal else None,
    )
    lead_title = lead_type.title(lead)
    for target, created in ((account, account_created), (contact, contact_created), (deal, True)):
        if target is not None:
            records.note_event(
                target, "converted", actor, lead_id=lead.id, lead=lead_title, created=created
            )
    return {
        "account": account,
        "contact": contact,
        "deal": deal,
        "account_created": account_created,
        "contact_created": contact_created,
    }


def _move_activities(lead: Lead, contact: Contact, actor: int | None) -> None:
    """The lead's calls, meetings, tasks and notes continue on the contact's timeline."""
    otype = get("activity")
    stmt = select(Activity).where(Activity.related_object == "lead", Activity.related_id == lead.id)
    for activity in session().execute(stmt).scalars().all():
        records.update(
            otype,
            activity,
            {"related_object": "contact", "related_id": contact.id},
            actor=actor,
            trusted=True,
        )
