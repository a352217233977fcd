"""Workflow rules: every trigger, conditions (custom fields too), run order, the recursion
guard and depth limit, actions in the write's transaction and after it (tasks, owners,
notifications, signed webhooks), time-based rules through the per-tenant job, the dry
run, the admin's builder in the browser, and one company's rules never touching another's."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from saas.db import db
from saas.modules.activities.models import Activity
from saas.modules.deals.models import Deal, Stage
from saas.modules.notifications.models import Notification
from saas.modules.records import service as records
from saas.modules.records.models import TimelineEntry
from saas.modules.records.registry import get
from saas.modules.workflows import service
from saas.modules.workflows.definition import RuleErrors
from saas.modules.workflows.models import WorkflowFiring, WorkflowRule, WorkflowRun
from tests.conftest import login, post, signup
from tests.factories import add_member, make, tenant_ref, user_id


def rule(slug, object_name="deal", *, trigger=None, conditions=(), actions=(), **extra) -> int:
    """Save a rule through the service (as the builder does); returns its id."""
    raw = {
        "object": object_name,
        "name": extra.pop("name", "Rule"),
        "active": extra.pop("active", True),
        "trigger": trigger or {"kind": "created"},
        "match": extra.pop("match", "all"),
        "conditions": list(conditions),
        "actions": list(actions),
    }
    with db.scope(tenant_ref(slug)):
        return service.save(raw).id


def runs(slug, rule_id=None, record_id=None) -> list[WorkflowRun]:
    with db.scope(tenant_ref(slug)) as s:
        stmt = select(WorkflowRun).order_by(WorkflowRun.id)
        if rule_id is not None:
            stmt = stmt.where(WorkflowRun.rule_id == rule_id)
        if record_id is not None:
            stmt = stmt.where(WorkflowRun.record_id == record_id)
        found = list(s.execute(stmt).scalars())
        s.expunge_all()
        return found


def deal(slug, deal_id) -> Deal:
    with db.scope(tenant_ref(slug)) as s:
        found = s.get(Deal, deal_id)
        s.expunge(found)
        return found


def change(slug, object_name, record_id, actor=None, **values) -> dict:
    """An edit through the service layer, as a form or the API makes it."""
    with db.scope(tenant_ref(slug)):
        otype = get(object_name)
        return records.update(otype, records.get_record(otype, record_id), values, actor=actor)


def stages(slug) -> dict[str, int]:
    with db.scope(tenant_ref(slug)) as s:
        return dict(s.execute(select(Stage.name, Stage.id)).all())


def tasks(slug, object_name, record_id) -> list[Activity]:
    with db.scope(tenant_ref(slug)) as s:
        found = list(
            s.execute(
                select(Activity)
                .where(Activity.related_object == object_name, Activity.related_id == record_id)
                .order_by(Activity.id)
            ).scalars()
        )
        s.expunge_all()
        return found


# -- triggers ----------------------------------------------------------------------------------


def test_created_rule_updates_the_record_in_the_same_transaction_and_on_its_timeline(client):
    slug, email = signup(client)
    me = user_id(email)
    rid = rule(
        slug,
        name="Big deals",
        conditions=[{"field": "amount", "op": "greater", "value": "1,000"}],
        actions=[{"kind": "update", "field": "description", "value": "Big one: call the CFO"}],
    )
    big = make(slug, "deal", me, amount="5000")
    small = make(slug, "deal", me, amount="10")
    assert deal(slug, big).description == "Big one: call the CFO"
    assert deal(slug, small).description is None
    (run,) = runs(slug, rid)  # the small deal did not match: no row for it
    assert (run.record_id, run.event, run.status) == (big, "created", "ok")
    assert run.detail["why"] == [
        {"field": "amount", "op": "greater", "value": "1000.00", "actual": "5000.00", "ok": True}
    ]
    assert run.detail["actions"][0]["changes"] == [["description", "—", "Big one: call the CFO"]]
    # The change is on the deal's timeline, with the rule that made it.
    with db.scope(tenant_ref(slug)):
        kinds = [(e.kind, e.data) for e in records.timeline(get("deal"), big)]
    assert ("workflow", {"text": "Big deals"}) in kinds
    assert any(k == "updated" and "description" in d.get("changes", {}) for k, d in kinds)
    page = client.get(f"/app/{slug}/deals/{big}").get_data(as_text=True)
    assert "Big one: call the CFO" in page

    # Same transaction: a write that rolls back takes the rule's update and run with it.
    before = len(runs(slug))
    with pytest.raises(RuntimeError), db.scope(tenant_ref(slug)):
        created = records.create(get("deal"), {"name": "Rolled back", "amount": "9000"}, actor=me)
        assert created.description == "Big one: call the CFO"
        raise RuntimeError("the request failed after the write")
    assert len(runs(slug)) == before
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(Deal).where(Deal.name == "Rolled back")).first() is None


def test_stage_changed_to_won_creates_a_task_for_the_owner_due_in_days(client):
    slug, email = signup(client)
    me = user_id(email)
    won = stages(slug)["Won"]
    rid = rule(
        slug,
        name="Won: kick-off",
        trigger={"kind": "field_changed", "field": "stage_id", "to": "won"},  # a stage by name
        actions=[
            {
                "kind": "task",
                "subject": "Kick-off for {record} ({amount})",
                "due_days": "3",
                "assignee": "owner",
                "priority": "high",
            }
        ],
    )
    deal_id = make(slug, "deal", me, name="Contoso", amount="1200")
    change(slug, "deal", deal_id, me, name="Contoso 2026")  # another field: nothing
    assert runs(slug, rid) == [] and tasks(slug, "deal", deal_id) == []

    # Moving the deal on the board (the browser's path) fires the rule.
    resp = post(client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": won})
    assert resp.status_code in {200, 302}
    (task,) = tasks(slug, "deal", deal_id)
    today = datetime.now(ZoneInfo("UTC")).date()
    assert task.kind == "task" and task.subject == "Kick-off for Contoso 2026 (1200.00)"
    assert task.owner_id == me and task.priority == "high" and not task.done
    assert task.due_at == datetime.combine(today + timedelta(days=3), time(9), UTC)
    (run,) = runs(slug, rid)
    assert run.event == "updated" and run.detail["actions"][0]["task_id"] == task.id
    page = client.get(f"/app/{slug}/deals/{deal_id}").get_data(as_text=True)
    assert "Kick-off for Contoso 2026" in page  # on the deal's timeline


def test_updated_and_deleted_triggers(client):
    slug, email = signup(client)
    me = user_id(email)
    on_change = rule(
        slug,
        name="Any change",
        trigger={"kind": "updated"},
        actions=[{"kind": "task", "subject": "Check {record}", "assignee": "owner"}],
    )
    on_delete = rule(
        slug,
        name="Gone",
        trigger={"kind": "deleted"},
        actions=[{"kind": "task", "subject": "Why was {record} deleted?", "assignee": "owner"}],
    )
    deal_id = make(slug, "deal", me, name="Fabrikam")
    assert runs(slug) == []  # created: neither rule
    change(slug, "deal", deal_id, me, amount="10")
    change(slug, "deal", deal_id, me, amount="10")  # no change: no event
    assert [r.rule_id for r in runs(slug)] == [on_change]
    resp = post(client, f"/app/{slug}/deals/{deal_id}/delete")
    assert resp.status_code == 302
    assert [r.rule_id for r in runs(slug)] == [on_change, on_delete]
    assert runs(slug)[-1].event == "deleted"
    assert [t.subject for t in tasks(slug, "deal", deal_id)] == [
        "Check Fabrikam",
        "Why was Fabrikam deleted?",
    ]


def test_conditions_changed_to_from_empty_and_any_on_a_custom_field(client):
    from saas.modules.customization.service import add_field

    slug, email = signup(client)
    me = user_id(email)
    with db.scope(tenant_ref(slug)):
        tier = add_field(
            get("deal"), {"label": "Tier", "type": "choice", "choices": "Gold\nSilver"}
        )
        tier = tier.name
    upgraded = rule(
        slug,
        name="Upgraded to Gold",
        trigger={"kind": "updated"},
        conditions=[
            {"field": tier, "op": "changed_to", "value": "Gold"},  # the label, parsed
            {"field": "close_date", "op": "is_empty"},
        ],
        actions=[{"kind": "update", "field": "probability", "value": "80"}],
    )
    downgraded = rule(
        slug,
        name="Lost Gold",
        trigger={"kind": "updated"},
        conditions=[{"field": tier, "op": "changed_from", "value": "gold"}],
        actions=[{"kind": "update", "field": "description", "value": "Was gold"}],
    )
    either = rule(
        slug,
        name="Named or valued",
        trigger={"kind": "updated"},
        match="any",
        conditions=[
            {"field": "name", "op": "contains", "value": "VIP"},
            {"field": "amount", "op": "changed"},
        ],
        actions=[{"kind": "task", "subject": "Look at {record}"}],
    )
    a = make(slug, "deal", me, name="Plain")
    change(slug, "deal", a, me, **{tier: "Silver"})
    assert runs(slug) == []
    change(slug, "deal", a, me, **{tier: "Gold"})
    assert [r.rule_id for r in runs(slug)] == [upgraded]
    assert deal(slug, a).probability == 80
    change(slug, "deal", a, me, **{tier: "Silver"})
    assert [r.rule_id for r in runs(slug)] == [upgraded, downgraded]
    b = make(slug, "deal", me, name="Other", close_date="2030-01-01")
    change(slug, "deal", b, me, **{tier: "Gold"})  # a close date: not empty
    assert [r.rule_id for r in runs(slug)] == [upgraded, downgraded]
    change(slug, "deal", b, me, name="Other vip")  # contains, ignoring capitals
    change(slug, "deal", b, me, amount="5")  # or the amount changed
    assert [r.rule_id for r in runs(slug)][-2:] == [either, either]
    (why,) = [r for r in runs(slug) if r.rule_id == either][:1]
    assert why.detail["why"][0]["ok"] is True and why.detail["why"][1]["ok"] is False


def test_rules_run_in_their_order_and_later_ones_see_earlier_changes(client):
    slug, email = signup(client)
    me = user_id(email)
    first = rule(
        slug,
        name="First",
        actions=[{"kind": "update", "field": "probability", "value": "20"}],
    )
    second = rule(
        slug,
        name="Second",
        conditions=[{"field": "probability", "op": "equals", "value": "20"}],
        actions=[{"kind": "update", "field": "description", "value": "saw 20"}],
    )
    one = make(slug, "deal", me)
    assert deal(slug, one).description == "saw 20"
    assert [r.rule_id for r in runs(slug, record_id=one)] == [first, second]
    # Second now runs first: it does not see the probability yet.
    with db.scope(tenant_ref(slug)):
        service.move(service.get_rule(second), -1)
    two = make(slug, "deal", me)
    assert deal(slug, two).description is None
    assert [r.rule_id for r in runs(slug, record_id=two)] == [first]


def test_a_rules_own_update_does_not_trigger_it_again(client):
    slug, email = signup(client)
    me = user_id(email)
    rid = rule(
        slug,
        name="Stamp",
        trigger={"kind": "updated"},
        actions=[{"kind": "update", "field": "description", "value": "touched"}],
    )
    deal_id = make(slug, "deal", me)
    change(slug, "deal", deal_id, me, amount="100")
    change(slug, "deal", deal_id, me, amount="200")
    assert [r.status for r in runs(slug, rid)] == ["ok", "ok"]  # once per user change
    assert deal(slug, deal_id).description == "touched"


def test_a_cascade_stops_at_depth_five_and_the_stop_is_in_the_history(client):
    slug, email = signup(client)
    me = user_id(email)
    ping = rule(
        slug,
        name="Ping",
        trigger={"kind": "field_changed", "field": "description", "to": "ping"},
        actions=[{"kind": "update", "field": "description", "value": "pong"}],
    )
    pong = rule(
        slug,
        name="Pong",
        trigger={"kind": "field_changed", "field": "description", "to": "pong"},
        actions=[{"kind": "update", "field": "description", "value": "ping"}],
    )
    deal_id = make(slug, "deal", me)
    change(slug, "deal", deal_id, me, description="ping")
    found = runs(slug, record_id=deal_id)
    assert [(r.rule_id, r.status) for r in found] == [
        (ping, "ok"), (pong, "ok"), (ping, "ok"), (pong, "ok"), (ping, "ok"), (pong, "stopped"),
    ]  # fmt: skip
    stopped = found[-1]
    assert stopped.detail["chain"] == ["Ping", "Pong", "Ping", "Pong", "Ping", "Pong"]
    assert "Stopped" in stopped.detail["error"]
    assert deal(slug, deal_id).description == "pong"  # the write and the cascade are kept
    page = client.get(f"/app/{slug}/automation/{pong}/runs").get_data(as_text=True)
    assert "Stopped" in page and "Ping → Pong → Ping → Pong → Ping → Pong" in page


# -- actions --------------------------------------------------------------------------------------


def _team(slug, *user_ids, round_robin=True) -> int:
    from saas.modules.teams import service as teams

    with db.scope(tenant_ref(slug)):
        team = teams.create_team(f"Team {len(user_ids)}", round_robin=round_robin)
        for uid in user_ids:
            teams.add_member(team, uid)
        return team.id


def test_assign_owner_round_robin_over_a_team(client):
    slug, email = signup(client)
    me = user_id(email)
    (_, ann), (_, bob) = add_member(slug, "member"), add_member(slug, "member")
    team = _team(slug, ann, bob)
    rid = rule(slug, name="Share deals", actions=[{"kind": "assign", "to": f"team:{team}"}])
    owners = [deal(slug, make(slug, "deal", me)).owner_id for _ in range(3)]
    assert owners == [min(ann, bob), max(ann, bob), min(ann, bob)]
    first = runs(slug, rid)[0]
    assert first.detail["actions"][0]["changes"][0][0] == "owner_id"

    # A team that does not take turns is refused when the rule is saved.
    lazy = _team(slug, ann, round_robin=False)
    with pytest.raises(RuleErrors) as exc, db.scope(tenant_ref(slug)):
        service.save(
            {
                "object": "deal",
                "name": "x",
                "trigger": {"kind": "created"},
                "actions": [{"kind": "assign", "to": f"team:{lazy}"}],
            }
        )
    assert "round-robin" in exc.value.errors["a-0-to"]


def test_notify_the_owner_and_a_team_in_the_app_and_by_email_once(app, client, run_jobs, mailbox):
    from saas.modules.workflows.jobs import send_notifications

    slug, email = signup(client)
    me = user_id(email)
    colleague, cid = add_member(slug, "member", name="Cam Colleague")
    team = _team(slug, cid, me)
    rid = rule(
        slug,
        name="Tell people",
        conditions=[{"field": "amount", "op": "greater", "value": "100"}],
        actions=[
            {"kind": "notify", "to": "owner", "title": "New deal {record}", "body": "{amount}"},
            {"kind": "notify", "to": f"team:{team}", "title": "Team: {record}"},
        ],
    )
    with app.app_context():
        deal_id = make(slug, "deal", me, name="Tailspin", amount="500")
    (run,) = runs(slug, rid)
    assert run.detail["actions"][0]["to"] == ["Pat Owner"]
    assert sorted(run.detail["actions"][1]["to"]) == ["Cam Colleague", "Pat Owner"]
    with db.scope(tenant_ref(slug)) as s:  # enqueued after the commit, not sent in it
        assert s.execute(select(func.count()).select_from(Notification)).scalar() == 0
    run_jobs()
    with db.scope(tenant_ref(slug)) as s:
        rows = s.execute(select(Notification)).scalars().all()
        got = sorted((n.user_id, n.title, n.body, n.url, n.key) for n in rows)
    path = f"/deals/{deal_id}"
    assert got == sorted(
        [
            (me, "New deal Tailspin", "500.00", path, f"wf:{run.id}:0:{me}"),
            (me, "Team: Tailspin", "", path, f"wf:{run.id}:1:{me}"),
            (cid, "Team: Tailspin", "", path, f"wf:{run.id}:1:{cid}"),
        ]
    )
    assert any("New deal Tailspin" in m["subject"] for m in mailbox(email))
    assert any("Team: Tailspin" in m["subject"] for m in mailbox(colleague))
    # Exactly once: the job running again (a retry) notifies nobody twice.
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert send_notifications(run.id, 1, [me, cid], "Team: Tailspin", "", path) == 0


class Hook:
    """A local HTTP endpoint that records what it receives and answers ``codes`` in turn."""

    def __init__(self, *codes: int):
        self.codes, self.received = list(codes), []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                hook.received.append((self.headers, body))  # case-insensitive names
                code = hook.codes.pop(0) if len(hook.codes) > 1 else hook.codes[0]
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/crm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _secret(slug, rule_id) -> str:
    with db.scope(tenant_ref(slug)):
        return service.get_rule(rule_id).actions[0]["secret"]


def _retry_scheduled_webhooks(app):
    """Move webhook jobs waiting for their retry back to the queue (their wait is over)."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from saas.extensions import redis
    from saas.jobs import get_queue

    with app.app_context():
        queue = get_queue("webhooks")
        registry = ScheduledJobRegistry(queue=queue)
        ids = registry.get_job_ids()
        for job_id in ids:
            registry.remove(job_id)
            queue.enqueue_job(Job.fetch(job_id, connection=redis()))
        return len(ids)


