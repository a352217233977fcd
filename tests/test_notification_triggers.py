"""What notifies whom: records assigned (form, bulk, transfer, workflow), @mentions in
notes, tasks due and overdue, contacts' birthdays and contract renewals; each once,
however often the sweep or the job runs."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from saas.db import db, session
from saas.jobs import enqueue
from saas.modules.activities.models import Activity
from saas.modules.contracts.jobs import contract_renewals
from saas.modules.notifications import preferences
from saas.modules.notifications.models import Notification
from saas.modules.notifications.sweeps import notify_due_tasks, send_daily_notifications
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.schedule import PERIODIC
from tests.conftest import post, signup
from tests.factories import add_member, make, tenant_ref, user_id

SETTINGS = {
    "company": "Care Co",
    "currency": "USD",
    "timezone": "UTC",
    "locale": "en",
    "date_format": "YYYY-MM-DD",
    "visibility_admin": "all",
    "visibility_member": "all",
    "visibility_readonly": "all",
}


def _rows(slug, **where) -> list[Notification]:
    with db.scope(tenant_ref(slug)) as s:
        found = list(
            s.execute(select(Notification).filter_by(**where).order_by(Notification.id)).scalars()
        )
        s.expunge_all()
        return found


def _create(app, slug, object_name, actor, **values):
    """A record written through the service, in a unit of work of the app (as a request)."""
    with app.app_context():
        return make(slug, object_name, actor, **values)


def _task(app, slug, actor, owner, due_at, **values) -> int:
    with app.app_context(), db.scope(tenant_ref(slug)):
        task = records.create(
            get("activity"),
            {"kind": "task", "subject": values.pop("subject", "Call back"), "due_at": due_at,
             "owner_id": owner, "done": False, **values},
            actor=actor,
            trusted=True,
        )  # fmt: skip
        return task.id


def _run(app, slug, job, *args):
    with app.app_context(), db.scope(tenant_ref(slug)):
        return job(*args)


# -- assigned ----------------------------------------------------------------------------------


def test_a_record_given_to_someone_else_notifies_them_and_not_oneself(
    app, client, run_jobs, mailbox
):
    slug, email = signup(client)
    me = user_id(email)
    mia_email, mia = add_member(slug, "member", name="Mia Wong")
    mine = _create(app, slug, "deal", me, name="Mine")
    given = _create(app, slug, "deal", me, name="Given", owner_id=mia)
    assert _rows(slug, user_id=me) == []
    (row,) = _rows(slug, user_id=mia)
    assert row.kind == "assigned" and row.url == f"/deals/{given}"
    assert row.title == "Assigned to you: Deal “Given”" and "Pat Owner" in row.body

    # An edit that hands it over (the form's write path), and one that takes it back.
    with app.app_context(), db.scope(tenant_ref(slug)):
        otype = get("deal")
        records.update(otype, records.get_record(otype, mine), {"owner_id": mia}, actor=me)
        records.update(otype, records.get_record(otype, mine), {"name": "Renamed"}, actor=me)
    with app.app_context(), db.scope(tenant_ref(slug)):
        otype = get("deal")
        records.update(otype, records.get_record(otype, given), {"owner_id": me}, actor=me)
    assert [r.url for r in _rows(slug, user_id=mia)] == [f"/deals/{given}", f"/deals/{mine}"]
    assert _rows(slug, user_id=me) == []  # took it back themselves
    run_jobs()
    assert len(mailbox(mia_email)) == 2 and mailbox(email) == []


def test_bulk_assign_sends_one_summary_and_one_e_mail(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    mia_email, mia = add_member(slug, "member", name="Mia Wong")
    leads = [_create(app, slug, "lead", me, last_name=f"Lead {i}") for i in range(7)]
    resp = post(client, f"/app/{slug}/leads/bulk",
                {"action": "assign", "owner_id": str(mia), "ids": [str(i) for i in leads]})  # fmt: skip
    assert resp.status_code == 302
    (row,) = _rows(slug, user_id=mia)
    assert row.kind == "assigned" and row.title == "7 records were assigned to you"
    assert row.body.count("Assigned to you: Lead") == 5 and "… and 2 more." in row.body
    run_jobs()
    (message,) = mailbox(mia_email)
    assert message["subject"] == "7 records were assigned to you"

    # One record: the notification names it.
    one = _create(app, slug, "lead", me, last_name="Solo")
    post(client, f"/app/{slug}/leads/bulk",
         {"action": "assign", "owner_id": str(mia), "ids": [str(one)]})  # fmt: skip
    assert _rows(slug, user_id=mia)[-1].title == "Assigned to you: Lead “Solo”"


def test_a_transfer_notifies_the_receiver_once_with_the_counts(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    leaver_email, leaver = add_member(slug, "member", name="Lea Ving")
    heir_email, heir = add_member(slug, "member", name="Hal Heir")
    for i in range(3):
        _create(app, slug, "lead", leaver, last_name=f"L{i}")
    _create(app, slug, "account", leaver, name="Acme")
    resp = post(client, f"/app/{slug}/owners/transfer",
                {"from_user": str(leaver), "to_user": str(heir)})  # fmt: skip
    assert resp.status_code == 200
    (row,) = _rows(slug, user_id=heir)
    assert row.kind == "assigned" and row.title == "4 records were transferred to you"
    assert "Leads: 3" in row.body and "Accounts: 1" in row.body and "Lea Ving" in row.body
    assert row.url == "/leads/?owner_id=me"
    run_jobs()
    assert len(mailbox(heir_email)) == 1
    # Taking someone's records oneself is not news to oneself.
    post(client, f"/app/{slug}/owners/transfer", {"from_user": str(heir), "to_user": str(me)})
    assert _rows(slug, user_id=me) == []


def test_a_workflow_assignment_notifies_the_new_owner(app, client, run_jobs):
    from tests.test_workflows import rule

    slug, email = signup(client)
    me = user_id(email)
    _, mia = add_member(slug, "member", name="Mia Wong")
    rule(slug, "deal", actions=[{"kind": "assign", "to": f"user:{mia}"}])
    deal_id = _create(app, slug, "deal", me, name="Routed")
    (row,) = _rows(slug, user_id=mia)
    assert row.kind == "assigned" and row.url == f"/deals/{deal_id}" and row.body == ""


def test_workflow_notify_actions_have_the_workflow_kind(app, client, run_jobs, mailbox):
    from tests.test_workflows import rule

    slug, email = signup(client)
    me = user_id(email)
    rule(slug, "deal", actions=[{"kind": "notify", "to": "owner", "title": "New {record}"}])
    _create(app, slug, "deal", me, name="Told")
    run_jobs()
    (row,) = _rows(slug, user_id=me)
    assert row.kind == "workflow" and row.title == "New Told"
    assert len(mailbox(email)) == 1


# -- mentions ----------------------------------------------------------------------------------


def test_mentions_in_a_note_notify_the_members_named_once_per_note(
    app, client, make_client, run_jobs, mailbox
):
    slug, email = signup(client)
    me = user_id(email)
    mia_email, mia = add_member(slug, "member", name="Mia Wong")
    _, zhang = add_member(slug, "member", name="张伟")
    _, lee = add_member(slug, "readonly", name="Lee Chan")
    outsider_slug, outsider_email = signup(make_client(), name="Olga Outsider")
    deal_id = _create(app, slug, "deal", me, name="Acme renewal")
    body = ("Call @Mia Wong first; @张伟请看报价. cc bob@example.com, @Olga Outsider "
            "and @pat owner (me).")  # fmt: skip
    resp = post(client, f"/app/{slug}/deals/{deal_id}/notes", {"body": body})
    assert resp.status_code == 302
    rows = _rows(slug, kind="mention")
    assert sorted(r.user_id for r in rows) == sorted([mia, zhang])
    assert all(r.url == f"/deals/{deal_id}" for r in rows)
    assert rows[0].title == "Pat Owner mentioned you in a note on “Acme renewal”"
    assert rows[0].body.startswith("Call @Mia Wong first")
    assert _rows(outsider_slug) == [] and user_id(outsider_email) not in [r.user_id for r in rows]

    # An edit that adds someone tells only them.
    with app.app_context(), db.scope(tenant_ref(slug)) as s:
        note = s.execute(select(Activity).where(Activity.kind == "note")).scalar_one()
        records.update(get("activity"), note, {"body": body + " Also @Lee."}, actor=me)
        records.update(get("activity"), note, {"body": body + " Also @Lee!"}, actor=me)
    assert sorted(r.user_id for r in _rows(slug, kind="mention")) == sorted([mia, zhang, lee])
    run_jobs()
    assert len(mailbox(mia_email)) == 1


def test_mention_syntax():
    from saas.modules.notifications.mentions import find

    people = [
        (1, "Mia Wong", "mia.wong@example.com"),
        (2, "Mia Lopez", "mlopez@example.com"),
        (3, "张伟", "zw@example.cn"),
        (4, "Bob", "bob@example.com"),
    ]
    assert find("hi @mia wong", people) == [1]
    assert find("hi @Mia", people) == []  # two Mias: say which
    assert find("hi @MiaLopez and @mia.wong", people) == [2, 1]
    assert find("@mlopez, @张伟你好", people) == [2, 3]
    assert find("write to bob@example.com", people) == []
    assert find("@bobby and @bob.", people) == [4]
    assert find("@bob@example.com @Bob", people) == [4]
    assert find("no mention here", people) == []


# -- tasks -------------------------------------------------------------------------------------


def test_a_task_notifies_its_owner_when_due_and_again_when_overdue(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    mia_email, mia = add_member(slug, "member", name="Mia Wong")
    now = datetime.now(UTC).replace(microsecond=0)
    due = _task(app, slug, me, mia, now - timedelta(minutes=5), subject="Send quote")
    later = _task(app, slug, me, mia, now + timedelta(hours=3), subject="Later")
    done = _task(app, slug, me, mia, now - timedelta(minutes=5), subject="Done", done=True)
    call = _task(app, slug, me, mia, now - timedelta(minutes=5), kind="call", subject="A call")
    assert [r.kind for r in _rows(slug, user_id=mia)] == ["assigned"] * 4
    assert _run(app, slug, notify_due_tasks, now.isoformat()) == {"due": 1, "overdue": 0}
    assert _run(app, slug, notify_due_tasks, now.isoformat()) == {"due": 0, "overdue": 0}
    (row,) = _rows(slug, kind="task_due")
    assert row.user_id == mia and row.url == f"/activities/{due}"
    assert row.title == "Task due: Send quote" and "UTC" in row.body

    # Two days on: "later" is overdue (its due day ended) and was never "due" within a day.
    two_days = (now + timedelta(days=2)).isoformat()
    with app.app_context(), db.scope(tenant_ref(slug)):
        enqueue(notify_due_tasks, two_days)
        enqueue(notify_due_tasks, two_days)  # a duplicate delivery of the same job
    run_jobs()
    overdue = _rows(slug, kind="task_overdue")
    assert sorted(r.url for r in overdue) == sorted([f"/activities/{due}", f"/activities/{later}"])
    assert all(r.title.startswith("Overdue: ") for r in overdue)
    assert len(_rows(slug, kind="task_due")) == 1
    assert not {f"/activities/{done}", f"/activities/{call}"} & {r.url for r in _rows(slug)
                                                                   if r.kind != "assigned"}  # fmt: skip

    # A new due time is a new reminder; completing a task stops the overdue one.
    with app.app_context(), db.scope(tenant_ref(slug)):
        atype = get("activity")
        records.update(atype, records.get_record(atype, due), {"due_at": now}, actor=me,
                       trusted=True)  # fmt: skip
        records.update(atype, records.get_record(atype, later), {"done": True}, actor=mia,
                       trusted=True)  # fmt: skip
    assert _run(app, slug, notify_due_tasks, (now + timedelta(minutes=1)).isoformat())["due"] == 1
    run_jobs()
    subjects = [m["subject"] for m in mailbox(mia_email)]
    assert subjects.count("Task due: Send quote") == 2 and subjects.count("Overdue: Later") == 1


def test_due_task_sweeps_are_scheduled_and_stay_in_their_tenant(app, client, make_client):
    names = {name for name, _fn, _every in PERIODIC}
    assert {"task-due-notifications", "daily-notifications"} <= names
    slug, email = signup(client)
    other_slug, other_email = signup(make_client())
    now = datetime.now(UTC)
    _task(app, slug, user_id(email), user_id(email), now - timedelta(minutes=1))
    other = _task(app, other_slug, user_id(other_email), user_id(other_email),
                  now - timedelta(minutes=1))  # fmt: skip
    assert _run(app, slug, notify_due_tasks, now.isoformat())["due"] == 1
    assert _rows(other_slug, kind="task_due") == []
    assert _run(app, other_slug, notify_due_tasks, now.isoformat())["due"] == 1
    assert [r.url for r in _rows(other_slug, kind="task_due")] == [f"/activities/{other}"]
    assert len(_rows(slug, kind="task_due")) == 1


# -- customer-care dates -------------------------------------------------------------------------


def _daily(app, slug, when: datetime) -> dict:
    return _run(app, slug, send_daily_notifications, when.isoformat())


def test_birthdays_notify_the_owner_on_the_day_once_a_year_when_switched_on(
    app, client, run_jobs, mailbox
):
    slug, email = signup(client)
    me = user_id(email)
    mia_email, mia = add_member(slug, "member", name="Mia Wong")
    ann = _create(app, slug, "contact", me, first_name="Ann", last_name="Lee",
                  birthday="1985-06-15", owner_id=mia)  # fmt: skip
    _create(app, slug, "contact", me, last_name="Tomorrow", birthday="1990-06-16", owner_id=mia)
    leap = _create(app, slug, "contact", me, first_name="Leo", last_name="Leap",
                   birthday="2000-02-29")  # fmt: skip
    morning = datetime(2027, 6, 15, 7, 30, tzinfo=UTC)

    assert _daily(app, slug, morning)["birthdays"] == 0  # off until an admin turns it on
    page = client.get(f"/app/{slug}/settings").get_data(as_text=True)
    assert "Remind owners of contacts' birthdays" in html.unescape(page)
    resp = post(client, f"/app/{slug}/settings", SETTINGS | {"birthday_reminders": "y"})
    assert resp.status_code == 302
    page = client.get(f"/app/{slug}/settings").get_data(as_text=True)
    assert re.search(r'<input checked[^>]* name="birthday_reminders"', page)

    assert _daily(app, slug, morning - timedelta(hours=1))["birthdays"] == 0  # 06:30: too early
    assert _daily(app, slug, morning)["birthdays"] == 1
    assert _daily(app, slug, morning + timedelta(hours=3))["birthdays"] == 0  # once a day
    (row,) = _rows(slug, kind="birthday")
    assert row.user_id == mia and row.url == f"/contacts/{ann}"
    assert row.title == "Birthday today: Ann Lee" and row.key == f"birthday:{ann}:2027"
    assert _daily(app, slug, morning.replace(year=2028))["birthdays"] == 1  # next year
    run_jobs()
    assert [m["subject"] for m in mailbox(mia_email)].count("Birthday today: Ann Lee") == 2

    # 29 February: on the 28th in other years, on the day in leap years.
    assert _daily(app, slug, datetime(2027, 2, 28, 9, tzinfo=UTC))["birthdays"] == 1
    assert _daily(app, slug, datetime(2028, 2, 28, 9, tzinfo=UTC))["birthdays"] == 0
    assert _daily(app, slug, datetime(2028, 2, 29, 9, tzinfo=UTC))["birthdays"] == 1
    assert [r.key for r in _rows(slug, kind="birthday", user_id=me)] == [
        f"birthday:{leap}:2027",
        f"birthday:{leap}:2028",
    ]


def test_several_birthdays_make_one_summary_in_the_owners_time_zone(app, client):
    slug, email = signup(client)
    me = user_id(email)
    post(client, f"/app/{slug}/settings",
         SETTINGS | {"birthday_reminders": "y", "timezone": "Asia/Tokyo"})  # fmt: skip
    for name in ("Ann", "Bo", "Cy"):
        _create(app, slug, "contact", me, last_name=name, birthday="1980-03-10")
    # 22:30 UTC on 9 March is 07:30 on 10 March in Tokyo.
    assert _daily(app, slug, datetime(2027, 3, 9, 21, 30, tzinfo=UTC))["birthdays"] == 0
    assert _daily(app, slug, datetime(2027, 3, 9, 22, 30, tzinfo=UTC))["birthdays"] == 3
    (row,) = _rows(slug, kind="birthday")
    assert row.title == "3 of your contacts have a birthday today"
    assert row.body.splitlines() == [
        "Birthday today: Ann",
        "Birthday today: Bo",
        "Birthday today: Cy",
    ]


def test_a_contract_renewal_notifies_the_owner_once_as_they_prefer(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    end = date.today() + timedelta(days=20)
    contract = _create(app, slug, "contract", me, name="Hosting", status="active",
                       start_date=str(end - timedelta(days=364)), end_date=str(end),
                       renewal_notice_days="30")  # fmt: skip
    for _ in range(2):
        _run(app, slug, contract_renewals)
    (row,) = _rows(slug, user_id=me)  # the task it makes is not "assigned" news as well
    assert row.kind == "renewal" and row.url == f"/contracts/{contract}"
    assert row.title.startswith("Renew contract") and "Hosting" in row.title
    assert "A task to renew it is on your list." in row.body
    run_jobs()
    (message,) = [m for m in mailbox(email) if m["subject"].startswith("Renew contract")]
    assert f"http://localhost/app/{slug}/contracts/{contract}" in message["body"]

    # In the app only: the next renewal is not e-mailed.
    with app.app_context(), db.scope(tenant_ref(slug)):
        preferences.save(me, {"renewal": "in_app"})
    second = _create(app, slug, "contract", me, name="Support", status="active",
                     start_date=str(end - timedelta(days=364)), end_date=str(end),
                     renewal_notice_days="30")  # fmt: skip
    _run(app, slug, contract_renewals)
    run_jobs()
    assert [r.url for r in _rows(slug, kind="renewal")][-1] == f"/contracts/{second}"
    assert len([m for m in mailbox(email) if m["subject"].startswith("Renew contract")]) == 1


def test_import_and_export_kinds_exist(app, client):
    slug, email = signup(client)
    with app.app_context(), db.scope(tenant_ref(slug)):
        from saas.modules.notifications.service import notify

        me = user_id(email)
        assert notify([me], kind="import_finished", title="Import done", key="import:1") == 1
        assert notify([me], kind="export_finished", title="Export ready", key="export:1") == 1
        assert session().execute(select(Notification.kind)).scalars().all() == [
            "import_finished",
            "export_finished",
        ]


def test_bulk_writes_tell_the_listener_unless_its_kinds_are_muted(app, client, run_jobs):
    """Bulk writes (imports: ``records.bulk``) keep their COPY path (the listener only
    reads what was written) and hand it the values written; an import that tells owners
    itself mutes "assigned", and then the listener does not want to hear at all."""
    from types import SimpleNamespace

    from saas.modules.notifications.service import muted
    from saas.modules.notifications.triggers import on_write

    slug, email = signup(client)
    me = user_id(email)
    _, mia = add_member(slug, "member", name="Mia Wong")
    with app.app_context(), db.scope(tenant_ref(slug)):
        contact, activity = get("contact"), get("activity")
        assert not records.wanted(contact, "created")  # the fast path stays open
        assert records.bulk_wanted(contact, "created") and records.bulk_wanted(activity, "updated")
        assert not records.bulk_wanted(contact, "deleted")
        with muted("assigned"):
            assert not records.bulk_wanted(contact, "created")
            assert records.bulk_wanted(activity, "created")  # notes may still mention people
            with muted("mention"):
                assert not records.bulk_wanted(activity, "created")
        new_id = records.create(contact, {"last_name": "Copied"}, actor=me, trusted=True).id
        written = SimpleNamespace(id=new_id, last_name="Copied", owner_id=mia, created_by=me)
        on_write(contact, written, "created", {"owner_id": (None, mia)}, me)
    (row,) = _rows(slug, user_id=mia)
    assert row.title == "Assigned to you: Contact “Copied”" and row.url == f"/contacts/{new_id}"
