"""Activities: logged from a record, marked done, on the calendar in the tenant's time
zone, reminders by e-mail exactly once, and the salesperson's home page."""

import re
from datetime import UTC, datetime, timedelta

from rq.job import Job

from saas.db import db, session
from saas.jobs import enqueue, get_queue
from saas.modules.activities.jobs import send_reminder, sweep_reminders
from saas.modules.activities.models import Activity
from saas.modules.records import service
from saas.modules.records.registry import get
from saas.modules.workspace.service import update_settings
from tests.conftest import login, post, signup
from tests.factories import add_member, make, tenant_ref, user_id


def _activity(slug: str, activity_id: int) -> Activity:
    with db.scope(tenant_ref(slug)):
        return session().get(Activity, activity_id)


def _settings(slug: str, email: str, **values) -> None:
    with db.scope(tenant_ref(slug)):
        update_settings(user_id(email), **values)


def test_a_task_logged_from_a_contact_lands_on_its_timeline_and_is_marked_done(client):
    slug, email = signup(client)
    resp = post(client, f"/app/{slug}/contacts/new", {"first_name": "Ana", "last_name": "Ruiz"})
    contact_url = resp.headers["Location"]
    contact_id = int(contact_url.rstrip("/").split("/")[-1])
    page = client.get(contact_url).get_data(as_text=True)
    link = re.search(r'href="([^"]*/activities/new-for/contacts/\d+[^"]*)"', page).group(1)
    link = link.replace("&amp;", "&")
    form = client.get(link)
    assert form.status_code == 200 and "Ana Ruiz" in form.get_data(as_text=True)

    resp = post(
        client,
        link,
        {"kind": "task", "subject": "Send Ana the price list", "due_at": "2026-12-01T10:00"},
    )
    assert (
        resp.status_code == 302 and resp.headers["Location"] == f"/app/{slug}/contacts/{contact_id}"
    )
    page = client.get(contact_url).get_data(as_text=True)
    assert "Send Ana the price list" in page  # on the contact's timeline
    activity_id = int(re.search(r"/activities/(\d+)\"", page).group(1))
    activity = _activity(slug, activity_id)
    assert (activity.related_object, activity.related_id) == ("contact", contact_id)
    assert activity.owner_id == user_id(email) and not activity.done

    shown = client.get(f"/app/{slug}/activities/{activity_id}").get_data(as_text=True)
    assert f'href="/app/{slug}/contacts/{contact_id}"' in shown  # the related record, linked
    assert "Mark done" in shown

    assert post(client, f"/app/{slug}/activities/{activity_id}/done").status_code == 302
    activity = _activity(slug, activity_id)
    assert activity.done and activity.done_at is not None
    shown = client.get(f"/app/{slug}/activities/{activity_id}").get_data(as_text=True)
    assert "Reopen" in shown and "Completed" in shown  # the change is on its timeline
    assert "✓" in client.get(contact_url).get_data(as_text=True)

    post(client, f"/app/{slug}/activities/{activity_id}/reopen")
    activity = _activity(slug, activity_id)
    assert not activity.done and activity.done_at is None

    # Bad input keeps the relation and explains; unknown records are 404.
    resp = post(client, link, {"kind": "task", "subject": ""})
    assert resp.status_code == 400 and "Ana Ruiz" in resp.get_data(as_text=True)
    assert client.get(f"/app/{slug}/activities/new-for/contacts/999999").status_code == 404


def test_a_record_someone_may_not_see_cannot_get_activities(client, make_client):
    slug, owner_email = signup(client)
    _settings(slug, owner_email, visibility={"member": "own"})
    secret = make(slug, "contact", user_id(owner_email), last_name="Hidden")
    member_email, member_id = add_member(slug, "member")
    browser = make_client()
    login(browser, member_email)
    assert browser.get(f"/app/{slug}/activities/new-for/contacts/{secret}").status_code == 404
    resp = post(browser, f"/app/{slug}/activities/new-for/contacts/{secret}", {"subject": "x"})
    assert resp.status_code == 404
    theirs = make(slug, "activity", user_id(owner_email), subject="Owner only")
    assert post(browser, f"/app/{slug}/activities/{theirs}/done").status_code == 404
    assert not _activity(slug, theirs).done


