"""The REST API on every object, as an integrator drives it: records are built from the
tenant's own field definitions (``/api/v1/<objects>/fields``) and the object registry,
never from a hand-written list, so a new object or a new required field is covered
the day it appears. CRUD, the recycle bin, filters, the actions (convert, move,
assign, transfer, search, fields, users), and the one service layer: validation
rules, required custom fields and workflow rules act on API writes as on the pages."""

from __future__ import annotations

import random
import string
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import saas.models  # noqa: F401  (registers every object type before collection)
from saas.db import db
from saas.modules.records import service
from saas.modules.records.registry import all_types, get
from tests.conftest import signup
from tests.factories import add_member, tenant_ref, user_id

PROBLEM = "application/problem+json"
CREATABLE = [t.name for t in all_types() if t.creatable]


def word(prefix: str = "") -> str:
    """A word of letters only, so that search finds it as one token."""
    return prefix + "".join(random.choices(string.ascii_lowercase, k=12))


class Integrator:
    """A client that knows only the API: it reads the tenant's objects and fields and
    builds valid records from them (creating the records a required lookup needs)."""

    def __init__(self, client):
        self.c = client
        resp = client.get("/api/v1/fields")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        self.objects = {o["name"]: o for o in resp.json["data"]}

    def path(self, name: str) -> str:
        return self.objects[name]["path"]

    def fields(self, name: str) -> list[dict]:
        resp = self.c.get(f"{self.path(name)}/fields")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.json["name"] == name
        return resp.json["fields"]

    def users(self) -> list[dict]:
        resp = self.c.get("/api/v1/users")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.json["data"]

    def sample(self, f: dict, tag: str):
        """A valid value of field ``f`` (a JSON field definition)."""
        kind, choices = f["type"], [c["value"] for c in f.get("choices") or ()]
        if kind in {"multichoice", "tags"}:
            return choices[:1] or [tag]
        if choices:
            return choices[0]
        if kind == "lookup":
            return self.create(f["target"])["id"]
        if kind == "user":
            return self.users()[0]["id"]
        simple = {
            "email": f"{tag}@example.com",
            "phone": "+1 555 0100",
            "url": f"https://{tag}.example.com",
            "integer": 1,
            "number": "10.00",
            "currency": "10.00",
            "percent": "10.00",
            "date": "2026-03-31",
            "datetime": "2026-03-31T09:00:00+00:00",
            "bool": True,
        }
        if kind in simple:
            return simple[kind]
        limit = f["schema"].get("maxLength") or 200
        return f"{f['name']} {tag}"[:limit]

    def body(self, name: str, tag: str | None = None) -> dict:
        """Every required writable field, and the fields whose value is one of the
        tenant's own choices (a deal's stage), filled in."""
        tag = tag or word()
        out = {}
        for f in self.fields(name):
            if f["read_only"]:
                continue
            tenant_choice = f["type"] == "integer" and f.get("choices")
            if f["required"] or tenant_choice:
                out[f["name"]] = self.sample(f, tag)
        return out

    def create(self, name: str, /, **values) -> dict:
        sent = self.body(name) | values
        resp = self.c.post(self.path(name), json=sent)
        assert resp.status_code == 201, (name, sent, resp.get_data(as_text=True))
        return resp.json


def same(f: dict, sent, got) -> bool:
    """Whether a value read back is the value sent (decimals and times normalised)."""
    if sent is None or got is None:
        return sent == got
    if f["type"] in {"number", "currency", "percent"}:
        return Decimal(str(sent)) == Decimal(got)
    if f["type"] == "datetime":
        return datetime.fromisoformat(sent) == datetime.fromisoformat(got)
    return sent == got


def editable_field(fields: list[dict]) -> dict:
    """A standard field to change with a PATCH: plain text if the object has one."""
    plain = [
        f
        for f in fields
        if not f["read_only"] and not f["custom"] and not f.get("choices") and "target" not in f
    ]
    for kind in ("text", "longtext", "date", "integer"):
        for f in plain:
            if f["type"] == kind:
                return f
    raise AssertionError(f"no field to change among {[f['name'] for f in fields]}")