def test_webhook_is_signed_delivered_and_recorded(app, client, run_jobs):
    slug, email = signup(client)
    me = user_id(email)
    hook = Hook(200)
    try:
        rid = rule(
            slug,
            name="To the ERP",
            conditions=[{"field": "amount", "op": "is_not_empty"}],
            actions=[{"kind": "webhook", "url": hook.url}],
        )
        secret = _secret(slug, rid)
        assert re.fullmatch(r"[0-9a-f]{64}", secret)
        with app.app_context():
            deal_id = make(slug, "deal", me, name="Litware", amount="700")
        assert hook.received == []  # not from inside the transaction
        run_jobs()
        ((headers, body),) = hook.received
    finally:
        hook.close()
    stamp, mac = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", headers["X-CRM-Signature"]).groups()
    expected = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    assert headers["Content-Type"] == "application/json"
    (run,) = runs(slug, rid)
    data = json.loads(body)
    assert data["id"] == f"{run.id}.0" and data["event"] == "created"
    assert data["rule"] == {"id": rid, "name": "To the ERP"}
    assert (data["object"], data["record_id"]) == ("deal", deal_id)
    assert data["record"]["name"] == "Litware" and data["record"]["amount"] == "700.00"
    assert data["record"]["owner_id"] == me
    (delivery,) = run.detail["actions"][0]["deliveries"]
    assert (delivery["status"], delivery["attempt"], run.status) == (200, 1, "ok")
    page = client.get(f"/app/{slug}/automation/{rid}/runs").get_data(as_text=True)
    assert hook.url in page and "HTTP 200" in page


