"""Subscriptions as the admin manages them, and their delivery log.

Form inputs: ``url``, ``description``, ``events`` (repeated: event names, ``*.<action>``
or ``*``) and ``objects`` (repeated object names; none: every object).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from saas.db import current_tenant, session
from saas.jobs import enqueue
from saas.modules.records.registry import all_types
from saas.modules.webhooks import events, outbox
from saas.modules.webhooks.delivery import now
from saas.modules.webhooks.jobs import deliver
from saas.modules.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from saas.modules.webhooks.payload import event_body
from saas.outbound import blocked

MAX_SUBSCRIPTIONS = 25
PREVIOUS_SECRET_VALID = 24 * 3600  # seconds the old secret still signs after a rotation
PAGE = 50


class SubscriptionErrors(ValueError):
    """What is wrong with a submitted subscription, by input name."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def forget() -> None:
    outbox.forget()


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def blank() -> dict:
    return {"url": "", "description": "", "events": [], "objects": []}


def as_submitted(sub: WebhookSubscription) -> dict:
    return {"url": sub.url, "description": sub.description, "events": list(sub.events),
            "objects": list(sub.objects)}  # fmt: skip


def submitted(form) -> dict:
    return {
        "url": (form.get("url") or "").strip(),
        "description": (form.get("description") or "").strip(),
        "events": form.getlist("events"),
        "objects": form.getlist("objects"),
    }


def validate(raw: Mapping) -> dict:
    errors: dict[str, str] = {}
    url = raw.get("url", "")
    parts = urlsplit(url)
    schemes = {"https", "http"} if current_app.config.get("WEBHOOK_ALLOW_PRIVATE") else {"https"}
    if parts.scheme not in schemes or not parts.hostname or len(url) > 500:
        errors["url"] = _(
            "Enter the https:// address that receives the events, like "
            "https://erp.example.com/crm-events (at most 500 characters)."
        )
    elif parts.username or parts.password:
        errors["url"] = _("Leave the user name and password out of the address.")
    elif reason := blocked(url):
        errors["url"] = _("This address cannot be called: %(reason)s.", reason=reason)
    if len(raw.get("description", "")) > 200:
        errors["description"] = _("Use at most 200 characters.")
    known = set(events.event_types()) | set(events.PATTERNS)
    chosen = list(dict.fromkeys(raw.get("events") or ()))
    if not chosen or any(e not in known for e in chosen):
        errors["events"] = _("Choose at least one event from the list.")
    objects = list(dict.fromkeys(raw.get("objects") or ()))
    if any(o not in {t.name for t in all_types()} for o in objects):
        errors["objects"] = _("Choose the objects from the list, or none for every object.")
    if errors:
        raise SubscriptionErrors(errors)
    return {"url": url, "description": raw.get("description", ""), "events": chosen,
            "objects": objects}  # fmt: skip


def save(raw: Mapping, sub: WebhookSubscription | None = None, actor: int | None = None):
    """Create or change a subscription; raises SubscriptionErrors with a sentence per input."""
    values = validate(raw)
    if sub is None:
        if len(subscriptions()) >= MAX_SUBSCRIPTIONS:
            raise SubscriptionErrors(
                {
                    "url": _(
                        "A company can have %(n)d endpoints; delete one first.", n=MAX_SUBSCRIPTIONS
                    )
                }  # fmt: skip
            )
        sub = WebhookSubscription(secret=new_secret(), created_by=actor, active=True)
        session().add(sub)
    for key, value in values.items():
        setattr(sub, key, value)
    session().flush()
    forget()
    return sub


def subscriptions() -> list[WebhookSubscription]:
    stmt = select(WebhookSubscription).order_by(WebhookSubscription.id)
    return list(session().execute(stmt).scalars())


def get_subscription(subscription_id: int) -> WebhookSubscription | None:
    return session().get(WebhookSubscription, subscription_id)


def delete(sub: WebhookSubscription) -> None:
    """The subscription and its whole delivery log."""
    session().delete(sub)
    session().flush()
    forget()


def rotate(sub: WebhookSubscription) -> None:
    """A new secret; the old one still signs (a second v1) for a day, so receivers switch."""
    from datetime import timedelta

    sub.previous_secret, sub.secret = sub.secret, new_secret()
    sub.previous_until = now() + timedelta(seconds=PREVIOUS_SECRET_VALID)


def disable(sub: WebhookSubscription, reason: str) -> None:
    sub.active, sub.disabled_at, sub.disabled_reason = False, now(), reason
    forget()


def enable(sub: WebhookSubscription) -> None:
    """Active again; waiting deliveries are due now, each with a new day of retries."""
    sub.active, sub.disabled_at, sub.disabled_reason, sub.failing_since = True, None, None, None
    d = WebhookDelivery
    session().execute(
        update(d)
        .where(d.subscription_id == sub.id, d.status == "pending")
        .values(next_attempt_at=func.now(), window_start=None, lease=None)
    )
    forget()
    enqueue(deliver, sub.id)


def ping(sub: WebhookSubscription) -> WebhookDelivery:
    """A test event (``ping``) to the endpoint, sent by the worker at once."""
    event_id = uuid.uuid4()
    data = {"object": "subscription", "id": sub.id, "message": "Test event from the CRM."}
    found = WebhookDelivery(
        subscription_id=sub.id,
        event_id=event_id,
        event_type=events.PING,
        body=event_body(event_id, events.PING, current_tenant().slug, data),
    )
    session().add(found)
    session().flush()
    enqueue(deliver, sub.id)
    return found


# -- the log ------------------------------------------------------------------------------------


def deliveries(sub_id: int, status: str | None = None, before: int | None = None):
    """A page of the subscription's deliveries, newest first."""
    d = WebhookDelivery
    stmt = select(d).where(d.subscription_id == sub_id).order_by(d.id.desc()).limit(PAGE)
    if status:
        stmt = stmt.where(d.status == status)
    if before:
        stmt = stmt.where(d.id < before)
    return list(session().execute(stmt).scalars())


def counts(sub_id: int) -> dict[str, int]:
    d = WebhookDelivery
    stmt = select(d.status, func.count()).where(d.subscription_id == sub_id).group_by(d.status)
    return dict(session().execute(stmt).all())


def get_delivery(sub_id: int, delivery_id: int) -> WebhookDelivery | None:
    found = session().get(WebhookDelivery, delivery_id)
    return found if found is not None and found.subscription_id == sub_id else None


def attempts(delivery_id: int) -> list[WebhookAttempt]:
    a = WebhookAttempt
    stmt = select(a).where(a.delivery_id == delivery_id).order_by(a.id.desc())
    return list(session().execute(stmt).scalars())


def redeliver(found: WebhookDelivery) -> bool:
    """Send it again now (same event id), with a new day of retries; False while a
    worker is sending it."""
    if found.lease is not None and found.next_attempt_at > now():
        return False
    found.status, found.next_attempt_at, found.window_start = "pending", now(), None
    found.lease, found.finished_at = None, None
    session().flush()
    enqueue(deliver, found.subscription_id)
    return True


def admin_ids() -> list[int]:
    """The tenant's admins and owners (told when an endpoint is disabled)."""
    from saas.modules.accounts.models import Membership

    stmt = select(Membership.user_id).where(
        Membership.tenant_id == uuid.UUID(current_tenant().id),
        Membership.role.in_(("admin", "owner")),
    )
    return list(session().execute(stmt).scalars())