def changed_value(f: dict, tag: str):
    return {"date": "2027-01-15", "integer": 7}.get(f["type"], f"Changed {tag}")


def problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM, resp.mimetype
    body = resp.json
    assert body["status"] == status and body["type"].startswith("/api/problems#")
    assert body["title"] and body["detail"]
    return body


def field_error(resp, name: str) -> str:
    body = problem(resp, 422)
    errors = {e["field"]: e["detail"] for e in body.get("errors") or ()}
    assert name in errors, body
    return errors[name]


def timeline(slug: str, name: str, record_id: int) -> list[tuple[str, dict]]:
    with db.scope(tenant_ref(slug)):
        return [(e.kind, e.data) for e in service.timeline(get(name), record_id)]


@pytest.fixture(scope="module")
def company(app):
    """One company for the CRUD sweep (each test writes its own unique values)."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = f"10.201.{random.randrange(250)}.{random.randrange(250)}"
    slug, email = signup(browser)
    return slug, email


@pytest.fixture
def integrator(company, api_key, api):
    slug, _email = company
    return Integrator(api(api_key(slug)))


# -- CRUD on every object ---------------------------------------------------------------


def test_every_object_of_the_registry_is_in_the_api(integrator):
    assert set(integrator.objects) == {t.name for t in all_types()}
    for t in all_types():
        described = integrator.objects[t.name]
        assert described["creatable"] == t.creatable
        assert described["path"] == f"/api/v1/{t.slug}"
        assert {f["name"] for f in described["fields"]} >= {f.name for f in t.standard}


@pytest.mark.parametrize("name", CREATABLE)
def test_crud_of_every_object(name, company, integrator):
    slug, _email = company
    api, path = integrator.c, integrator.path(name)
    fields = {f["name"]: f for f in integrator.fields(name)}
    sent = integrator.body(name)

    resp = api.post(path, json=sent)
    assert resp.status_code == 201, (sent, resp.get_data(as_text=True))
    created = resp.json
    record_id = created["id"]
    assert created["object"] == name
    assert resp.headers["Location"].endswith(f"{path}/{record_id}")
    for key, value in sent.items():
        assert same(fields[key], value, created[key]), (key, value, created[key])
    assert set(created) >= set(fields)

    resp = api.get(resp.headers["Location"])
    assert resp.status_code == 200 and resp.json == created

    f = editable_field(list(fields.values()))
    tag = word()
    new = changed_value(f, tag)
    resp = api.patch(f"{path}/{record_id}", json={f["name"]: new})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert same(f, new, resp.json[f["name"]])
    assert api.get(f"{path}/{record_id}").json[f["name"]] == resp.json[f["name"]]
    entries = timeline(slug, name, record_id)
    assert any(k == "created" for k, _ in entries)
    updates = [d["changes"][f["name"]] for k, d in entries if k == "updated"]
    assert updates and str(updates[0][1]) == str(resp.json[f["name"]]), entries

    resp = api.get(path, query_string={f["name"]: resp.json[f["name"]]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert [r["id"] for r in resp.json["data"]] == [record_id]

    resp = api.delete(f"{path}/{record_id}")
    assert resp.status_code == 204 and resp.get_data() == b""
    problem(api.get(f"{path}/{record_id}"), 404)
    assert record_id not in [
        r["id"] for r in api.get(path, query_string={"limit": 200}).json["data"]
    ]
    problem(api.patch(f"{path}/{record_id}", json={f["name"]: new}), 404)
    problem(api.delete(f"{path}/{record_id}"), 404)
    resp = api.post(f"{path}/{record_id}/restore")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.json["id"] == record_id
    assert api.get(f"{path}/{record_id}").status_code == 200
    problem(api.post(f"{path}/{record_id}/restore"), 404)  # no longer in the recycle bin
    kinds = [k for k, _ in timeline(slug, name, record_id)]
    assert kinds[:2] == ["restored", "deleted"], kinds


# Values an object derives from others on write: a lost reason stays only on a lost deal.
DERIVED = {("deal", "lost_reason")}


@pytest.mark.parametrize("name", CREATABLE)
def test_every_writable_field_round_trips(name, integrator):
    fields = {f["name"]: f for f in integrator.fields(name)}
    tag = word()
    sent = {n: integrator.sample(f, tag) for n, f in fields.items() if not f["read_only"]}
    resp = integrator.c.post(integrator.path(name), json=sent)
    assert resp.status_code == 201, (sent, resp.get_data(as_text=True))
    differ = {
        n: (v, resp.json[n])
        for n, v in sent.items()
        if not same(fields[n], v, resp.json[n]) and (name, n) not in DERIVED
    }
    assert not differ
    assert integrator.c.get(resp.headers["Location"]).json == resp.json


@pytest.mark.parametrize("name", CREATABLE)
def test_a_create_missing_a_required_field_names_it(name, integrator):
    required = [f for f in integrator.fields(name) if f["required"] and not f["read_only"]]
    body = integrator.body(name)
    for f in required:
        resp = integrator.c.post(integrator.path(name), json={**body, f["name"]: None})
        assert field_error(resp, f["name"])


def test_non_creatable_objects_refuse_a_post_with_a_problem(integrator, monkeypatch):
    """Objects made with their parent (none of the registry's today, so one is made so
    for the test) refuse a create with a 4xx problem."""
    for t in all_types():
        if not t.creatable:
            assert 400 <= integrator.c.post(f"/api/v1/{t.slug}", json={}).status_code < 500
    body = integrator.body("product")
    monkeypatch.setattr(get("product"), "creatable", False)
    problem(integrator.c.post("/api/v1/products", json=body), 405)
    monkeypatch.undo()
    listed = integrator.c.get("/api/v1/products", query_string={"name": body["name"]}).json
    assert listed["data"] == []
    # Quote lines have no address of their own: a problem, not an HTML page.
    problem(integrator.c.post("/api/v1/quote-lines", json={"quantity": 1}), 404)


def test_non_creatable_objects_refuse_a_bulk_create(integrator, monkeypatch):
    body = integrator.body("product")
    monkeypatch.setattr(get("product"), "creatable", False)
    for mode, key in (("create", None), ("upsert", "id")):
        payload = {"mode": mode, "records": [body]} | ({"key": key} if key else {})
        resp = integrator.c.post("/api/v1/products/bulk", json=payload)
        assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)
    monkeypatch.undo()
    listed = integrator.c.get("/api/v1/products", query_string={"name": body["name"]}).json
    assert listed["data"] == []


# -- actions -----------------------------------------------------------------------------


def test_lead_convert_creates_account_and_contact_and_optionally_a_deal(integrator):
    api = integrator.c
    company = f"Acme {word()}"
    lead = integrator.create("lead", company=company, first_name="Ada", email=f"{word()}@ex.com")
    resp = api.post(f"/api/v1/leads/{lead['id']}/convert", json={})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    done = resp.json
    assert done["account_created"] and done["contact_created"] and done["deal"] is None
    assert done["account"]["name"] == company and done["contact"]["first_name"] == "Ada"
    assert api.get(f"/api/v1/accounts/{done['account']['id']}").status_code == 200
    after = api.get(f"/api/v1/leads/{lead['id']}").json
    assert after["status"] == "converted" and after["converted_at"]
    assert (after["account_id"], after["contact_id"]) == (
        done["account"]["id"],
        done["contact"]["id"],
    )
    problem(api.post(f"/api/v1/leads/{lead['id']}/convert", json={}), 422)  # twice: refused

    stages = [c["value"] for c in _field(integrator, "deal", "stage_id")["choices"]]
    lead = integrator.create("lead", company=f"Beta {word()}")
    resp = api.post(
        f"/api/v1/leads/{lead['id']}/convert",
        json={
            "create_deal": True,
            "deal_name": "Beta rollout",
            "deal_amount": "1200",
            "stage_id": stages[1],
        },
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    deal = resp.json["deal"]
    assert (deal["name"], deal["amount"], deal["stage_id"]) == (
        "Beta rollout",
        "1200.00",
        stages[1],
    )
    assert deal["account_id"] == resp.json["account"]["id"]
    assert api.get(f"/api/v1/leads/{lead['id']}").json["deal_id"] == deal["id"]
    field_error(api.post(f"/api/v1/leads/{lead['id']}/convert", json={"bogus": 1}), "bogus")


def _field(integrator, name, field_name) -> dict:
    return next(f for f in integrator.fields(name) if f["name"] == field_name)


def test_deal_moves_to_another_stage_with_history(company, integrator):
    from saas.modules.deals import service as deals

    slug, _email = company
    api = integrator.c
    stages = [c["value"] for c in _field(integrator, "deal", "stage_id")["choices"]]
    assert len(stages) >= 2
    deal = integrator.create("deal", stage_id=stages[0])
    resp = api.post(f"/api/v1/deals/{deal['id']}/move", json={"stage_id": stages[1]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.json["stage_id"] == stages[1]
    with db.scope(tenant_ref(slug)):
        moves = [(h.from_stage_id, h.to_stage_id) for h in deals.history(deal["id"])]
    assert moves[-1] == (stages[0], stages[1])
    assert any(
        k == "updated" and "stage_id" in d.get("changes", {})
        for k, d in timeline(slug, "deal", deal["id"])
    )
    field_error(api.post(f"/api/v1/deals/{deal['id']}/move", json={}), "stage_id")
    field_error(api.post(f"/api/v1/deals/{deal['id']}/move", json={"stage_id": 10**12}), "stage_id")
    problem(api.post(f"/api/v1/deals/{10**9}/move", json={"stage_id": stages[0]}), 404)


def test_assign_an_owner_from_the_users_list(company, integrator):
    slug, email = company
    api = integrator.c
    member_email, member = add_member(slug, "member", name=f"Member {word()}")
    users = {u["email"]: u for u in integrator.users()}
    assert users[member_email]["id"] == member and users[email]["role"] == "owner"
    for name in CREATABLE:
        if not any(f["name"] == "owner_id" for f in integrator.objects[name]["fields"]):
            continue
        rec = integrator.create(name)
        path = f"{integrator.path(name)}/{rec['id']}"
        resp = api.post(f"{path}/assign", json={"owner_id": member})
        assert resp.status_code == 200, (name, resp.get_data(as_text=True))
        assert resp.json["owner_id"] == member
        assert api.get(path).json["owner_id"] == member
        changes = [d["changes"] for k, d in timeline(slug, name, rec["id"]) if k == "updated"]
        assert "owner_id" in changes[0], (name, changes)
    field_error(api.post(f"{path}/assign", json={"owner_id": "someone"}), "owner_id")
    field_error(api.post(f"{path}/assign", json={"owner_id": 10**9}), "owner_id")


def test_transfer_moves_everything_one_user_owns_with_an_admin_key(
    company, integrator, api_key, api
):
    slug, email = company
    leaving_email, leaving = add_member(slug, "member")
    owner = user_id(email)
    mine = {name: integrator.create(name, owner_id=leaving)["id"] for name in ("account", "deal")}
    resp = integrator.c.post("/api/v1/transfer", json={"from_user": leaving, "to_user": owner})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.json["moved"]["account"] == 1 and resp.json["moved"]["deal"] == 1
    for name, record_id in mine.items():
        assert integrator.c.get(f"{integrator.path(name)}/{record_id}").json["owner_id"] == owner
        assert timeline(slug, name, record_id)[0][0] == "updated"
    # Not an admin's key: an object-scoped key, or a key acting as a member.
    for token in (
        api_key(slug, {"account": "write", "deal": "write"}),
        api_key(slug, {"*": "write"}, user=leaving),
    ):
        resp = api(token).post("/api/v1/transfer", json={"from_user": owner, "to_user": leaving})
        assert problem(resp, 403)["type"].endswith("#scope")
    field_error(
        integrator.c.post("/api/v1/transfer", json={"from_user": owner, "to_user": owner}),
        "to_user",
    )
    resp = integrator.c.post("/api/v1/transfer", json={"from_user": owner, "to_user": 10**9})
    field_error(resp, "to_user")
    for bad in (10**30, -1, True, "1", None):  # ids no user can have: refused, not a 500
        resp = integrator.c.post("/api/v1/transfer", json={"from_user": bad, "to_user": owner})
        problem(resp, 422)


def test_lead_convert_refuses_a_deal_name_that_is_not_text(integrator):
    lead = integrator.create("lead", company=f"Gamma {word()}")
    resp = integrator.c.post(
        f"/api/v1/leads/{lead['id']}/convert", json={"create_deal": True, "deal_name": 123}
    )
    field_error(resp, "deal_name")
    assert integrator.c.get(f"/api/v1/leads/{lead['id']}").json["converted_at"] is None


def test_search_finds_records_of_every_searchable_object(integrator):
    """A unique word in a writable text field of each object; an object without one
    (a licence) is found by the value the CRM gave it (its key)."""
    api = integrator.c
    needle = word("zz")
    made, by_own_value = {}, {}
    for t in all_types():
        if not t.creatable or not t.search_fields:
            continue
        fields = {f["name"]: f for f in integrator.fields(t.name)}
        writable = [
            n for n in t.search_fields if fields[n]["type"] == "text" and not fields[n]["read_only"]
        ]
        if writable:
            made[t.name] = integrator.create(t.name, **{writable[0]: f"{needle} {word()}"})["id"]
        else:
            rec = integrator.create(t.name)
            by_own_value[t.name] = (rec["id"], rec[t.search_fields[0]])
    assert len(made) + len(by_own_value) == len([t for t in all_types() if t.search_fields])
    resp = api.get("/api/v1/search", query_string={"q": needle})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    found = {(r["object"], r["id"]) for r in resp.json["data"]}
    assert found == set(made.items())
    for name, (record_id, value) in by_own_value.items():
        assert value, (name, "has no value to search for")
        data = api.get("/api/v1/search", query_string={"q": value}).json["data"]
        assert (name, record_id) in {(r["object"], r["id"]) for r in data}
    only = api.get("/api/v1/search", query_string={"q": needle, "objects": "contact"}).json
    assert {r["object"] for r in only["data"]} == {"contact"}
    problem(api.get("/api/v1/search"), 400)
    problem(api.get("/api/v1/search", query_string={"q": needle, "objects": "nope"}), 400)


def test_search_with_a_nul_character_is_a_problem(integrator):
    problem(integrator.c.get("/api/v1/search", query_string={"q": "a\x00b"}), 400)


def test_fields_follow_the_keys_scopes_and_the_custom_fields(company, integrator, api_key, api):
    from saas.modules.customization import service as customization

    slug, _email = company
    every = integrator.c.get("/api/v1/fields").json["data"]
    assert [o["name"] for o in every] == [t.name for t in all_types()]
    narrow = api(api_key(slug, {"contact": "read"}))
    assert [o["name"] for o in narrow.get("/api/v1/fields").json["data"]] == ["contact"]
    problem(narrow.get("/api/v1/deals/fields"), 403)
    label = f"Loyalty {word()}"
    with db.scope(tenant_ref(slug)):
        name = customization.add_field(get("product"), {"label": label, "type": "number"}).name
    described = _field(integrator, "product", name)
    assert described["custom"] and described["label"] == label and described["type"] == "number"
    product = integrator.create("product", **{name: "4.5"})
    assert Decimal(product[name]) == Decimal("4.5")


def test_users_lists_this_company_only(company, integrator, make_client):
    slug, email = company
    other_slug, other_email = signup(make_client())
    emails = {u["email"] for u in integrator.users()}
    assert email in emails and other_email not in emails


# -- the same service layer as the pages ---------------------------------------------------


def test_a_validation_rule_refuses_an_api_write_naming_its_field(client, api_key, api):
    from saas.modules.customization import validation

    slug, _email = signup(client)
    message = "Give the region of every account."
    with db.scope(tenant_ref(slug)):
        validation.save(
            get("account"),
            None,
            {
                "name": "Region needed",
                "match": "all",
                "cond-0-field": "region",
                "cond-0-op": "is_empty",
                "message": message,
                "field": "region",
                "active": "on",
            },
        )
    integrator = Integrator(api(api_key(slug)))
    resp = integrator.c.post("/api/v1/accounts", json={"name": "No region"})
    assert field_error(resp, "region") == message
    ok = integrator.create("account", region="North")
    resp = integrator.c.patch(f"/api/v1/accounts/{ok['id']}", json={"region": None})
    assert field_error(resp, "region") == message
    assert integrator.c.get(f"/api/v1/accounts/{ok['id']}").json["region"] == "North"
    with db.scope(tenant_ref(slug)) as s:
        from saas.modules.customers.models import Account

        names = s.execute(select(Account.name)).scalars().all()
    assert "No region" not in names


def test_a_required_custom_field_is_asked_for_and_then_built_from_the_fields(client, api_key, api):
    from saas.modules.customization import service as customization

    slug, _email = signup(client)
    with db.scope(tenant_ref(slug)):
        vat = customization.add_field(
            get("contact"), {"label": "VAT number", "type": "text", "required": "on"}
        ).name
    integrator = Integrator(api(api_key(slug)))
    resp = integrator.c.post("/api/v1/contacts", json={"last_name": "NoVat"})
    assert field_error(resp, vat) == "VAT number is required."
    assert _field(integrator, "contact", vat)["required"]
    made = integrator.create("contact")  # the body builder reads the required field
    assert made[vat]
    resp = integrator.c.patch(f"/api/v1/contacts/{made['id']}", json={vat: ""})
    assert field_error(resp, vat) == "VAT number is required."


def test_a_workflow_rule_fires_on_an_api_create(client, api_key, api):
    from saas.modules.workflows import service as workflows
    from saas.modules.workflows.models import WorkflowRun

    slug, _email = signup(client)
    with db.scope(tenant_ref(slug)):
        rule_id = workflows.save(
            {
                "object": "deal",
                "name": "Big deals",
                "active": True,
                "trigger": {"kind": "created"},
                "match": "all",
                "conditions": [{"field": "amount", "op": "greater", "value": "1000"}],
                "actions": [{"kind": "update", "field": "description", "value": "Call the CFO"}],
            }
        ).id
    integrator = Integrator(api(api_key(slug)))
    big = integrator.create("deal", amount="5000")
    small = integrator.create("deal", amount="10")
    assert integrator.c.get(f"/api/v1/deals/{big['id']}").json["description"] == "Call the CFO"
    assert integrator.c.get(f"/api/v1/deals/{small['id']}").json["description"] is None
    with db.scope(tenant_ref(slug)) as s:
        fired = s.execute(
            select(WorkflowRun.record_id, func.count())
            .where(WorkflowRun.rule_id == rule_id)
            .group_by(WorkflowRun.record_id)
        ).all()
    assert fired == [(big["id"], 1)]
    assert ("workflow", {"text": "Big deals"}) in timeline(slug, "deal", big["id"])