def test_a_failing_webhook_is_retried_and_every_attempt_recorded(app, client, run_jobs):
    slug, email = signup(client)
    me = user_id(email)
    hook = Hook(500, 200)
    try:
        rid = rule(slug, name="Flaky", actions=[{"kind": "webhook", "url": hook.url}])
        with app.app_context():
            deal_id = make(slug, "deal", me, name="Northwind")
        run_jobs()
        (run,) = runs(slug, rid)
        assert run.status == "error"
        (first,) = run.detail["actions"][0]["deliveries"]
        assert (first["status"], first["error"], first["retry"]) == (500, "HTTP 500", True)
        assert deal(slug, deal_id).name == "Northwind"  # the write stands
        assert _retry_scheduled_webhooks(app) == 1  # RQ waits, then tries again
        run_jobs()
        assert len(hook.received) == 2
        first_id = json.loads(hook.received[0][1])["id"]
        assert json.loads(hook.received[1][1])["id"] == first_id  # same event: dedupe by id
    finally:
        hook.close()
    (run,) = runs(slug, rid)
    assert run.status == "ok"
    assert [d.get("status") for d in run.detail["actions"][0]["deliveries"]] == [500, 200]
    assert [d["attempt"] for d in run.detail["actions"][0]["deliveries"]] == [1, 2]


