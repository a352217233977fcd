"""Contract numbers, renewals and renewal reminders; licence keys, one live licence
per customer and product, and a licence's life (extend, suspend, revoke).
Flushes, never commits."""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Mapping
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from saas.db import current_tenant, session
from saas.modules.contracts.models import Contract, Licence
from saas.modules.records import service as records
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.registry import get
from saas.modules.records.service import ValidationErrors

KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
RENEWABLE = {"active", "expired"}
EXPIRY = Field("expires_on", _l("Expires"), "date", required=True)


def new_licence_key() -> str:
    """A random key in five groups of five, like ``7KQ2M-…``."""
    chars = "".join(secrets.choice(KEY_ALPHABET) for _ in range(25))
    return "-".join(chars[i : i + 5] for i in range(0, 25, 5))


def _unused_key() -> str:
    # 32**25 keys make a clash all but impossible; checking costs one indexed lookup.
    while True:
        key = new_licence_key()
        if session().execute(select(Licence.id).where(Licence.key == key)).first() is None:
            return key


def live_licence(account_id: int, product_id: int, *, other_than: int | None = None):
    """The customer's licence for the product that is not in the recycle bin, if any."""
    stmt = select(Licence).where(
        Licence.account_id == account_id,
        Licence.product_id == product_id,
        Licence.deleted_at.is_(None),
    )
    if other_than is not None:
        stmt = stmt.where(Licence.id != other_than)
    return session().execute(stmt.limit(1)).scalar_one_or_none()


def _duplicate(key: str) -> ValidationErrors:
    return ValidationErrors(
        {
            "product_id": _l(
                "This customer already has a licence for this product (%(key)s).", key=key
            )
        }
    )


def licence_before_write(licence, values: dict, is_new: bool) -> None:
    """A new licence gets its key; a customer holds one live licence per product."""
    if is_new and not licence.key:
        values["key"] = _unused_key()
    account_id = values.get("account_id", licence.account_id)
    product_id = values.get("product_id", licence.product_id)
    if account_id is None or product_id is None:
        return
    if not is_new and (account_id, product_id) == (licence.account_id, licence.product_id):
        return
    # Two people issuing the same licence at once: the second waits here for the first
    # to commit, then sees its licence and gets the same form error.
    session().execute(
        select(func.pg_advisory_xact_lock(func.hashtext(current_tenant().schema_name),
                                          func.hashtext(f"licence:{account_id}:{product_id}")))
    )  # fmt: skip
    existing = live_licence(account_id, product_id, other_than=licence.id)
    if existing is not None:
        raise _duplicate(existing.key)


def issue_licence(raw: Mapping, *, actor: int | None = None, contract=None) -> Licence:
    """A new licence (from the licence form or a contract's page). The unique index
    has the last word: a clash that slips past the check is the same form error."""
    values = dict(raw)
    if contract is not None:
        values.update(contract_id=str(contract.id), account_id=str(contract.account_id or ""))
        if not values.get("expires_on") and contract.end_date:
            values["expires_on"] = contract.end_date.isoformat()
    try:
        with session().begin_nested():
            licence = records.create(get("licence"), values, actor=actor)
    except IntegrityError:
        ids = [str(values.get(k) or "") for k in ("account_id", "product_id")]
        existing = live_licence(*map(int, ids)) if all(i.isdigit() for i in ids) else None
        raise _duplicate(existing.key if existing else "…") from None
    if contract is not None:
        records.note_event(contract, "licence_issued", actor, text=licence.key)
    return licence


# -- a licence's life ------------------------------------------------------------------


def _set_status(licence, status: str, kind: str, actor, **values) -> None:
    records.update(get("licence"), licence, {"status": status, **values}, actor=actor, trusted=True)
    records.note_event(licence, kind, actor, text=licence.key)


def extend_licence(licence, raw_expiry, *, actor: int | None = None) -> None:
    """A later expiry date; an expired licence becomes active again."""
    if licence.status == "revoked":
        raise ValidationErrors({"status": _l("A revoked licence cannot be extended.")})
    try:
        expires = parse(EXPIRY, raw_expiry)
    except FieldError as exc:
        raise ValidationErrors({"expires_on": exc}) from None
    if licence.expires_on is not None and expires <= licence.expires_on:
        raise ValidationErrors({"expires_on": _l("Choose a date after the current expiry.")})
    status = "active" if licence.status == "expired" else licence.status
    _set_status(licence, status, "licence_extended", actor, expires_on=expires)


def suspend_licence(licence, *, actor: int | None = None) -> None:
    if licence.status != "active":
        raise ValidationErrors({"status": _l("Only an active licence can be suspended.")})
    _set_status(licence, "suspended", "licence_suspended", actor)