def test_calendar_day_week_and_month_in_the_tenants_time_zone(client, make_client):
    slug, email = signup(client)
    me = user_id(email)
    _settings(slug, email, timezone="Asia/Shanghai")
    other_email, other = add_member(slug, "member", name="Olga Other")
    # 17:30 UTC on the 10th is 01:30 on the 11th in Shanghai; 15:00 UTC is 23:00 on the 10th.
    late = make(
        slug,
        "activity",
        me,
        subject="Night call",
        due_at=datetime(2026, 11, 10, 17, 30, tzinfo=UTC),
    )
    evening = make(
        slug,
        "activity",
        me,
        subject="Evening call",
        due_at=datetime(2026, 11, 10, 15, 0, tzinfo=UTC),
    )
    theirs = make(
        slug,
        "activity",
        other,
        subject="Olga meeting",
        kind="meeting",
        due_at=datetime(2026, 11, 12, 2, 0, tzinfo=UTC),
    )
    gone = make(
        slug,
        "activity",
        me,
        subject="Deleted call",
        due_at=datetime(2026, 11, 12, 2, 0, tzinfo=UTC),
    )
    december = make(
        slug,
        "activity",
        me,
        subject="December call",
        due_at=datetime(2026, 11, 30, 16, 30, tzinfo=UTC),
    )
    with db.scope(tenant_ref(slug)):
        service.delete(get("activity"), service.get_record(get("activity"), gone))

    def calendar(**args):
        resp = client.get(f"/app/{slug}/calendar", query_string=args)
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    day = calendar(view="day", date="2026-11-11")
    assert "Night call" in day and "01:30" in day and "Evening call" not in day
    assert f"/activities/{late}" in day  # each item links to its activity
    day = calendar(view="day", date="2026-11-10")
    assert "Evening call" in day and "23:00" in day and "Night call" not in day
    assert "Asia/Shanghai" in day

    week = calendar(view="week", date="2026-11-11")  # Monday 9th to Sunday 15th
    assert "Night call" in week and "Evening call" in week
    assert "Olga meeting" not in week and "Deleted call" not in week  # mine only by default
    everyone = calendar(view="week", date="2026-11-11", owner="all")
    assert "Olga meeting" in everyone and "Olga Other" in everyone
    assert "Night call" not in calendar(view="week", date="2026-11-11", owner=str(other))
    assert "Night call" not in calendar(view="week", date="2026-11-16")
    assert "date=2026-11-04" in week and "date=2026-11-18" in week  # previous / next

    month = calendar(view="month", date="2026-11-01")
    assert month.count('<th scope="col">') == 7
    assert "Night call" in month and "Evening call" in month
    assert "date=2026-10-01" in month and "date=2026-12-01" in month
    # Midnight-past-UTC items belong to the next local day, even across a month end.
    assert "December call" not in calendar(view="day", date="2026-11-30")
    assert "December call" in calendar(view="day", date="2026-12-01")
    assert f"/activities/{december}" in calendar(view="month", date="2026-12-15")
    assert f"/activities/{evening}" in month

    # Visibility: with "own", a member sees no one else's activities, even for "everyone".
    _settings(slug, email, visibility={"member": "own"})
    browser = make_client()
    login(browser, other_email)
    page = browser.get(
        f"/app/{slug}/calendar",
        query_string={"view": "month", "date": "2026-11-01", "owner": "all"},
    ).get_data(as_text=True)
    assert "Olga meeting" in page and "Night call" not in page
    assert theirs


def test_the_activity_list_offers_my_open_activities_and_the_calendar(client):
    slug, _ = signup(client)
    page = client.get(f"/app/{slug}/activities/").get_data(as_text=True)
    assert f"/app/{slug}/calendar" in page and f"/app/{slug}/activities/mine" in page
    resp = client.get(f"/app/{slug}/activities/mine")
    assert resp.status_code == 302
    assert "owner_id=me" in resp.headers["Location"] and "done=no" in resp.headers["Location"]


def _scheduled(app, activity_id: int) -> list:
    """The delayed reminder jobs waiting in RQ for this activity."""
    with app.app_context():
        registry = get_queue("notifications").scheduled_job_registry
        jobs = Job.fetch_many(registry.get_job_ids(), connection=registry.connection)
    return [
        j for j in jobs if j and j.func_name.endswith("send_reminder") and j.args[0] == activity_id
    ]