def test_a_failing_action_is_recorded_and_never_loses_the_write(app, client):
    slug, email = signup(client)
    me = user_id(email)
    account = make(slug, "account", me, name="Soon gone")
    rid = rule(
        slug,
        name="Link and follow up",
        trigger={"kind": "updated"},
        actions=[
            {"kind": "update", "field": "account_id", "value": str(account)},
            {"kind": "update", "field": "probability", "value": "50"},
            {"kind": "task", "subject": "Follow up {record}"},
        ],
    )
    with db.scope(tenant_ref(slug)):
        otype = get("account")
        records.delete(otype, records.get_record(otype, account))
    deal_id = make(slug, "deal", me, name="Adatum")
    change(slug, "deal", deal_id, me, name="Adatum renewal")
    found = deal(slug, deal_id)
    assert found.name == "Adatum renewal"  # the user's write is kept
    assert found.account_id is None and found.probability == 50  # the other actions ran
    assert [t.subject for t in tasks(slug, "deal", deal_id)] == ["Follow up Adatum renewal"]
    (run,) = runs(slug, rid)
    assert run.status == "error"
    assert "does not exist" in run.detail["actions"][0]["error"]
    assert "error" not in run.detail["actions"][1] and "error" not in run.detail["actions"][2]
    page = client.get(f"/app/{slug}/automation/{rid}/runs").get_data(as_text=True)
    assert "does not exist" in page and "Error" in page


