"""Sending deliveries: claim what is due, POST it signed, record the answer.

A worker claims a delivery with ``FOR UPDATE SKIP LOCKED`` and a lease (its
``next_attempt_at`` moves past the POST's timeout, committed), so two workers never send
one delivery at once, and a worker that dies mid-send only delays it to the lease's end.
Only the oldest pending delivery of a record (per subscription) is claimable: the events
of one record arrive in order. A failure is retried with backoff for 24 hours after the
first attempt; an endpoint whose every attempt failed for 24 hours is disabled.

    POST <url>
    Content-Type: application/json
    X-CRM-Event: contact.created
    X-CRM-Event-Id: <uuid, the same on every attempt: dedupe by it>
    X-CRM-Delivery: <delivery id>
    X-CRM-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>
"""

from __future__ import annotations

import time as clock
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.request import Request

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from saas.db import session
from saas.modules.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from saas.outbound import blocked, opener, signature

TIMEOUT = 10  # seconds for the receiver to answer
LEASE = timedelta(minutes=2)  # a claim outlives the POST's timeout by far
WINDOW = timedelta(hours=24)  # retries end this long after the first attempt
BACKOFF = (30, 120, 600, 1800, 3600, 7200, 14400, 28800)  # seconds after failure 1, 2, ...
KEEP = timedelta(days=30)
ERROR_MAX = 300


@dataclass(frozen=True)
class Claimed:
    id: int
    event_id: uuid.UUID
    event_type: str
    body: str
    lease: uuid.UUID
    url: str
    secrets: tuple[str, ...]  # the current secret, then the previous one while it is valid


