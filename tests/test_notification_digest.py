"""The daily digest: one e-mail per user at or after 08:00 in the company's time zone,
listing their unread "digest" notifications with links, each notification once however
often the hourly job runs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from saas.db import db
from saas.jobs import enqueue
from saas.modules.notifications import preferences, service
from saas.modules.notifications.models import Notification
from saas.modules.notifications.sweeps import send_daily_notifications, sweep_daily_notifications
from tests.conftest import post, signup
from tests.factories import add_member, tenant_ref, user_id

SETTINGS = {
    "company": "Digest Co",
    "currency": "USD",
    "timezone": "Asia/Tokyo",
    "locale": "en",
    "date_format": "YYYY-MM-DD",
    "visibility_admin": "all",
    "visibility_member": "all",
    "visibility_readonly": "all",
}
TOKYO = ZoneInfo("Asia/Tokyo")


def _notify(app, slug, user_ids, **kwargs) -> int:
    kwargs.setdefault("kind", "workflow")
    with app.app_context(), db.scope(tenant_ref(slug)):
        return service.notify(user_ids, **kwargs)


def _rows(slug, **where) -> list[Notification]:
    with db.scope(tenant_ref(slug)) as s:
        found = list(
            s.execute(select(Notification).filter_by(**where).order_by(Notification.id)).scalars()
        )
        s.expunge_all()
        return found


def _prefer(app, slug, uid, **choices) -> None:
    with app.app_context(), db.scope(tenant_ref(slug)):
        preferences.save(uid, choices)


def _daily(app, slug, when: datetime) -> dict:
    with app.app_context(), db.scope(tenant_ref(slug)):
        return send_daily_notifications(when.isoformat())


def _tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """Tomorrow in Tokyo at this hour: after anything the test creates now."""
    day = datetime.now(TOKYO).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), TOKYO)


def test_one_digest_a_day_after_eight_in_the_companys_time_zone(app, client, run_jobs, mailbox):
    slug, email = signup(client, company="Digest Co")
    assert post(client, f"/app/{slug}/settings", SETTINGS).status_code == 302
    me = user_id(email)
    mia_email, mia = add_member(slug, "member", name="Mia Wong")
    _prefer(app, slug, mia, workflow="digest", mention="digest")
    _notify(app, slug, [mia], title="Deal won", body="Stage: Won\nmore", url="/deals/7")
    _notify(app, slug, [mia], kind="mention", title="You were mentioned", url="/contacts/3")
    _notify(app, slug, [mia], title="Seen already")
    _notify(app, slug, [mia, me], title="For both")  # the owner: e-mailed at once
    (seen,) = _rows(slug, title="Seen already")
    with app.app_context(), db.scope(tenant_ref(slug)):
        service.mark_read(mia, [seen.id])
    run_jobs()
    assert mailbox(mia_email) == []  # nothing at once
    assert [m["subject"] for m in mailbox(email)] == ["For both"]

    # 07:30 in Tokyo is 22:30 UTC: still before the company's eight o'clock.
    assert _daily(app, slug, _tomorrow_at(7, 30).astimezone(UTC))["digests"] == 0
    assert _daily(app, slug, _tomorrow_at(8, 5))["digests"] == 1
    assert _daily(app, slug, _tomorrow_at(9, 5))["digests"] == 0  # once
    run_jobs()
    (digest,) = mailbox(mia_email)
    assert digest["subject"] == "3 new notifications in Digest Co"
    body = digest["body"]
    assert body.startswith("Hello Mia Wong,")
    assert "- Deal won\n  Stage: Won\n  http://localhost/app/" + slug + "/deals/7" in body
    assert f"http://localhost/app/{slug}/contacts/3" in body and "For both" in body
    assert "Seen already" not in body  # read in the app: not worth an e-mail
    assert f"http://localhost/app/{slug}/notifications/preferences" in body
    stamped = {r.title: r.emailed_at is not None for r in _rows(slug, user_id=mia)}
    assert stamped == {"Deal won": True, "You were mentioned": True, "Seen already": False,
                       "For both": True}  # fmt: skip
    assert len(mailbox(email)) == 1  # the owner does not prefer a digest


def test_the_digest_is_sent_once_when_its_job_runs_twice(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    _prefer(app, slug, me, workflow="digest")
    _notify(app, slug, [me], title="Once only")
    when = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(8, 30), UTC)
    with app.app_context(), db.scope(tenant_ref(slug)):
        enqueue(send_daily_notifications, when.isoformat())
        enqueue(send_daily_notifications, when.isoformat())  # a retry, or a duplicate
    run_jobs()
    assert [m["subject"] for m in mailbox(email)] == ["1 new notification in " + _name(slug)]


def test_what_arrives_after_eight_waits_for_the_next_day(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    _prefer(app, slug, me, workflow="digest")
    _notify(app, slug, [me], title="Early")
    _notify(app, slug, [me], title="Late")
    day = datetime.now(UTC).date() + timedelta(days=1)
    with db.scope(tenant_ref(slug)) as s:  # as if it came at 09:00 on that day
        s.execute(
            update(Notification)
            .where(Notification.title == "Late")
            .values(created_at=datetime.combine(day, time(9), UTC))
        )
    assert _daily(app, slug, datetime.combine(day, time(10), UTC))["digests"] == 1
    assert _daily(app, slug, datetime.combine(day, time(11), UTC))["digests"] == 0
    assert _daily(app, slug, datetime.combine(day + timedelta(days=1), time(8), UTC)) == {
        "birthdays": 0,
        "digests": 1,
    }
    run_jobs()
    first, second = sorted(mailbox(email), key=lambda m: m["sent_at"])
    assert "Early" in first["body"] and "Late" not in first["body"]
    assert "Late" in second["body"] and "Early" not in second["body"]


def test_digests_stay_in_their_company(app, client, make_client, run_jobs, mailbox):
    slug_a, email_a = signup(client)
    slug_b, email_b = signup(make_client())
    a, b = user_id(email_a), user_id(email_b)
    _prefer(app, slug_a, a, workflow="digest")
    _prefer(app, slug_b, b, workflow="digest")
    _notify(app, slug_a, [a], title="A's news")
    _notify(app, slug_b, [b], title="B's news")
    when = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(9), UTC)
    assert _daily(app, slug_a, when)["digests"] == 1
    run_jobs()
    assert mailbox(email_b) == []
    assert _rows(slug_b)[0].emailed_at is None
    (message,) = mailbox(email_a)
    assert "A's news" in message["body"] and "B's news" not in message["body"]
    assert f"/app/{slug_a}/" in message["body"] and f"/app/{slug_b}" not in message["body"]

    # The hourly platform job fans out one job per company.
    with app.app_context(), db.scope():
        assert sweep_daily_notifications() >= 2


def _name(slug: str) -> str:
    return tenant_ref(slug).name