# -- time-based rules -------------------------------------------------------------------------


def _sweep(app, run_jobs) -> None:
    """What the scheduler does every hour: the platform job fans out per tenant."""
    from saas.jobs import enqueue
    from saas.modules.workflows.jobs import sweep_workflow_timers
    from saas.schedule import PERIODIC

    assert ("workflow-timers", sweep_workflow_timers, 3600) in PERIODIC
    with app.app_context():
        enqueue(sweep_workflow_timers)
    run_jobs()


def test_date_rule_fires_once_per_record_30_days_before_a_contract_ends(app, client, run_jobs):
    slug, email = signup(client)
    me = user_id(email)
    today = datetime.now(UTC).date()
    rid = rule(
        slug,
        "contract",
        name="Renewal talk",
        trigger={"kind": "date", "field": "end_date", "offset": "-30"},
        conditions=[{"field": "status", "op": "equals", "value": "Active"}],
        actions=[{"kind": "task", "subject": "Talk renewal: {record}", "due_days": "0"}],
    )

    def contract(days, status="active"):
        return make(slug, "contract", me, end_date=str(today + timedelta(days=days)), status=status)

    due_today, passed, later = contract(30), contract(20), contract(31)
    draft, long_ago = contract(30, "draft"), contract(-40)
    _sweep(app, run_jobs)
    fired = {r.record_id for r in runs(slug, rid)}
    assert fired == {due_today, passed}
    assert {r.event for r in runs(slug, rid)} == {"date"}
    (task,) = tasks(slug, "contract", due_today)
    assert task.subject.startswith("Talk renewal:") and task.owner_id == me
    assert task.due_at.date() == today
    with db.scope(tenant_ref(slug)) as s:
        due = dict(s.execute(select(WorkflowFiring.record_id, WorkflowFiring.due_on)).all())
    assert due == {due_today: today, passed: today - timedelta(days=10)}

    _sweep(app, run_jobs)  # again: nothing twice
    assert len(runs(slug, rid)) == 2
    assert tasks(slug, "contract", later) == tasks(slug, "contract", draft) == []
    assert tasks(slug, "contract", long_ago) == []
    change(slug, "contract", later, me, end_date=str(today + timedelta(days=29)))
    _sweep(app, run_jobs)  # a date moved into the window fires
    assert {r.record_id for r in runs(slug, rid)} == {due_today, passed, later}


def test_date_rule_on_a_date_and_time_field(app, client):
    from saas.modules.workflows.jobs import fire_timers

    slug, email = signup(client)
    me = user_id(email)
    rid = rule(
        slug,
        "activity",
        name="Overdue calls",
        trigger={"kind": "date", "field": "due_at", "offset": "1"},
        conditions=[{"field": "done", "op": "equals", "value": "no"}],
        actions=[{"kind": "notify", "to": "owner", "title": "Overdue: {record}"}],
    )
    now = datetime.now(UTC)
    old = make(slug, "activity", me, due_at=(now - timedelta(days=2)).isoformat())
    done = make(slug, "activity", me, due_at=(now - timedelta(days=2)).isoformat(), done="on")
    make(slug, "activity", me, due_at=(now + timedelta(days=1)).isoformat())
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert fire_timers()["date"] == 1
    assert [r.record_id for r in runs(slug, rid)] == [old]
    assert done not in {r.record_id for r in runs(slug)}


def test_schedule_rule_runs_once_per_slot_over_matching_records(app, client):
    from saas.modules.workflows.jobs import fire_timers

    slug, email = signup(client)
    me = user_id(email)
    won = stages(slug)["Won"]
    daily = rule(
        slug,
        name="Nightly check",
        trigger={"kind": "schedule", "every": "daily", "hour": "0"},
        conditions=[{"field": "status", "op": "equals", "value": "open"}],
        actions=[{"kind": "update", "field": "description", "value": "checked"}],
    )
    hourly = rule(
        slug,
        name="Hourly",
        trigger={"kind": "schedule", "every": "hourly"},
        conditions=[{"field": "name", "op": "contains", "value": "watch"}],
        actions=[{"kind": "update", "field": "probability", "value": "42"}],
    )
    open_ids = [make(slug, "deal", me, name=n) for n in ("One", "Watch two")]
    closed = make(slug, "deal", me, stage_id=won)
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert fire_timers()["schedule"] == 0  # made after today's slot: waits for the next
    with db.scope(tenant_ref(slug)) as s:
        s.execute(update(WorkflowRule).values(created_at=datetime.now(UTC) - timedelta(days=2)))
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert fire_timers()["schedule"] == 3  # two open deals, one watched
    assert sorted(r.record_id for r in runs(slug, daily)) == open_ids
    assert [r.record_id for r in runs(slug, hourly)] == [open_ids[1]]
    assert {r.event for r in runs(slug)} == {"schedule"}
    assert deal(slug, open_ids[0]).description == "checked"
    assert deal(slug, closed).description is None
    assert deal(slug, open_ids[1]).probability == 42
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert fire_timers()["schedule"] == 0  # this slot is done


