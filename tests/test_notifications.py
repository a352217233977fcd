"""Notifications: created once per event for the tenant's members, e-mailed once, counted
under the bell, listed, marked read; invisible to everyone else."""

import re
import threading

import pytest
from sqlalchemy import select

from saas.db import db, session
from saas.jobs import enqueue, get_queue
from saas.modules.notifications import service
from saas.modules.notifications.jobs import send_notification_email
from saas.modules.notifications.models import Notification
from tests.conftest import login, post, signup
from tests.factories import add_member, tenant_ref, user_id


def _notify(app, slug, user_ids, **kwargs) -> int:
    kwargs.setdefault("kind", "workflow")
    kwargs.setdefault("title", "Something happened")
    with app.app_context(), db.scope(tenant_ref(slug)):
        return service.notify(user_ids, **kwargs)


def _rows(slug, **where) -> list[Notification]:
    with db.scope(tenant_ref(slug)):
        stmt = select(Notification).filter_by(**where).order_by(Notification.id)
        return list(session().execute(stmt).scalars())


def _bell(page: str) -> str | None:
    """The number on the bell, "" for a bell without one, None for no bell at all."""
    bell = re.search(r'<a class="bell"[^>]*>(.*?)</a>', page, re.S)
    if bell is None:
        return None
    count = re.search(r'id="bell-count">([^<]+)<', bell.group(1))
    return count.group(1) if count else ""


def _drain(app, run_jobs) -> None:
    run_jobs()
    with app.app_context():
        assert get_queue("notifications").count == 0