def reactivate_licence(licence, *, actor: int | None = None) -> None:
    if licence.status != "suspended":
        raise ValidationErrors({"status": _l("Only a suspended licence can be reactivated.")})
    _set_status(licence, "active", "licence_reactivated", actor)


def revoke_licence(licence, *, actor: int | None = None) -> None:
    """For good: a revoked licence is not extended or reactivated."""
    if licence.status == "revoked":
        raise ValidationErrors({"status": _l("This licence is already revoked.")})
    _set_status(licence, "revoked", "licence_revoked", actor)


# -- contracts ---------------------------------------------------------------------------


def contract_before_write(contract, values: dict, is_new: bool) -> None:
    from saas.modules.sales.service import keep_currency

    keep_currency(contract, values, is_new)
    start = values.get("start_date", contract.start_date)
    end = values.get("end_date", contract.end_date)
    if start is not None and end is not None and end < start:
        raise ValidationErrors({"end_date": _l("End: choose a date on or after the start.")})


def contract_after_write(contract, changes: dict, is_new: bool, actor: int | None) -> None:
    if is_new and not contract.number:
        contract.number = f"C-{contract.id:05d}"
        session().flush()
    if not is_new and "end_date" in changes and contract.renewal_reminded_at is not None:
        contract.renewal_reminded_at = None  # a new end date deserves a new reminder
        session().flush()


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def next_term(start: date, end: date) -> tuple[date, date]:
    """The term after ``start``–``end``: it starts the day after and lasts as long,
    in whole months when the term was whole months (a year stays a year)."""
    new_start = end + timedelta(days=1)
    months = (new_start.year - start.year) * 12 + new_start.month - start.month
    if months > 0 and _add_months(start, months) == new_start:
        return new_start, _add_months(new_start, months) - timedelta(days=1)
    return new_start, new_start + (end - start)


def renew_contract(contract, *, actor: int | None = None) -> Contract:
    """A draft follow-up contract for the next term; this one becomes "renewed"."""
    session().refresh(contract, with_for_update=True)
    if contract.status not in RENEWABLE:
        raise ValidationErrors({"status": _l("Only an active or expired contract can be renewed.")})
    if contract.start_date is None or contract.end_date is None:
        raise ValidationErrors({"end_date": _l("Set the contract's start and end first.")})
    start, end = next_term(contract.start_date, contract.end_date)
    follow_up = records.create(
        get("contract"),
        {
            "name": contract.name,
            "account_id": contract.account_id,
            "contact_id": contract.contact_id,
            "status": "draft",
            "start_date": start,
            "end_date": end,
            "value": contract.value,
            "currency": contract.currency,
            "renewal_notice_days": contract.renewal_notice_days,
            "terms": contract.terms,
            "owner_id": contract.owner_id or actor,
        },
        actor=actor,
        trusted=True,
    )
    records.update(get("contract"), contract, {"status": "renewed"}, actor=actor, trusted=True)
    records.note_event(contract, "renewed", actor, text=follow_up.number)
    records.note_event(follow_up, "renewed", actor, text=contract.number)
    return follow_up


def due_for_reminder(today: date, grace: timedelta = timedelta(days=30)) -> list[Contract]:
    """Active contracts whose reminder date (end − notice days) has come and that were
    not reminded yet, locked; contracts another run is handling are skipped. A contract
    that ended more than ``grace`` ago gets no reminder (imported history, not news)."""
    stmt = (
        select(Contract)
        .where(
            Contract.status == "active",
            Contract.deleted_at.is_(None),
            Contract.renewal_reminded_at.is_(None),
            Contract.end_date.is_not(None),
            Contract.end_date - Contract.renewal_notice_days <= today,
            Contract.end_date >= today - grace,
        )
        .order_by(Contract.end_date, Contract.id)
        .with_for_update(skip_locked=True)
    )
    return list(session().execute(stmt).scalars())


def reminder_date(contract) -> date:
    return contract.end_date - timedelta(days=contract.renewal_notice_days or 0)


def expire_ended(today: date) -> tuple[int, int]:
    """Active contracts past their end date and active licences past their expiry
    become "expired" (on their timelines). Returns (contracts, licences)."""
    ended = select(Contract).where(
        Contract.status == "active", Contract.deleted_at.is_(None), Contract.end_date < today
    )
    lapsed = select(Licence).where(
        Licence.status == "active", Licence.deleted_at.is_(None), Licence.expires_on < today
    )
    counts = []
    for name, stmt in (("contract", ended), ("licence", lapsed)):
        rows = list(session().execute(stmt.with_for_update(skip_locked=True)).scalars())
        for row in rows:
            records.update(get(name), row, {"status": "expired"}, trusted=True)
        counts.append(len(rows))
    return counts[0], counts[1]