def test_conditions_compare_with_another_field_and_a_relative_date_on_writes_and_timers(
    app, client
):
    from saas.modules.workflows.jobs import fire_timers

    slug, email = signup(client)
    me = user_id(email)
    conditions = [
        {"field": "close_date", "op": "less", "value": "today"},
        {"field": "probability", "op": "greater_or_equal", "other": "amount"},
    ]
    on_write = rule(
        slug,
        name="Overdue and likely",
        conditions=conditions,
        actions=[{"kind": "update", "field": "description", "value": "chase"}],
    )
    past = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    future = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    hit = make(slug, "deal", me, close_date=past, probability="50", amount="10")
    later = make(slug, "deal", me, close_date=future, probability="50", amount="10")
    big = make(slug, "deal", me, close_date=past, probability="50", amount="5000")
    assert [r.record_id for r in runs(slug, on_write)] == [hit]
    (run,) = runs(slug, on_write)
    assert [(w["value"], w["ok"]) for w in run.detail["why"]] == [
        ("today", True),
        ("Amount", True),
    ]
    listing = client.get(f"/app/{slug}/automation/").get_data(as_text=True)
    assert "Expected close is less than today" in listing
    assert "Probability (%) is greater than or equal to Amount" in listing

    # The same conditions in SQL: a schedule rule picks the same records.
    nightly = rule(
        slug,
        name="Nightly chase",
        trigger={"kind": "schedule", "every": "hourly"},
        conditions=conditions,
        actions=[{"kind": "update", "field": "probability", "value": "99"}],
    )
    with db.scope(tenant_ref(slug)) as s:
        s.execute(update(WorkflowRule).values(created_at=datetime.now(UTC) - timedelta(days=2)))
    with app.app_context(), db.scope(tenant_ref(slug)):
        fire_timers()
    assert [r.record_id for r in runs(slug, nightly)] == [hit]
    assert deal(slug, later).probability == 50 and deal(slug, big).probability == 50

    # A change operator needs a rule that sees a change; the builder offers it only there.
    with pytest.raises(RuleErrors) as refused:
        rule(
            slug,
            trigger={"kind": "schedule", "every": "hourly"},
            conditions=[{"field": "amount", "op": "changed"}],
            actions=[{"kind": "update", "field": "probability", "value": "1"}],
        )
    assert "c-0-op" in refused.value.errors
    form = post(
        client,
        f"/app/{slug}/automation/new",
        _form(do="refresh", trigger="schedule", **{"c-0-op": "greater_or_equal"}),
    ).get_data(as_text=True)
    assert 'value="greater_or_equal" selected' in form and 'value="changed_to"' not in form
    form = post(client, f"/app/{slug}/automation/new", _form(do="refresh")).get_data(as_text=True)
    assert 'value="changed_to"' in form


# -- dry run -----------------------------------------------------------------------------------


def _written(slug) -> tuple:
    """Counts of everything a rule could write, and of queued jobs."""
    from saas.extensions import redis

    with db.scope(tenant_ref(slug)) as s:
        counts = tuple(
            s.execute(select(func.count()).select_from(model)).scalar()
            for model in (WorkflowRun, Activity, TimelineEntry, Notification, WorkflowFiring)
        )
    queued = sum(redis().llen(f"rq:queue:{q}") for q in ("notifications", "webhooks", "default"))
    return counts, queued


def test_dry_run_shows_matches_and_changes_and_writes_nothing(app, client):
    slug, email = signup(client)
    me = user_id(email)
    won = stages(slug)["Won"]
    rid = rule(
        slug,
        name="Won deals",
        active=False,
        trigger={"kind": "field_changed", "field": "stage_id", "to": "Won"},
        actions=[
            {"kind": "update", "field": "description", "value": "Hand over to delivery"},
            {"kind": "task", "subject": "Kick-off {record}", "due_days": "2"},
            {"kind": "notify", "to": "owner", "title": "Won {record}"},
            {"kind": "webhook", "url": "https://erp.example.com/hooks"},
        ],
    )
    winner = make(slug, "deal", me, name="Winner", stage_id=won)
    for name in ("Open one", "Open two"):
        make(slug, "deal", me, name=name)
    with app.app_context():
        before = _written(slug)
        page = client.get(f"/app/{slug}/automation/{rid}/dry-run?last=10")
        assert _written(slug) == before
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 of 3 records would match" in html
    assert "Hand over to delivery" in html and "Kick-off Winner" in html
    assert "Won Winner" in html and "Pat Owner" in html and "erp.example.com" in html
    with db.scope(tenant_ref(slug)):
        (result,) = service.dry_run(service.as_submitted(service.get_rule(rid)), record_id=winner)
    assert result["matched"] and result["would"][0]["changes"] == [
        ["description", "—", "Hand over to delivery"]
    ]
    assert result["would"][1]["due"] == str(datetime.now(UTC).date() + timedelta(days=2))

    # An unsaved rule in the builder, against one chosen record: nothing saved either.
    with app.app_context():
        resp = post(
            client,
            f"/app/{slug}/automation/new",
            {
                "do": "dry_run",
                "object": "deal",
                "name": "Try",
                "trigger": "created",
                "c_rows": "1",
                "c-0-field": "name",
                "c-0-op": "contains",
                "c-0-value": "win",
                "a_rows": "1",
                "a-0-kind": "update",
                "a-0-field": "probability",
                "a-0-value": "99",
                "dry_record": str(winner),
            },
        )
        assert _written(slug) == before
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "1 of 1 records would match" in html and "99" in html
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(func.count()).select_from(WorkflowRule)).scalar() == 1
        assert s.get(Deal, winner).probability != 99


# -- the builder ------------------------------------------------------------------------------------