def test_members_are_notified_in_the_app_and_by_e_mail_once_each(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    member_email, member = add_member(slug, "member", name="Mia Member")
    created = _notify(
        app,
        slug,
        [user_id(email), member, member, None],
        title="Deal “Acme” was won",
        body="Stage changed to Won.",
        url=f"/app/{slug}/deals/7",
    )
    assert created == 2  # the repeated id and the empty one add nothing
    assert mailbox(member_email) == []  # only a worker sends, after the commit
    run_jobs()
    for address in (email, member_email):
        (message,) = mailbox(address)
        assert message["subject"] == "Deal “Acme” was won"
        assert "Stage changed to Won." in message["body"]
        assert f"http://localhost/app/{slug}/deals/7" in message["body"]
    assert "Hello Mia Member," in mailbox(member_email)[0]["body"]
    rows = _rows(slug)
    assert {r.user_id for r in rows} == {user_id(email), member}
    assert all(r.url == "/deals/7" and r.emailed_at and r.read_at is None for r in rows)

    assert _notify(app, slug, [member], title="Quiet one", email=False) == 1
    run_jobs()
    assert len(mailbox(member_email)) == 1


def test_the_same_event_notifies_once_even_from_two_processes(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    assert _notify(app, slug, [me], title="Won", key="deal:7:won") == 1
    assert _notify(app, slug, [me], title="Won", key="deal:7:won") == 0
    assert _notify(app, slug, [me], title="Won again", key="deal:7:won:2") == 1
    run_jobs()
    assert sorted(m["subject"] for m in mailbox(email)) == ["Won", "Won again"]

    # Two units of work racing with one key: the database lets exactly one through.
    results = []

    def other_process():
        results.append(_notify(app, slug, [me], title="Race", key="race"))

    with app.app_context(), db.scope(tenant_ref(slug)):
        results.append(service.notify([me], kind="workflow", title="Race", key="race"))
        racer = threading.Thread(target=other_process)
        racer.start()  # waits on our uncommitted row, then sees it
    racer.join(timeout=30)
    assert not racer.is_alive() and sorted(results) == [0, 1]
    assert len(_rows(slug, key="race")) == 1
    run_jobs()
    assert [m["subject"] for m in mailbox(email)].count("Race") == 1


def test_an_e_mail_job_that_runs_twice_sends_once(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    _notify(app, slug, [user_id(email)], title="Just once")
    run_jobs()
    (row,) = _rows(slug)
    with app.app_context(), db.scope(tenant_ref(slug)):
        enqueue(send_notification_email, row.id)  # a retry, or a duplicate delivery
    run_jobs()
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert send_notification_email(row.id) == "already sent"
    run_jobs()
    assert len(mailbox(email)) == 1


def test_only_members_of_the_tenant_are_notified(app, client, make_client):
    slug, email = signup(client)
    outsider_slug, outsider_email = signup(make_client())
    outsider = user_id(outsider_email)
    assert _notify(app, slug, [outsider]) == 0
    assert _notify(app, slug, [outsider, user_id(email)]) == 1
    assert [r.user_id for r in _rows(slug)] == [user_id(email)]
    assert _rows(outsider_slug) == []


def test_the_bell_counts_unread_notifications_in_the_tenant_only(app, client):
    slug, email = signup(client)
    me = user_id(email)
    home = f"/app/{slug}/"
    assert _bell(client.get(home).get_data(as_text=True)) == ""  # a bell, nothing to read
    for i in range(3):
        _notify(app, slug, [me], title=f"Note {i}", email=False)
    assert _bell(client.get(home).get_data(as_text=True)) == "3"
    assert _bell(client.get("/tenants").get_data(as_text=True)) is None  # outside a company

    with app.app_context(), db.scope(tenant_ref(slug)):
        for i in range(120):
            service.notify([me], kind="workflow", title=f"Bulk {i}", email=False)
    assert _bell(client.get(home).get_data(as_text=True)) == "99+"


def test_the_list_shows_newest_first_and_reading_follows_the_link(app, client):
    slug, email = signup(client)
    me = user_id(email)
    _notify(app, slug, [me], title="Older, no page", email=False)
    _notify(app, slug, [me], title="Newer, a deal", url="/deals/42", body="Worth a look")
    _notify(app, slug, [me], title="Elsewhere", url="https://evil.example/x", email=False)
    older, newer, elsewhere = _rows(slug)
    assert elsewhere.url == ""  # never a link out of the tenant

    page = client.get(f"/app/{slug}/notifications/").get_data(as_text=True)
    assert page.index("Elsewhere") < page.index("Newer, a deal") < page.index("Older, no page")
    assert page.count('class="notification unread"') == 3 and "Worth a look" in page

    resp = post(client, f"/app/{slug}/notifications/{newer.id}/read")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/app/{slug}/deals/42"
    resp = post(client, f"/app/{slug}/notifications/{older.id}/read")
    assert resp.headers["Location"] == f"/app/{slug}/notifications/"
    assert [r.read_at is not None for r in _rows(slug)] == [True, True, False]
    page = client.get(f"/app/{slug}/notifications/").get_data(as_text=True)
    assert page.count('class="notification unread"') == 1 and _bell(page) == "1"

    resp = post(client, f"/app/{slug}/notifications/read-all")
    assert resp.status_code == 302
    assert all(r.read_at is not None for r in _rows(slug))
    page = client.get(f"/app/{slug}/notifications/").get_data(as_text=True)
    assert "unread" not in page and _bell(page) == "" and "Mark all as read" not in page


def test_a_member_reads_their_own_notifications_but_never_anyone_elses(app, client, make_client):
    slug, email = signup(client)
    member_email, member = add_member(slug, "member")
    viewer_email, viewer = add_member(slug, "readonly")
    for uid, title in ((user_id(email), "For the owner"), (member, "For the member")):
        _notify(app, slug, [uid], title=title, email=False)
    _notify(app, slug, [viewer], title="For the viewer", email=False)
    owners, members, _ = _rows(slug)
    browser = make_client()
    login(browser, member_email)

    page = browser.get(f"/app/{slug}/notifications/").get_data(as_text=True)
    assert "For the member" in page and "For the owner" not in page and _bell(page) == "1"
    assert post(browser, f"/app/{slug}/notifications/{owners.id}/read").status_code == 404
    assert post(browser, f"/app/{slug}/notifications/999999/read").status_code == 404
    assert post(browser, f"/app/{slug}/notifications/{members.id}/read").status_code == 302
    post(browser, f"/app/{slug}/notifications/read-all")
    owners, members, viewers = _rows(slug)
    assert owners.read_at is None and members.read_at is not None and viewers.read_at is None
    assert _bell(client.get(f"/app/{slug}/").get_data(as_text=True)) == "1"

    # A read-only user sees their own under the bell and in the list.
    viewer_browser = make_client()
    login(viewer_browser, viewer_email)
    page = viewer_browser.get(f"/app/{slug}/notifications/").get_data(as_text=True)
    assert "For the viewer" in page and "For the member" not in page and _bell(page) == "1"
    # and marks them read: their own state, not the company's data
    assert post(viewer_browser, f"/app/{slug}/notifications/{viewers.id}/read").status_code == 302
    assert _rows(slug)[2].read_at is not None


def test_another_company_cannot_see_or_mark_a_notification(app, client, make_client):
    slug_a, email_a = signup(client)
    _notify(app, slug_a, [user_id(email_a)], title="Only for A", email=False)
    (row,) = _rows(slug_a)
    other = make_client()
    slug_b, _ = signup(other)

    assert other.get(f"/app/{slug_a}/notifications/").status_code == 404
    assert post(other, f"/app/{slug_a}/notifications/{row.id}/read").status_code == 404
    assert post(other, f"/app/{slug_a}/notifications/read-all").status_code == 404
    assert post(other, f"/app/{slug_b}/notifications/{row.id}/read").status_code == 404
    post(other, f"/app/{slug_b}/notifications/read-all")
    page = other.get(f"/app/{slug_b}/notifications/").get_data(as_text=True)
    assert "Only for A" not in page and _bell(page) == ""
    assert _rows(slug_a)[0].read_at is None
    assert _bell(client.get(f"/app/{slug_a}/").get_data(as_text=True)) == "1"


def test_nothing_is_sent_when_the_unit_of_work_rolls_back(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    _drain(app, run_jobs)
    with pytest.raises(RuntimeError), app.app_context(), db.scope(tenant_ref(slug)):
        assert service.notify([user_id(email)], kind="workflow", title="Never") == 1
        raise RuntimeError("the write that notified failed")
    with app.app_context():
        assert get_queue("notifications").count == 0
    run_jobs()
    assert mailbox(email) == [] and _rows(slug) == []


def test_a_suspended_company_page_renders_without_a_bell(app, client):
    from saas.tenants.models import Tenant

    slug, email = signup(client)
    _notify(app, slug, [user_id(email)], email=False)
    with db.scope() as s:
        s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one().status = "suspended"
    resp = client.get(f"/app/{slug}/")
    assert resp.status_code == 403 and _bell(resp.get_data(as_text=True)) is None


# -- many at once ----------------------------------------------------------------------------


def _batch(app, slug, calls, fail=False) -> None:
    """``notify()`` calls ((user_ids, kwargs), ...) inside one ``batched()`` unit of work."""
    with app.app_context(), db.scope(tenant_ref(slug)), service.batched():
        for user_ids, kwargs in calls:
            assert service.notify(user_ids, **kwargs) == 0  # collected, not created yet
        if fail:
            raise RuntimeError("the import failed")


def test_a_batch_gives_each_user_one_summary_per_kind(app, client, make_client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    mia_email, mia = add_member(slug, "member", name="Mia Wong")
    _, zoe = add_member(slug, "member")
    outsider = user_id(signup(make_client())[1])
    calls = [
        ([mia], {"kind": "assigned", "title": f"Assigned to you: Lead {i}",
                 "url": f"/leads/{i}", "key": f"import:9:{i}"})
        for i in range(42)
    ]  # fmt: skip
    calls += [
        ([mia, zoe], {"kind": "import_finished", "title": "Import done", "key": "import:9"}),
        ([zoe], {"kind": "assigned", "title": "Assigned to you: Lead 0", "url": "/leads/0",
                 "key": "import:9:0"}),
        ([zoe], {"kind": "assigned", "title": "Assigned to you: Lead 0", "url": "/leads/0",
                 "key": "import:9:0"}),  # the same event twice is one
        ([outsider, me], {"kind": "mention", "title": "Unkeyed A"}),
        ([me], {"kind": "mention", "title": "Unkeyed B"}),
    ]  # fmt: skip
    _batch(app, slug, calls)
    summary, finished = _rows(slug, user_id=mia)
    assert summary.kind == "assigned" and summary.title == "42 records were assigned to you"
    assert summary.body.splitlines() == [
        *(f"Assigned to you: Lead {i}" for i in range(5)),
        "… and 37 more.",
    ]
    assert summary.key.startswith("batch:assigned:") and summary.url == ""
    assert finished.title == "Import done" and finished.key == "import:9"
    zoes = _rows(slug, user_id=zoe)
    assert [(r.title, r.key, r.url) for r in zoes] == [
        ("Import done", "import:9", ""),
        ("Assigned to you: Lead 0", "import:9:0", "/leads/0"),
    ]
    (mine,) = _rows(slug, user_id=me)
    assert mine.title == "You were mentioned in 2 notes" and mine.key is None
    assert mine.body == "Unkeyed A\nUnkeyed B"
    run_jobs()
    assert sorted(m["subject"] for m in mailbox(mia_email)) == [
        "42 records were assigned to you",
        "Import done",
    ]

    # The same batch again (a retried import): nobody is notified twice.
    _batch(app, slug, calls[:-2])
    assert len(_rows(slug, user_id=mia)) == 2 and len(_rows(slug, user_id=zoe)) == 2
    run_jobs()
    assert len(mailbox(mia_email)) == 2

    # A batch that fails notifies nobody; outside a batch nothing changed.
    with pytest.raises(RuntimeError):
        _batch(app, slug, [([mia], {"kind": "workflow", "title": "Never"})], fail=True)
    assert _rows(slug, title="Never") == []
    assert _notify(app, slug, [mia], title="Single", kind="workflow") == 1


def test_a_muted_kind_notifies_nobody(app, client):
    slug, email = signup(client)
    me = user_id(email)
    with app.app_context(), db.scope(tenant_ref(slug)):
        with service.muted("assigned"):
            assert service.notify([me], kind="assigned", title="Hushed") == 0
            assert service.notify([me], kind="workflow", title="Heard") == 1
        with service.muted():
            assert service.notify([me], kind="workflow", title="All hushed") == 0
        assert service.notify([me], kind="assigned", title="Heard again") == 1
    assert [r.title for r in _rows(slug)] == ["Heard", "Heard again"]


def test_without_an_application_a_notification_stays_in_the_app(app, client, run_jobs, mailbox):
    """A bare script writing records has no job queue: the write still succeeds."""
    slug, email = signup(client)
    with db.scope(tenant_ref(slug)):
        assert service.notify([user_id(email)], kind="workflow", title="Scripted") == 1
    (row,) = _rows(slug)
    assert row.channel == "in_app"
    run_jobs()
    assert mailbox(email) == []