@dataclass(frozen=True)
class Outcome:
    status: int | None
    ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def claim(subscription_id: int, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of an active subscription, oldest first."""
    d, e, s = WebhookDelivery, aliased(WebhookDelivery), WebhookSubscription
    earlier = (
        select(e.id)
        .where(
            e.subscription_id == d.subscription_id,
            e.object == d.object,
            e.record_id == d.record_id,
            e.status == "pending",
            e.id < d.id,
        )
        .exists()
    )
    heads = (
        select(d.id)
        .join(s, s.id == d.subscription_id)
        .where(
            d.subscription_id == subscription_id,
            s.active.is_(True),
            d.status == "pending",
            d.next_attempt_at <= func.now(),
            ~earlier,
        )
        .order_by(d.id)
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
    )
    lease = uuid.uuid4()
    stmt = (
        update(d)
        .where(d.id.in_(heads.scalar_subquery()))
        .values(lease=lease, next_attempt_at=func.now() + LEASE)
        .returning(d.id, d.event_id, d.event_type, d.body)
    )
    rows = sorted(session().execute(stmt).all())
    if not rows:
        return []
    sub = session().get(WebhookSubscription, subscription_id)
    keys = (sub.secret,)
    if sub.previous_secret and sub.previous_until and sub.previous_until > now():
        keys += (sub.previous_secret,)
    return [Claimed(i, ev, t, body, lease, sub.url, keys) for i, ev, t, body in rows]


def release(claimed: list[Claimed]) -> None:
    """Give back claims that were not sent (the endpoint was disabled meanwhile)."""
    if claimed:
        d = WebhookDelivery
        session().execute(
            update(d)
            .where(d.id.in_([c.id for c in claimed]), d.lease == claimed[0].lease)
            .values(lease=None, next_attempt_at=func.now())
        )


def now() -> datetime:
    return datetime.now(UTC)


def headers(c: Claimed, stamp: int) -> dict[str, str]:
    signed = [signature(key, stamp, c.body) for key in c.secrets]
    # t=…,v1=<current>[,v1=<previous>]: a receiver accepts any v1 it can verify.
    sig = ",".join([signed[0], *(s.split(",", 1)[1] for s in signed[1:])])
    return {
        "Content-Type": "application/json",
        "User-Agent": "CRM-Webhooks/1",
        "X-CRM-Event": c.event_type,
        "X-CRM-Event-Id": str(c.event_id),
        "X-CRM-Delivery": str(c.id),
        "X-CRM-Signature": sig,
    }


def post(c: Claimed) -> Outcome:
    """One POST of a claimed delivery (the SSRF guard asked again: addresses change)."""
    reason = blocked(c.url)
    if reason:
        return Outcome(None, 0, reason)
    request = Request(
        c.url, data=c.body.encode(), method="POST", headers=headers(c, int(clock.time()))
    )
    began = clock.monotonic()
    status, error = None, None
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            status = response.status
    except HTTPError as exc:
        status = exc.code
        answer = (exc.read(ERROR_MAX) or b"").decode("utf-8", "replace").strip()
        error = f"HTTP {exc.code}" + (f": {answer}" if answer else "")
        if 300 <= exc.code < 400:
            error += " (redirects are not followed: use the final address)"
    except (URLError, OSError, ValueError, HTTPException) as exc:
        error = str(getattr(exc, "reason", exc)) or type(exc).__name__
    ms = int((clock.monotonic() - began) * 1000)
    if status is not None and not 200 <= status < 300 and error is None:
        error = f"HTTP {status}"
    return Outcome(status, ms, error[:ERROR_MAX] if error else None)


def next_attempt(failures: int, window_start: datetime, at: datetime) -> datetime | None:
    """When to try again after ``failures`` failed attempts, or None: give up."""
    end = window_start + WINDOW
    if at >= end:
        return None
    delay = timedelta(seconds=BACKOFF[min(failures, len(BACKOFF)) - 1])
    return min(at + delay, end)


def record(c: Claimed, outcome: Outcome) -> bool:
    """Keep the attempt and move the delivery on; returns whether the endpoint is
    still active (a day of failures disables it)."""
    at = now()
    found = session().execute(
        select(WebhookDelivery).where(WebhookDelivery.id == c.id).with_for_update()
    )
    d = found.scalar_one_or_none()
    if d is None:
        return False  # deleted with its subscription meanwhile
    session().add(
        WebhookAttempt(
            delivery_id=d.id, status_code=outcome.status, ms=outcome.ms, error=outcome.error
        )  # fmt: skip
    )
    if d.lease == c.lease:  # a claim that outlived its lease is another worker's now
        d.lease, d.attempts = None, d.attempts + 1
        d.last_status, d.last_error = outcome.status, outcome.error
        d.window_start = d.window_start or at
        retry = None if outcome.ok else next_attempt(d.attempts, d.window_start, at)
        if retry is None:
            d.status, d.finished_at = ("delivered" if outcome.ok else "failed"), at
        else:
            d.next_attempt_at = retry
    sub = (
        session()
        .execute(
            select(WebhookSubscription)
            .where(WebhookSubscription.id == d.subscription_id)
            .with_for_update()
        )
        .scalar_one()
    )
    if outcome.ok:
        sub.failing_since = None
    elif sub.failing_since is None:
        sub.failing_since = at
    elif sub.active and at - sub.failing_since >= WINDOW:
        _disable_failing(sub, outcome, at)
    session().flush()
    return sub.active


def _disable_failing(sub: WebhookSubscription, outcome: Outcome, at: datetime) -> None:
    from saas.modules.notifications.service import notify, tenant_locale
    from saas.modules.webhooks.service import admin_ids, forget

    with force_locale(tenant_locale()):
        reason = _(
            "Every attempt since %(since)s UTC failed (the last one: %(error)s), so it was "
            "switched off. Fix the endpoint, then enable it again: waiting deliveries resume.",
            since=sub.failing_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            error=outcome.error or "-",
        )
        title = _("Webhook endpoint disabled: %(url)s", url=sub.url)
    sub.active, sub.disabled_at, sub.disabled_reason = False, at, reason
    forget()
    notify(
        admin_ids(),
        kind="webhook_disabled",
        title=title,
        body=reason,
        url=f"/settings/webhooks/{sub.id}",
        key=f"webhook:{sub.id}:disabled:{int(at.timestamp())}",
    )


def due_subscriptions() -> list[int]:
    """Active subscriptions with something due (for the periodic sweep)."""
    d, s = WebhookDelivery, WebhookSubscription
    stmt = (
        select(d.subscription_id)
        .join(s, s.id == d.subscription_id)
        .where(s.active.is_(True), d.status == "pending", d.next_attempt_at <= func.now())
        .distinct()
    )
    return list(session().execute(stmt).scalars())


def purge() -> int:
    """Deliveries (and their attempts) older than 30 days go."""
    stmt = delete(WebhookDelivery).where(WebhookDelivery.created_at < func.now() - KEEP)
    return session().execute(stmt).rowcount