def _form(**values) -> dict:
    form = {
        "object": "deal",
        "name": "Won: kick-off",
        "active": "on",
        "trigger": "field_changed",
        "trigger_field": "stage_id",
        "match": "all",
        "c_rows": "1",
        "c-0-field": "amount",
        "c-0-op": "greater",
        "c-0-value": "1000",
        "a_rows": "1",
        "a-0-kind": "task",
        "a-0-subject": "Kick-off with {record}",
        "a-0-due_days": "2",
        "a-0-assignee": "owner",
        "do": "save",
    }
    form.update(values)
    return form


def _rules(slug) -> list[WorkflowRule]:
    with db.scope(tenant_ref(slug)) as s:
        found = list(s.execute(select(WorkflowRule).order_by(WorkflowRule.id)).scalars())
        s.expunge_all()
        return found


def test_builder_creates_edits_copies_orders_and_switches_rules(client):
    slug, email = signup(client)
    won = stages(slug)["Won"]
    base = f"/app/{slug}/automation"
    page = client.get(f"{base}/").get_data(as_text=True)
    assert "No rules yet" in page
    form = client.get(f"{base}/new?object=deal").get_data(as_text=True)
    assert 'name="trigger"' in form and "Add a condition" in form
    assert "campaign" in form  # says why "add to a campaign" is not offered yet

    # Adding a row re-renders the form with the values kept (no JavaScript needed).
    resp = post(client, f"{base}/new", _form(do="add_condition", name="Kept"))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'name="c_rows" value="2"' in html and 'value="Kept"' in html
    assert 'name="c-1-field"' in html and _rules(slug) == []
    resp = post(client, f"{base}/new", _form(do="refresh", **{"a-0-kind": "webhook"}))
    assert 'name="a-0-url"' in resp.get_data(as_text=True)

    resp = post(client, f"{base}/new", _form(trigger_to=str(won)))
    assert resp.status_code == 302
    (saved,) = _rules(slug)
    assert (saved.active, saved.match, saved.position) == (True, "all", 0)
    assert saved.trigger == {
        "kind": "field_changed",
        "field": "stage_id",
        "from": None,
        "to": str(won),
    }
    assert saved.conditions == [{"field": "amount", "op": "greater", "value": "1000.00"}]
    assert saved.actions == [
        {"kind": "task", "subject": "Kick-off with {record}", "due_days": 2,
         "assignee": "owner", "priority": "normal"}
    ]  # fmt: skip
    listing = client.get(f"{base}/?object=deal").get_data(as_text=True)
    assert "Won: kick-off" in listing and "Stage changes to Won" in listing
    assert "if Amount is greater than 1000.00" in listing

    # Edit: the form shows the stored values; a change is saved.
    edit = client.get(f"{base}/{saved.id}/edit").get_data(as_text=True)
    assert f'<option value="{won}" selected>Won</option>' in edit
    assert 'value="1000.00"' in edit
    resp = post(client, f"{base}/{saved.id}/edit", _form(name="Won: big ones", trigger_to="Won"))
    assert resp.status_code == 302 and _rules(slug)[0].name == "Won: big ones"

    # Copy (switched off), order, switch on and off, delete.
    resp = post(client, f"{base}/{saved.id}/copy")
    assert resp.status_code == 302
    original, twin = _rules(slug)
    assert (twin.name, twin.active, twin.position) == ("Copy of Won: big ones", False, 1)
    assert resp.headers["Location"].endswith(f"/automation/{twin.id}/edit")
    post(client, f"{base}/{twin.id}/move", {"step": "up"})
    assert [r.id for r in sorted(_rules(slug), key=lambda r: r.position)] == [twin.id, saved.id]
    post(client, f"{base}/{twin.id}/active", {"active": "on"})
    assert _rules(slug)[1].active is True
    post(client, f"{base}/{saved.id}/active", {})
    assert _rules(slug)[0].active is False
    resp = post(client, f"{base}/{saved.id}/delete")
    assert resp.status_code == 302 and [r.id for r in _rules(slug)] == [twin.id]

    # Without the CSRF token nothing happens.
    assert client.post(f"{base}/{twin.id}/delete").status_code == 400
    assert len(_rules(slug)) == 1


def test_builder_shows_every_mistake_next_to_its_input_and_saves_nothing(client):
    slug, _email = signup(client)
    resp = post(
        client,
        f"/app/{slug}/automation/new",
        _form(
            name="",
            trigger="date",
            trigger_field="name",
            c_rows="2",
            **{
                "c-0-field": "nope",
                "c-1-field": "amount",
                "c-1-op": "greater",
                "c-1-value": "lots",
                "a_rows": "3",
                "a-0-subject": "",
                "a-1-kind": "webhook",
                "a-1-url": "not a web address",
                "a-2-kind": "update",
                "a-2-field": "probability",
                "a-2-value": "250",
            },
        ),
    )
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    for key, message in [
        ("name", "Give the rule a name"),
        ("trigger_field", "Choose a date field."),
        ("c-0-field", "Choose a field from the list."),
        ("c-1-value", "Amount: enter a number like 1250.50."),
        ("a-0-subject", "Give the task a subject"),
        ("a-1-url", "Enter the full address"),
        ("a-2-value", "Probability (%): use 100 or less."),
    ]:
        assert re.search(rf'id="{key}-error">{re.escape(message)}', html), key
    assert 'value="lots"' in html  # what was typed stays
    assert _rules(slug) == []