def test_a_reminder_is_e_mailed_once_by_its_delayed_job(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    soon = datetime.now(UTC) + timedelta(hours=1)
    with app.app_context():  # a reminder schedules a job: that needs the app
        task = make(slug, "activity", me, subject="Renewal call", remind_at=soon, due_at=soon)
    scheduled = _scheduled(app, task)
    assert len(scheduled) == 1  # a delayed job at the reminder time, queued after commit
    args = scheduled[0].args

    with app.app_context(), db.scope(tenant_ref(slug)):
        assert send_reminder(*args) == "sent"
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert send_reminder(*args) == "not due"  # the job ran twice: still one e-mail
    run_jobs()
    messages = mailbox(email)
    assert len(messages) == 1
    assert messages[0]["subject"] == "Reminder: Renewal call"
    assert f"/app/{slug}/activities/{task}" in messages[0]["body"]
    assert _activity(slug, task).reminded_at is not None

    # Moving the reminder re-arms it; the old job then does nothing.
    later = soon + timedelta(hours=2)
    with app.app_context(), db.scope(tenant_ref(slug)):
        record = service.get_record(get("activity"), task)
        service.update(get("activity"), record, {"remind_at": later}, actor=me, trusted=True)
    assert _activity(slug, task).reminded_at is None
    new_args = [j.args for j in _scheduled(app, task) if j.args != args]
    assert len(new_args) == 1
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert send_reminder(*args) == "moved"
        assert send_reminder(*new_args[0]) == "sent"
    run_jobs()
    assert len(mailbox(email)) == 2
    # Setting it into the past afterwards does not make the safety net send it again.
    with app.app_context(), db.scope(tenant_ref(slug)):
        record = service.get_record(get("activity"), task)
        past = datetime.now(UTC) - timedelta(minutes=1)
        service.update(get("activity"), record, {"remind_at": past}, actor=me, trusted=True)
    assert _activity(slug, task).reminded_at is not None


def test_no_reminder_for_done_or_deleted_activities(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    soon = datetime.now(UTC) + timedelta(hours=1)
    with app.app_context():
        done = make(slug, "activity", me, subject="Done already", remind_at=soon)
        deleted = make(slug, "activity", me, subject="Deleted one", remind_at=soon)
    assert post(client, f"/app/{slug}/activities/{done}/done").status_code == 302
    assert post(client, f"/app/{slug}/activities/{deleted}/delete").status_code == 302
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert send_reminder(done, soon.isoformat()) == "settled"
        assert send_reminder(deleted, soon.isoformat()) == "settled"
        assert send_reminder(987654321, soon.isoformat()) == "gone"
    run_jobs()
    assert mailbox(email) == []


def test_the_periodic_sweep_sends_reminders_whose_job_was_lost_once(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    now = datetime.now(UTC)
    with app.app_context():
        make(slug, "activity", me, subject="Lost reminder", remind_at=now - timedelta(minutes=5))
        make(slug, "activity", me, subject="Done", remind_at=now - timedelta(minutes=5), done=True)
        make(slug, "activity", me, subject="Ancient", remind_at=now - timedelta(days=5))
        make(slug, "activity", me, subject="Future", remind_at=now + timedelta(days=1))
    for _ in range(2):  # the sweep runs again: nothing is sent twice
        with app.app_context():
            enqueue(sweep_reminders)
        run_jobs()
    subjects = [m["subject"] for m in mailbox(email)]
    assert subjects == ["Reminder: Lost reminder"]


def test_home_shows_my_day_and_not_someone_elses_when_visibility_is_own(client, make_client):
    slug, owner_email = signup(client)
    owner = user_id(owner_email)
    _settings(slug, owner_email, visibility={"member": "own"})
    member_email, member = add_member(slug, "member", name="Mia Member")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    mine = make(slug, "activity", member, subject="Mia overdue task", kind="task", due_at=yesterday)
    make(slug, "activity", owner, subject="Owner overdue task", kind="task", due_at=yesterday)
    make(slug, "activity", member, subject="Mia finished task", due_at=yesterday, done=True)
    make(
        slug,
        "activity",
        member,
        subject="Mia demo",
        kind="meeting",
        due_at=datetime.now(UTC) + timedelta(days=2),
    )
    make(slug, "deal", member, name="Mia big deal", amount="12000", close_date="2026-12-20")
    make(slug, "deal", owner, name="Owner secret deal", amount="5000")
    make(slug, "lead", member, last_name="Newlead", company="Fresh Co")
    contact = make(slug, "contact", member, last_name="Mycontact")
    with db.scope(tenant_ref(slug)):
        record = service.get_record(get("contact"), contact)
        service.update(get("contact"), record, {"title": "Buyer"}, actor=owner, trusted=True)

    browser = make_client()
    login(browser, member_email)
    home = browser.get(f"/app/{slug}/").get_data(as_text=True)
    assert "Mia overdue task" in home and "Owner overdue task" not in home
    assert "Mia finished task" not in home
    assert "Mia demo" in home
    assert "Mia big deal" in home and "Owner secret deal" not in home and "12,000" in home
    assert "Newlead" in home
    assert "Mycontact" in home  # the owner changed my contact: in recent changes
    assert "Getting started" not in home

    resp = post(browser, f"/app/{slug}/activities/{mine}/done", {"next": f"/app/{slug}/"})
    assert resp.headers["Location"] == f"/app/{slug}/"
    home = browser.get(f"/app/{slug}/").get_data(as_text=True)
    assert "“Mia overdue task” is done." in home
    assert f'/activities/{mine}"' not in home  # no longer on the list
    # The owner's home lists the owner's own day, not the member's.
    home = client.get(f"/app/{slug}/").get_data(as_text=True)
    assert "Owner overdue task" in home and "Mia overdue task" not in home


def test_an_empty_company_is_shown_how_to_start(client):
    slug, _ = signup(client)
    home = client.get(f"/app/{slug}/").get_data(as_text=True)
    assert "Getting started" in home and "Nothing due today." in home
