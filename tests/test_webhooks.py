"""Outbound webhooks against a real HTTP receiver on 127.0.0.1: signatures (checked by
the README's own snippet), payloads, retries, ordering, redelivery, auto-disable, the
outbox's transaction, bulk imports, filters, the admin pages and tenant isolation."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select, update

from saas.db import db, session
from saas.jobs import enqueue
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.webhooks import events
from saas.modules.webhooks.jobs import sweep_webhooks
from saas.modules.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from saas.modules.webhooks.payload import record_json
from tests.conftest import login, post, signup
from tests.factories import add_member, tenant_ref, user_id
from tests.factories import make as _make

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_verify():
    """The ``verify`` function exactly as the README's Webhooks section shows it."""
    section = README.read_text().split("## Webhooks", 1)[1]
    block = next(b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "def verify(" in b)
    namespace: dict = {}
    exec(compile(_dedent(block), "README.md", "exec"), namespace)  # noqa: S102
    return namespace["verify"]


def _dedent(block: str) -> str:
    lines = block.splitlines()
    margin = min(len(ln) - len(ln.lstrip()) for ln in lines if ln.strip())
    return "\n".join(ln[margin:] for ln in lines)


class Receiver:
    """An HTTP endpoint that records what it gets and answers with the codes queued
    for a path (200 once they run out)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.codes: dict[str, list[int]] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append({"path": self.path, "headers": self.headers, "body": body})
                queued = owner.codes.get(self.path) or []
                code = queued.pop(0) if queued else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"broken on purpose" if code >= 400 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def got(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def events(self, path: str) -> list[dict]:
        return [json.loads(r["body"]) for r in self.got(path)]


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def subscribe(client, slug, url, events_=("*",), objects=(), description=""):
    form = {"url": url, "description": description, "events": list(events_)}
    form["objects"] = list(objects)
    resp = post(client, f"/app/{slug}/settings/webhooks/new", form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rstrip("/").split("/")[-1])


def sub_row(slug, sub_id) -> WebhookSubscription:
    with db.scope(tenant_ref(slug)) as s:
        found = s.get(WebhookSubscription, sub_id)
        s.expunge(found)
        return found


def deliveries(slug, sub_id) -> list[WebhookDelivery]:
    with db.scope(tenant_ref(slug)) as s:
        d = WebhookDelivery
        rows = list(
            s.execute(select(d).where(d.subscription_id == sub_id).order_by(d.id)).scalars()
        )
        s.expunge_all()
        return rows


def attempts_of(slug, delivery_id) -> list[WebhookAttempt]:
    with db.scope(tenant_ref(slug)) as s:
        a = WebhookAttempt
        rows = list(
            s.execute(select(a).where(a.delivery_id == delivery_id).order_by(a.id)).scalars()
        )
        s.expunge_all()
        return rows


_APP = {}


@pytest.fixture(autouse=True)
def _remember_app(app):
    _APP["app"] = app


def make(slug, object_name, actor=None, **values) -> int:
    """A record made through the service, in a unit of work with the app (jobs enqueued)."""
    with _APP["app"].app_context():
        return _make(slug, object_name, actor, **values)


def scope(slug):
    """A tenant unit of work inside the app (so that jobs can be enqueued at its commit)."""
    from contextlib import ExitStack

    stack = ExitStack()
    stack.enter_context(_APP["app"].app_context())
    stack.enter_context(db.scope(tenant_ref(slug)))
    return stack


def make_due(slug, **values) -> None:
    """Time passes: what waits for a retry is due now."""
    with db.scope(tenant_ref(slug)) as s:
        d = WebhookDelivery
        s.execute(
            update(d)
            .where(d.status == "pending")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1), **values)
        )


def sweep(app, run_jobs) -> None:
    """The periodic job, as the scheduler runs it, then the jobs it starts."""
    with app.app_context():
        enqueue(sweep_webhooks)
    run_jobs()


def test_an_event_is_signed_and_verified_by_the_readme_snippet(client, receiver, run_jobs):
    slug, email = signup(client)
    sub_id = subscribe(client, slug, receiver.url("/sig"), ["contact.created"])
    secret = sub_row(slug, sub_id).secret
    contact_id = make(
        slug, "contact", user_id(email), last_name="Lovelace", email="ada@example.com"
    )
    run_jobs()

    (request,) = receiver.got("/sig")
    headers, body = request["headers"], request["body"]
    event = json.loads(body)
    verify = readme_verify()
    assert verify(secret, body, headers["X-CRM-Signature"])
    assert not verify(secret, body + b" ", headers["X-CRM-Signature"])  # tampered body
    assert not verify("whsec_wrong", body, headers["X-CRM-Signature"])
    old = re.sub(r"t=\d+", "t=1000000000", headers["X-CRM-Signature"])
    assert not verify(secret, body, old)  # a replayed old message
    assert headers["Content-Type"] == "application/json"
    assert headers["X-CRM-Event"] == "contact.created" == event["type"]
    assert headers["X-CRM-Event-Id"] == event["id"]
    assert event["tenant"] == slug
    assert event["data"]["object"] == "contact" and event["data"]["id"] == contact_id
    record = event["data"]["record"]
    assert record["last_name"] == "Lovelace" and record["email"] == "ada@example.com"
    (row,) = deliveries(slug, sub_id)
    assert headers["X-CRM-Delivery"] == str(row.id)
    assert row.status == "delivered" and row.attempts == 1
    (attempt,) = attempts_of(slug, row.id)
    assert attempt.status_code == 200 and attempt.error is None


def test_record_json_has_custom_fields_and_json_values(client):
    slug, _email = signup(client)
    resp = post(
        client, f"/app/{slug}/customize/contacts/fields/new", {"type": "number", "label": "Seats"}
    )
    assert resp.status_code == 302
    deal_id = make(slug, "deal", amount="1234.50")
    with scope(slug):
        contact = records.create(get("contact"), {"last_name": "Custom", "cf_seats": "12"})
        out = record_json(get("contact"), contact)
        assert out["id"] == contact.id and out["cf_seats"] == "12.00"  # decimals as text
        deal = json.loads(
            json.dumps(record_json(get("deal"), session().get(get("deal").model, deal_id)))
        )
        assert deal["amount"] == "1234.50" and isinstance(deal["created_at"], str)


def test_a_failed_delivery_is_retried_with_the_same_event_id_until_it_succeeds(
    app, client, receiver, run_jobs
):
    slug, _email = signup(client)
    receiver.codes["/retry"] = [500]
    sub_id = subscribe(client, slug, receiver.url("/retry"), ["*.created"])
    make(slug, "account", name="Retry Ltd")
    run_jobs()
    (row,) = deliveries(slug, sub_id)
    assert len(receiver.got("/retry")) == 1
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 500)
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=20)  # backing off
    sweep(app, run_jobs)
    assert len(receiver.got("/retry")) == 1  # not due yet: nothing sent

    make_due(slug)
    sweep(app, run_jobs)
    first, second = receiver.got("/retry")
    assert first["headers"]["X-CRM-Event-Id"] == second["headers"]["X-CRM-Event-Id"]
    assert first["body"] == second["body"]
    (row,) = deliveries(slug, sub_id)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert [a.status_code for a in attempts_of(slug, row.id)] == [500, 200]
    assert "broken on purpose" in attempts_of(slug, row.id)[0].error

    page = client.get(f"/app/{slug}/settings/webhooks/{sub_id}/deliveries/{row.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "HTTP 500: broken on purpose" in html and " ms" in html
    # Delivered is final: the sweep never sends it again, even if it looks due.
    with db.scope(tenant_ref(slug)) as s:
        s.execute(
            update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC) - timedelta(days=1))
        )
    sweep(app, run_jobs)
    assert len(receiver.got("/retry")) == 2


def test_retries_stop_a_day_after_the_first_attempt(app, client, receiver, run_jobs):
    slug, _email = signup(client)
    receiver.codes["/giveup"] = [503] * 5
    sub_id = subscribe(client, slug, receiver.url("/giveup"), ["account.created"])
    make(slug, "account")
    run_jobs()
    make_due(slug, window_start=datetime.now(UTC) - timedelta(hours=25))
    sweep(app, run_jobs)
    (row,) = deliveries(slug, sub_id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert sub_row(slug, sub_id).active  # its endpoint failed for minutes, not a day


def test_events_of_one_record_arrive_in_order(app, client, receiver, run_jobs):
    slug, _email = signup(client)
    receiver.codes["/order"] = [500]
    sub_id = subscribe(client, slug, receiver.url("/order"), ["*"], objects=["contact"])
    first = make(slug, "contact", last_name="First")
    with scope(slug):
        record = records.get_record(get("contact"), first)
        records.update(get("contact"), record, {"title": "CEO"})
    with scope(slug):
        record = records.get_record(get("contact"), first)
        records.update(get("contact"), record, {"title": "Chair"})
    other = make(slug, "contact", last_name="Other")
    run_jobs()
    got = receiver.events("/order")
    # The first event failed: the later ones of that record wait; another record's does not.
    assert [(e["type"], e["data"]["id"]) for e in got] == [
        ("contact.created", first),
        ("contact.created", other),
    ]
    make_due(slug)
    sweep(app, run_jobs)
    mine = [e for e in receiver.events("/order") if e["data"]["id"] == first]
    assert [e["type"] for e in mine] == ["contact.created"] * 2 + ["contact.updated"] * 2
    assert [e["data"]["changes"]["title"] for e in mine[2:]] == [[None, "CEO"], ["CEO", "Chair"]]
    assert {d.status for d in deliveries(slug, sub_id)} == {"delivered"}


def test_a_claimed_delivery_is_not_claimed_twice(client, receiver):
    from saas.modules.webhooks import delivery

    slug, _email = signup(client)
    receiver.codes["/claim"] = []
    sub_id = subscribe(client, slug, receiver.url("/claim"), ["contact.created", "contact.updated"])
    contact_id = make(slug, "contact")
    with scope(slug):
        records.update(
            get("contact"), records.get_record(get("contact"), contact_id), {"title": "x"}
        )
    ref = tenant_ref(slug)
    with db.scope(ref):
        taken = delivery.claim(sub_id, 10)
    with db.scope(ref):
        again = delivery.claim(sub_id, 10)
    # The created event is leased; the update of the same record waits behind it.
    assert [c.event_type for c in taken] == ["contact.created"] and again == []


def test_redeliver_sends_the_same_event_again(client, receiver, run_jobs):
    slug, _email = signup(client)
    sub_id = subscribe(client, slug, receiver.url("/again"), ["deal.created"])
    make(slug, "deal")
    run_jobs()
    (row,) = deliveries(slug, sub_id)
    resp = post(client, f"/app/{slug}/settings/webhooks/{sub_id}/deliveries/{row.id}/redeliver")
    assert resp.status_code == 302
    run_jobs()
    first, second = receiver.got("/again")
    assert first["body"] == second["body"]
    assert first["headers"]["X-CRM-Event-Id"] == second["headers"]["X-CRM-Event-Id"]
    assert second["headers"]["X-CRM-Delivery"] == str(row.id)
    (row,) = deliveries(slug, sub_id)
    assert row.status == "delivered" and len(attempts_of(slug, row.id)) == 2


def test_ping_and_a_rotated_secret_signs_with_both_for_a_day(client, receiver, run_jobs):
    slug, _email = signup(client)
    sub_id = subscribe(client, slug, receiver.url("/ping"), ["lead.converted"])
    old = sub_row(slug, sub_id).secret
    assert post(client, f"/app/{slug}/settings/webhooks/{sub_id}/rotate").status_code == 302
    new = sub_row(slug, sub_id).secret
    assert new != old
    page = client.get(f"/app/{slug}/settings/webhooks/{sub_id}").get_data(as_text=True)
    assert new in page and old not in page
    assert post(client, f"/app/{slug}/settings/webhooks/{sub_id}/ping").status_code == 302
    run_jobs()
    (request,) = receiver.got("/ping")
    verify = readme_verify()
    assert json.loads(request["body"])["type"] == "ping"
    assert request["headers"]["X-CRM-Signature"].count("v1=") == 2
    assert verify(new, request["body"], request["headers"]["X-CRM-Signature"])
    assert verify(old, request["body"], request["headers"]["X-CRM-Signature"])


def test_a_day_of_failures_disables_the_endpoint_and_tells_the_admins(
    app, client, receiver, run_jobs, mailbox
):
    from saas.modules.notifications.models import Notification

    slug, email = signup(client)
    receiver.codes["/down"] = [500] * 3
    sub_id = subscribe(client, slug, receiver.url("/down"), ["contact.created"])
    make(slug, "contact", last_name="Waits")
    run_jobs()
    assert sub_row(slug, sub_id).failing_since is not None
    with db.scope(tenant_ref(slug)) as s:
        s.execute(
            update(WebhookSubscription).values(
                failing_since=datetime.now(UTC) - timedelta(hours=24, minutes=1)
            )
        )
    make_due(slug)
    sweep(app, run_jobs)
    sub = sub_row(slug, sub_id)
    assert not sub.active and "HTTP 500" in sub.disabled_reason
    with db.scope(tenant_ref(slug)) as s:
        (note,) = s.execute(
            select(Notification).where(Notification.kind == "webhook_disabled")
        ).scalars()
        assert note.user_id == user_id(email) and "HTTP 500" in note.body
    assert any("Webhook endpoint disabled" in m["subject"] for m in mailbox(email))
    page = client.get(f"/app/{slug}/settings/webhooks/{sub_id}").get_data(as_text=True)
    assert "disabled-reason" in page and "Enable" in page

    make(slug, "contact", last_name="Ignored")  # a disabled endpoint receives nothing
    assert len(deliveries(slug, sub_id)) == 1
    assert post(client, f"/app/{slug}/settings/webhooks/{sub_id}/enable").status_code == 302
    run_jobs()  # 500 once more, then the retry succeeds
    make_due(slug)
    sweep(app, run_jobs)
    (row,) = deliveries(slug, sub_id)
    assert row.status == "delivered" and sub_row(slug, sub_id).active
    assert json.loads(receiver.got("/down")[-1]["body"])["data"]["record"]["last_name"] == "Waits"


def test_a_rolled_back_write_sends_nothing(client, receiver, run_jobs):
    slug, _email = signup(client)
    sub_id = subscribe(client, slug, receiver.url("/rollback"), ["account.created"])
    with pytest.raises(RuntimeError), db.scope(tenant_ref(slug)):
        records.create(get("account"), {"name": "Never"})
        raise RuntimeError("the request failed after the write")
    with scope(slug):
        try:
            with session().begin_nested():
                records.create(get("account"), {"name": "Savepoint"})
                raise records.ValidationErrors({"name": "refused later"})
        except records.ValidationErrors:
            pass
        kept = records.create(get("account"), {"name": "Kept"}).id
    run_jobs()
    assert [e["data"]["id"] for e in receiver.events("/rollback")] == [kept]
    assert len(deliveries(slug, sub_id)) == 1


def _import(client, slug, rows: list[list[str]]) -> int:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    resp = post(
        client,
        f"/app/{slug}/imports/",
        {
            "object": "contact",
            "encoding": "",
            "file": (io.BytesIO(buffer.getvalue().encode()), "p.csv"),
        },
        content_type="multipart/form-data",
    )
    import_id = int(re.search(r"/imports/(\d+)/mapping", resp.headers["Location"]).group(1))
    form = {"field_0": "first_name", "field_1": "last_name", "mode": "insert", "dedupe": ""}
    resp = post(client, f"/app/{slug}/imports/{import_id}/mapping", {**form, "action": "start"})
    assert resp.status_code == 302
    return import_id


def test_an_import_keeps_its_bulk_path_and_sends_one_event_per_record(client, receiver, run_jobs):
    slug, _email = signup(client)
    with db.scope(tenant_ref(slug)):  # nobody subscribes: imports hear nothing from us
        assert not events.on_write.wants(get("contact"), "created")
    sub_id = subscribe(client, slug, receiver.url("/bulk"), ["contact.created", "import.finished"])
    with db.scope(tenant_ref(slug)):
        assert events.on_write.wants(get("contact"), "created")
        assert records.bulk_wanted(get("contact"), "created")
        assert not records.wanted(get("contact"), "created")  # the COPY path stays
    people = [["First", "Last"]] + [[f"P{i}", f"Person {i}"] for i in range(25)]
    import_id = _import(client, slug, people)
    run_jobs()
    got = receiver.events("/bulk")
    created = [e for e in got if e["type"] == "contact.created"]
    assert len(created) == 25 == len({e["data"]["id"] for e in created})
    assert {e["data"]["record"]["last_name"] for e in created} == {f"Person {i}" for i in range(25)}
    assert all(e["data"]["record"]["created_at"] for e in created)  # whole rows, read back
    (finished,) = [e for e in got if e["type"] == "import.finished"]
    assert finished["data"]["id"] == import_id
    assert (
        finished["data"]["record"]["created"] == 25
        and finished["data"]["record"]["status"] == "done"
    )
    assert len(deliveries(slug, sub_id)) == 26


def test_bulk_listeners_get_one_delivery_per_record(client, receiver):
    slug, _email = signup(client)
    sub_id = subscribe(client, slug, receiver.url("/tell"), ["lead.updated"])
    ids = [make(slug, "lead") for _ in range(3)]
    with scope(slug):
        from saas.modules.records import bulk

        loaded = bulk.load(get("lead"), ids, plain=True)
        rows = [(i, loaded[i], {"title": "Bulk"}) for i in ids]
        written = bulk.update(get("lead"), rows, actor=None, note={})
        assert sorted(written.ids.values()) == ids
    found = deliveries(slug, sub_id)
    assert sorted(d.record_id for d in found) == ids
    assert all(json.loads(d.body)["data"]["record"]["title"] == "Bulk" for d in found)


def test_events_are_filtered_by_type_and_object(client, receiver, run_jobs):
    from saas.modules.deals.models import Stage
    from saas.modules.leads import service as leads
    from saas.modules.leads.models import Lead

    slug, email = signup(client)
    me = user_id(email)
    deals_only = subscribe(client, slug, receiver.url("/deals"), ["*.created"], objects=["deal"])
    moves = subscribe(
        client, slug, receiver.url("/moves"), ["deal.stage_changed", "lead.converted"]
    )
    make(slug, "contact")
    deal_id = make(slug, "deal", me)
    lead_id = make(slug, "lead", me, company="Converted Co")
    with scope(slug):
        stages = session().execute(select(Stage.id).order_by(Stage.position)).scalars().all()
        deal = records.get_record(get("deal"), deal_id)
        records.update(get("deal"), deal, {"stage_id": stages[1]}, actor=me)
        records.update(get("deal"), deal, {"name": "Renamed"}, actor=me)  # not a stage move
    with scope(slug):
        leads.convert(session().get(Lead, lead_id), create_deal=False, actor=me)
    run_jobs()
    assert [(e["type"], e["data"]["id"]) for e in receiver.events("/deals")] == [
        ("deal.created", deal_id)
    ]
    moved = receiver.events("/moves")
    assert [e["type"] for e in moved] == ["deal.stage_changed", "lead.converted"]
    assert moved[0]["data"]["changes"]["stage_id"] == [stages[0], stages[1]]
    assert moved[1]["data"]["record"]["status"] == "converted"
    assert len(deliveries(slug, deals_only)) == 1 and len(deliveries(slug, moves)) == 2


def test_the_form_explains_what_to_fix(app, client):
    slug, _email = signup(client)
    url = f"/app/{slug}/settings/webhooks/new"
    resp = post(client, url, {"url": "ftp://example.com/x", "events": ["contact.created"]})
    assert resp.status_code == 400 and "https://" in resp.get_data(as_text=True)
    resp = post(client, url, {"url": "https://example.com/x", "events": ["contact.exploded"]})
    assert resp.status_code == 400 and "Choose at least one event" in resp.get_data(as_text=True)
    resp = post(
        client, url, {"url": "https://example.com/x", "events": ["*"], "objects": ["ghost"]}
    )
    assert resp.status_code == 400 and "objects from the list" in resp.get_data(as_text=True)
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    try:
        resp = post(client, url, {"url": "https://127.0.0.1/x", "events": ["*"]})
        assert resp.status_code == 400 and "internal address" in resp.get_data(as_text=True)
        resp = post(client, url, {"url": "http://example.com/x", "events": ["*"]})
        assert resp.status_code == 400
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    form = client.get(url).get_data(as_text=True)
    assert 'value="deal.stage_changed"' in form and 'value="licence.restored"' in form
    sub_id = subscribe(client, slug, "https://example.com/hook", ["*"], description="ERP")
    edit = client.get(f"/app/{slug}/settings/webhooks/{sub_id}/edit").get_data(as_text=True)
    assert 'value="https://example.com/hook"' in edit and 'value="*" checked' in edit
    page = client.get(f"/app/{slug}/settings/webhooks/{sub_id}?status=nonsense&before=abc")
    assert page.status_code == 200
    settings_page = client.get(f"/app/{slug}/settings").get_data(as_text=True)
    assert f'href="/app/{slug}/settings/webhooks"' in settings_page
    assert client.get(f"/app/{slug}/settings/webhooks").status_code == 200
    assert post(client, f"/app/{slug}/settings/webhooks/{sub_id}/delete").status_code == 302
    assert client.get(f"/app/{slug}/settings/webhooks/{sub_id}").status_code == 404


def test_old_deliveries_are_purged_after_30_days(app, client, receiver, run_jobs):
    slug, _email = signup(client)
    sub_id = subscribe(client, slug, receiver.url("/purge"), ["account.created"])
    make(slug, "account")
    make(slug, "account")
    run_jobs()
    old, _new = deliveries(slug, sub_id)
    with db.scope(tenant_ref(slug)) as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == old.id)
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
    sweep(app, run_jobs)
    assert [d.id for d in deliveries(slug, sub_id)] == [_new.id]


def test_only_admins_manage_webhooks_and_tenants_never_see_each_other(
    client, make_client, receiver, run_jobs
):
    slug_a, _ = signup(client)
    a_first = subscribe(client, slug_a, receiver.url("/a"), ["*"])
    a_second = subscribe(client, slug_a, receiver.url("/a"), ["*"])
    make(slug_a, "contact")
    run_jobs()
    (a_delivery, *_rest) = deliveries(slug_a, a_first)

    other = make_client()
    slug_b, _ = signup(other)
    b_sub = subscribe(other, slug_b, receiver.url("/b"), ["*"])
    assert b_sub == a_first  # each schema numbers its own: the same id, two endpoints
    before = len(receiver.got("/a"))
    make(slug_b, "contact")
    run_jobs()
    assert len(receiver.got("/a")) == before and len(receiver.got("/b")) == 1

    base = f"/app/{slug_b}/settings/webhooks/{a_second}"
    for url in (base, f"{base}/edit", f"{base}/deliveries/{a_delivery.id}"):
        assert other.get(url).status_code == 404, url
    for action in ("edit", "ping", "enable", "disable", "rotate", "delete",
                   f"deliveries/{a_delivery.id}/redeliver"):  # fmt: skip
        assert post(other, f"{base}/{action}", {"url": "https://x.example"}).status_code == 404
    # The same delivery id under B's own endpoint is B's own delivery, never A's.
    page = other.get(f"/app/{slug_b}/settings/webhooks/{b_sub}/deliveries/{a_delivery.id}")
    html = page.get_data(as_text=True)
    assert slug_b in html and str(a_delivery.event_id) not in html
    assert other.get(f"/app/{slug_a}/settings/webhooks/").status_code == 404  # not a member
    assert sub_row(slug_a, a_second).active and len(deliveries(slug_a, a_first)) == 1

    email, _uid = add_member(slug_a, "member")
    member = make_client()
    login(member, email)
    assert member.get(f"/app/{slug_a}/settings/webhooks/").status_code == 403
    assert post(member, f"/app/{slug_a}/settings/webhooks/{a_first}/rotate").status_code == 403
    index = client.get(f"/app/{slug_a}/settings/webhooks/").get_data(as_text=True)
    assert receiver.url("/a") in index and receiver.url("/b") not in index


def test_a_delivery_job_of_one_tenant_sends_nothing_of_another(app, client, make_client, receiver):
    from saas.modules.webhooks import jobs

    slug_a, _ = signup(client)
    sub_a = subscribe(client, slug_a, receiver.url("/ja"), ["*"])
    make(slug_a, "account")
    other = make_client()
    slug_b, _ = signup(other)
    with app.app_context(), db.scope(tenant_ref(slug_b)):
        assert jobs.deliver(sub_a) == {"delivered": 0, "failed": 0}
    assert receiver.got("/ja") == [] and deliveries(slug_a, sub_a)[0].status == "pending"


def test_event_names_cover_every_object():
    names = events.event_types()
    assert {"contact.created", "deal.restored", "licence.deleted", "deal.stage_changed",
            "lead.converted", "import.finished"} <= set(names)  # fmt: skip


def test_a_transfer_of_owners_sends_an_update_per_record(app, client, receiver, run_jobs):
    """Moving everything someone owns to someone else is set-based, but an integration
    still hears of each record's new owner."""
    slug, email = signup(client)
    owner = user_id(email)
    with app.app_context():
        _other_email, other = add_member(slug)
    ids = [make(slug, "contact", owner, last_name=f"T{i}", owner_id=owner) for i in range(3)]
    make(slug, "deal", owner, owner_id=owner)  # deals are not subscribed to
    sub_id = subscribe(client, slug, receiver.url("/moved"), ["contact.updated"])
    resp = post(client, f"/app/{slug}/owners/transfer", {"from_user": owner, "to_user": other})
    assert resp.status_code == 200
    run_jobs()
    events_ = [json.loads(r["body"]) for r in receiver.got("/moved")]
    assert sorted(e["data"]["id"] for e in events_) == sorted(ids)
    for e in events_:
        assert e["type"] == "contact.updated"
        assert e["data"]["changes"] == {"owner_id": [owner, other]}
        assert e["data"]["record"]["owner_id"] == other
    assert len(deliveries(slug, sub_id)) == 3