def test_only_admins_use_the_builder(client, make_client):
    slug, _email = signup(client)
    member, _ = add_member(slug, "member")
    other = make_client()
    login(other, member)
    assert other.get(f"/app/{slug}/automation/").status_code == 403
    assert post(other, f"/app/{slug}/automation/new", _form()).status_code == 403
    assert _rules(slug) == []


def test_runs_per_record_page_and_json(client):
    slug, email = signup(client)
    me = user_id(email)
    rid = rule(
        slug,
        name="Describe",
        actions=[{"kind": "update", "field": "description", "value": "from a rule"}],
    )
    deal_id = make(slug, "deal", me)
    page = client.get(f"/app/{slug}/automation/record/deals/{deal_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Describe" in html and "from a rule" in html
    data = client.get(
        f"/app/{slug}/automation/record/deals/{deal_id}", headers={"Accept": "application/json"}
    ).get_json()
    assert [(r["rule_id"], r["status"], r["event"]) for r in data] == [(rid, "ok", "created")]
    assert client.get(f"/app/{slug}/automation/record/deals/99999").status_code == 404
    assert client.get(f"/app/{slug}/automation/record/nothing/{deal_id}").status_code == 404


def test_another_companys_rules_are_invisible_and_never_fire(client, make_client):
    slug_a, email_a = signup(client)
    a_rule = rule(
        slug_a,
        name="A only",
        actions=[{"kind": "update", "field": "description", "value": "A's rule"}],
    )
    a_deal = make(slug_a, "deal", user_id(email_a))
    other = make_client()
    slug_b, email_b = signup(other)
    base_b = f"/app/{slug_b}/automation"
    for url in (f"{base_b}/{a_rule}/edit", f"{base_b}/{a_rule}/runs", f"{base_b}/{a_rule}/dry-run"):
        assert other.get(url).status_code == 404
    assert post(other, f"{base_b}/{a_rule}/delete").status_code == 404
    assert post(other, f"{base_b}/{a_rule}/active", {"active": "on"}).status_code == 404
    assert other.get(f"/app/{slug_a}/automation/").status_code == 404
    assert other.get(f"/app/{slug_a}/automation/record/deals/{a_deal}").status_code == 404
    assert "A only" not in other.get(f"{base_b}/").get_data(as_text=True)

    b_deal = make(slug_b, "deal", user_id(email_b))
    assert deal(slug_b, b_deal).description is None
    assert runs(slug_b) == [] and len(runs(slug_a)) == 1
    assert _rules(slug_a)[0].name == "A only"


def test_rules_that_do_not_match_cost_no_query_and_leave_no_run(client):
    from sqlalchemy import event

    slug, email = signup(client)
    me = user_id(email)
    deal_id = make(slug, "deal", me, amount="10")

    def statements(amount) -> int:
        seen = []

        def count(*args):
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            change(slug, "deal", deal_id, me, amount=amount)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    change(slug, "deal", deal_id, me, amount="11")  # warm the tenant's cached shape
    without = statements("12")
    for i in range(20):
        rule(
            slug,
            name=f"Never {i}",
            trigger={"kind": "updated"},
            conditions=[{"field": "amount", "op": "greater", "value": "1000000"}],
            actions=[{"kind": "webhook", "url": "https://example.com/x"}],
        )
        rule(
            slug,
            name=f"Other field {i}",
            trigger={"kind": "field_changed", "field": "stage_id"},
            actions=[{"kind": "task", "subject": "x"}],
        )
    change(slug, "deal", deal_id, me, amount="13")  # the rules are loaded once
    assert statements("14") == without
    assert runs(slug) == []


def test_an_update_the_database_refuses_is_an_error_of_the_run_only(client):
    from saas.modules.customization.service import add_field

    slug, email = signup(client)
    me = user_id(email)
    with db.scope(tenant_ref(slug)):
        code = add_field(get("deal"), {"label": "Code", "type": "text", "unique": "on"}).name
    rid = rule(slug, name="Same code", actions=[{"kind": "update", "field": code, "value": "X1"}])
    first = make(slug, "deal", me, name="First")
    second = make(slug, "deal", me, name="Second")  # the same code: refused by the database
    with db.scope(tenant_ref(slug)):
        otype = get("deal")
        values = {i: getattr(records.get_record(otype, i), code) for i in (first, second)}
    assert values == {first: "X1", second: None}
    assert [r.status for r in runs(slug, rid)] == ["ok", "error"]
    assert "already has this value" in runs(slug, rid)[1].detail["actions"][0]["error"]


def test_a_scheduled_rule_with_a_python_pattern_fires_only_where_it_matches(app, client):
    """Patterns are Python's: the sweep's SQL keeps every candidate, Python decides."""
    from saas.modules.workflows.jobs import fire_timers

    slug, email = signup(client)
    me = user_id(email)
    rid = rule(
        slug,
        name="Coded names",
        trigger={"kind": "schedule", "every": "hourly"},
        conditions=[{"field": "name", "op": "matches", "value": r"(?P<code>[A-Z]{2})-\d+"}],
        actions=[{"kind": "update", "field": "description", "value": "coded"}],
    )
    coded, plain = make(slug, "deal", me, name="AB-12"), make(slug, "deal", me, name="Plain")
    with db.scope(tenant_ref(slug)) as s:
        s.execute(update(WorkflowRule).values(created_at=datetime.now(UTC) - timedelta(days=1)))
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert fire_timers()["schedule"] == 1
    assert [r.record_id for r in runs(slug, rid)] == [coded]
    assert deal(slug, coded).description == "coded" and deal(slug, plain).description is None
