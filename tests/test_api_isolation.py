"""One company's API key never reaches another company's data.

The sweep enumerates every route of the ``api`` blueprint (a new endpoint is covered
the day it is added), fills its ids with the other company's and calls it with a key
that may write everything: every id-bearing route is a 404 problem, and nothing of
the other company changes, down to the last row of its schema. Lists and search
never show the other company's records; suspended and deleted companies' keys stop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, text

import saas.models  # noqa: F401  (registers every object type)
from saas.db import db
from saas.modules.records.registry import ObjectType, all_types, by_slug, get
from tests.conftest import signup
from tests.factories import tenant_ref, user_id
from tests.test_api_objects import PROBLEM, Integrator, problem, word

# Ids of the far company start here, so that none of them is also an id of the near one
# (each schema counts from 1): a 404 then means "not yours", not "no such number".
FAR_IDS = 1_000_000
METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}
ID_ARGS = {"record_id", "import_id"}  # URL arguments the sweep fills with the other's ids


@dataclass
class Company:
    slug: str
    owner: int
    token: str
    secret: str  # a word only this company's records hold
    tenant_id: str
    schema: str
    live: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)  # other URL arguments -> id
    searchable: set[str] = field(default_factory=set)  # objects whose secret search finds
    integrator: Integrator | None = None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _push_ids_far(schema: str) -> None:
    with db.scope() as s:
        names = s.execute(
            text(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = :s"
            ),
            {"s": schema},
        ).scalars()
        for name in list(names):
            s.execute(
                text("SELECT setval(:seq, :n)"),
                {"seq": f"{_ident(schema)}.{_ident(name)}", "n": FAR_IDS},
            )


def _text_field(integrator: Integrator, t: ObjectType) -> str | None:
    fields = {f["name"]: f for f in integrator.fields(t.name)}
    for name in (*t.search_fields, *fields):
        f = fields.get(name)
        if f and f["type"] == "text" and not f["read_only"] and not f.get("choices"):
            return name
    return None


def build(browser, api_key, api, run_jobs, *, far: bool) -> Company:
    """A company with a live and a deleted record of every object, its secret word in
    each, and a finished import with a rejected row."""
    slug, email = signup(browser)
    ref = tenant_ref(slug)
    if far:
        _push_ids_far(ref.schema_name)
    token = api_key(slug)
    company = Company(slug, user_id(email), token, word("sec"), ref.id, ref.schema_name)
    integrator = company.integrator = Integrator(api(token))
    for t in all_types():
        if not t.creatable:
            # Made only with a parent: an id that exists nowhere still has to be a 404.
            company.live[t.name] = company.deleted[t.name] = FAR_IDS * 1000
            continue
        name = _text_field(integrator, t)
        secret = {name: f"{company.secret} {word()}"} if name else {}
        if name in t.search_fields:
            company.searchable.add(t.name)
        company.live[t.name] = integrator.create(t.name, **secret)["id"]
        gone = integrator.create(t.name, **secret)["id"]
        resp = integrator.c.delete(f"{integrator.path(t.name)}/{gone}")
        assert resp.status_code == 204, resp.get_data(as_text=True)
        company.deleted[t.name] = gone
    csv = f"Last name,E-mail\n{company.secret},{company.secret}@example.com\nBad,not-an-email\n"
    resp = integrator.c.post(
        "/api/v1/imports",
        data={"object": "contact", "file": (io.BytesIO(csv.encode()), f"{company.secret}.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 202, resp.get_data(as_text=True)
    company.ids["import_id"] = resp.json["id"]
    run_jobs()
    status = integrator.c.get(f"/api/v1/imports/{company.ids['import_id']}").json
    assert (status["status"], status["created"], status["failed"]) == ("done", 1, 1), status
    if far:
        assert min(company.live.values()) > FAR_IDS and company.ids["import_id"] > FAR_IDS
    return company


@pytest.fixture
def pair(client, make_client, api_key, api, run_jobs):
    """Companies A (ids from 1) and B (ids far away), each with records of every object."""
    a = build(client, api_key, api, run_jobs, far=False)
    b = build(make_client(), api_key, api, run_jobs, far=True)
    return a, b


# -- what "nothing changed" means -----------------------------------------------------------


def snapshot(app, company: Company) -> dict:
    """Every row of the company's schema (a digest per table), its rows in the public
    tables, and its rate-limit counters."""
    from saas.extensions import redis
    from saas.modules.accounts.models import Membership
    from saas.modules.api.models import ApiKey
    from saas.tenants.models import Tenant

    out = {}
    with db.scope(tenant_ref(company.slug)) as s:
        tables = s.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = :s AND table_type = 'BASE TABLE' ORDER BY 1"
            ),
            {"s": company.schema},
        ).scalars()
        for table in list(tables):
            out[table] = tuple(
                s.execute(
                    text(
                        "SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' "
                        f"ORDER BY r::text), '')) FROM {_ident(company.schema)}.{_ident(table)} r"
                    )
                ).one()
            )
    assert {"contacts", "deals", "timeline", "imports"} <= set(out), sorted(out)
    with db.scope() as s:
        for model in (Tenant, ApiKey, Membership):
            column = model.id if model is Tenant else model.tenant_id
            rows = s.execute(select(model.__table__).where(column == company.tenant_id)).all()
            out[f"public.{model.__tablename__}"] = sorted(tuple(map(str, r)) for r in rows)
    with app.app_context():
        keys = sorted(redis().scan_iter(f"ratelimit:{company.tenant_id}:*"))
        out["redis"] = {k: int(redis().get(k) or 0) for k in keys}
    return out


def assert_unchanged(before: dict, after: dict) -> None:
    counters_before, counters_after = before.pop("redis"), after.pop("redis")
    for key, count in counters_after.items():  # an expired window may vanish, none may grow
        assert count <= counters_before.get(key, -1), ("rate-limit counter grew", key)
    changed = {
        k: (before.get(k), after.get(k))
        for k in set(before) | set(after)
        if before.get(k) != after.get(k)
    }
    assert not changed, f"the other company's data changed: {changed}"


# -- the sweep ----------------------------------------------------------------------------


def _object_in_path(rule) -> ObjectType | None:
    """The object of a route named by a literal segment (``/deals/<id>/move``)."""
    for part in rule.rule.split("/"):
        if "<" not in part and (found := by_slug(part)) is not None:
            return found
    return None


def api_rules(app) -> list:
    """The API's routes: the ``api`` blueprint's, and anything else mounted under /api/."""
    return [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("api.") or r.rule.startswith("/api/")
    ]


def _calls(app, victim: Company):
    """(endpoint, method, url, otype, id-bearing) for every route of the API blueprint,
    with ``<object:otype>`` expanded to every object and ids taken from ``victim``."""
    adapter = app.url_map.bind("localhost")
    rules = api_rules(app)
    assert rules, "the api blueprint has no routes"
    for rule in rules:
        methods = rule.methods - {"HEAD", "OPTIONS"}
        if methods - METHODS:
            pytest.fail(f"{rule.rule}: the sweep cannot call {sorted(methods - METHODS)}")
        types = all_types() if "otype" in rule.arguments else [_object_in_path(rule)]
        for otype in types:
            values = {}
            for arg in rule.arguments:
                if arg == "otype":
                    values[arg] = otype
                elif arg == "record_id" and otype is not None:
                    pool = victim.deleted if "restore" in rule.endpoint else victim.live
                    values[arg] = pool[otype.name]
                elif arg in victim.ids:
                    values[arg] = victim.ids[arg]
                else:
                    pytest.fail(
                        f"{rule.endpoint} ({rule.rule}): the sweep does not know which id of "
                        f"the other company to put in <{arg}>; give build() such a record "
                        "and add it to Company.ids."
                    )
            url = adapter.build(rule.endpoint, values)
            id_bearing = bool(set(rule.arguments) & (ID_ARGS | set(victim.ids)))
            for method in sorted(methods):
                yield rule.endpoint, method, url, otype, id_bearing


def _intruder(caller: Company, victim: Company, otype: ObjectType | None) -> tuple[dict, set]:
    """Writable values of ``otype`` that point at the victim's records and people, and
    the names of the fields that do."""
    if otype is None:
        return {}, set()
    out, refs = {}, set()
    for f in caller.integrator.fields(otype.name):
        if f["read_only"] or f["custom"]:
            continue
        if f["type"] == "lookup" and f["target"] in victim.live:
            out[f["name"]] = victim.live[f["target"]]
            refs.add(f["name"])
        elif f["type"] == "user":
            out[f["name"]] = victim.owner
            refs.add(f["name"])
        elif f["type"] == "text" and not f.get("choices"):
            out[f["name"]] = "Intruder"
    return out, refs


def _request(caller: Company, victim: Company, endpoint: str, method: str, url: str, otype):
    """Call one route with a plausible body (and query); returns (response, body, the
    body's fields that point at the victim)."""
    c = caller.integrator.c
    if method in {"GET", "DELETE"}:
        query = {"api.search_all": {"q": victim.secret}, "api.index": {"limit": 200}}
        return c.open(url, method=method, query_string=query.get(endpoint, {})), None, set()
    intruder, refs = _intruder(caller, victim, otype)
    if endpoint == "api.start_import":
        csv = f"Last name,Account\nIntruder,{victim.live['account']}\n"
        data = {"object": "contact", "file": (io.BytesIO(csv.encode()), "intruder.csv")}
        return c.post(url, data=data, content_type="multipart/form-data"), None, set()
    body = {
        "api.create": lambda: caller.integrator.body(otype.name) | intruder,
        "api.bulk_write": lambda: {
            "mode": "update",
            "key": "id",
            "records": [{"id": victim.live[otype.name], **intruder}],
        },
        "api.assign": lambda: {"owner_id": victim.owner},
        "api.move_deal": lambda: {"stage_id": 1},
        "api.convert_lead": lambda: {
            "create_deal": True,
            "account_id": victim.live["account"],
            "contact_id": victim.live["contact"],
        },
        "api.transfer": lambda: {"from_user": victim.owner, "to_user": caller.owner},
    }.get(endpoint, lambda: intruder)()
    return c.open(url, method=method, json=body), body, refs & set(body or ())


def _check(endpoint, method, url, id_bearing, resp, body, refs, victim: Company) -> None:
    where = f"{method} {url} ({endpoint}) with body {body}"
    shown = resp.get_data(as_text=True)
    assert victim.secret not in shown, f"{where} showed the other company's data: {shown}"
    assert resp.status_code < 500, f"{where}: {resp.status_code} {shown}"
    if resp.status_code >= 400:
        assert resp.mimetype == PROBLEM, f"{where}: {resp.status_code} is not a problem"
    if id_bearing:
        assert resp.status_code == 404, (
            f"{where}: expected a 404 for the other company's id, got {resp.status_code} "
            f"{shown} (a new endpoint may need a plausible body in _request)"
        )
        assert resp.json["type"].endswith("#not-found"), shown
    elif endpoint == "api.bulk_write":
        assert resp.status_code == 200, f"{where}: {shown}"
        assert {r["status"] for r in resp.json["results"]} == {"failed"}, f"{where}: {shown}"
    elif endpoint == "api.create" and refs:
        assert resp.status_code == 422, f"{where}: points at the other company: {shown}"
        assert {e["field"] for e in resp.json["errors"]} == refs, shown
    elif endpoint == "api.search_all":
        assert resp.status_code == 200 and resp.json["data"] == [], f"{where}: {shown}"
    elif endpoint == "api.transfer":
        assert resp.status_code == 200 and not any(resp.json["moved"].values()), where


def sweep(app, caller: Company, victim: Company, run_jobs) -> set[str]:
    """Every route with the caller's key and the victim's ids; returns the endpoints."""
    for name, record_id in caller.live.items():  # the key sees its own company: a 404 is
        if record_id < FAR_IDS * 1000:  # about the id, not a key that sees nothing
            resp = caller.integrator.c.get(f"{caller.integrator.path(name)}/{record_id}")
            assert resp.status_code == 200, resp.get_data(as_text=True)
    before = snapshot(app, victim)
    seen = set()
    for endpoint, method, url, otype, id_bearing in _calls(app, victim):
        resp, body, refs = _request(caller, victim, endpoint, method, url, otype)
        _check(endpoint, method, url, id_bearing, resp, body, refs, victim)
        seen.add(endpoint)
    run_jobs()  # what the calls queued (an import) runs, in the caller's company
    assert_unchanged(before, snapshot(app, victim))
    return seen


def test_every_api_route_with_a_key_of_a_refuses_the_ids_of_b_and_changes_nothing(
    app, pair, run_jobs
):
    a, b = pair
    seen = sweep(app, a, b, run_jobs)
    assert seen == {r.endpoint for r in api_rules(app)}
    # B still has everything, as it was.
    for name, record_id in b.live.items():
        if get(name).creatable:
            resp = b.integrator.c.get(f"{b.integrator.path(name)}/{record_id}")
            assert resp.status_code == 200 and "Intruder" not in resp.get_data(as_text=True)


def test_and_the_other_way_round_b_cannot_reach_the_ids_of_a(app, pair, run_jobs):
    a, b = pair
    sweep(app, b, a, run_jobs)


def test_lists_and_search_with_a_key_of_a_never_show_records_of_b(pair):
    a, b = pair
    api = a.integrator.c
    for t in all_types():
        path = a.integrator.path(t.name)
        for query in ({"limit": 200}, {"q": b.secret}, {"id": b.live[t.name]}, {"sort": "-id"}):
            resp = api.get(path, query_string=query)
            assert resp.status_code == 200, resp.get_data(as_text=True)
            assert b.secret not in resp.get_data(as_text=True)
            assert b.live[t.name] not in {r["id"] for r in resp.json["data"]}
        expand = [f["name"] for f in a.integrator.fields(t.name) if f["type"] == "lookup"]
        if expand:
            resp = api.get(path, query_string={"expand": ",".join(expand), "limit": 200})
            assert resp.status_code == 200 and b.secret not in resp.get_data(as_text=True)
    resp = api.get("/api/v1/search", query_string={"q": b.secret})
    assert resp.status_code == 200 and resp.json["data"] == []
    # B finds its own records by the same word: the word is there to be found.
    found = b.integrator.c.get("/api/v1/search", query_string={"q": b.secret}).json["data"]
    assert {r["object"] for r in found} == b.searchable
    assert b.owner not in {u["id"] for u in api.get("/api/v1/users").json["data"]}


def test_a_key_of_a_suspended_company_gets_a_403_problem(client, api_key, api):
    from saas.tenants import service
    from saas.tenants.models import Tenant

    slug, _email = signup(client)
    c = api(api_key(slug))
    assert c.get("/api/v1/contacts").status_code == 200
    with db.scope() as s:
        service.suspend(s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one(), "unpaid")
    for resp in (
        c.get("/api/v1/contacts"),
        c.post("/api/v1/contacts", json={"last_name": "Late"}),
        c.get("/api/v1/users"),
    ):
        body = problem(resp, 403)
        assert body["type"].endswith("#tenant-suspended"), body
    with db.scope() as s:
        service.resume(s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one())
    resp = c.get("/api/v1/contacts", query_string={"last_name": "Late"})
    assert resp.status_code == 200 and resp.json["data"] == []


def test_a_key_of_a_deleted_company_gets_a_401_problem(client, api_key, api):
    from saas.tenants import service
    from saas.tenants.models import Tenant

    slug, _email = signup(client)
    c = api(api_key(slug))
    assert c.get("/api/v1/contacts").status_code == 200
    with db.scope() as s:
        service.delete(s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one(), 30)
    for resp in (c.get("/api/v1/contacts"), c.post("/api/v1/contacts", json={"last_name": "X"})):
        body = problem(resp, 401)
        assert body["type"].endswith("#unauthorized") and resp.headers["WWW-Authenticate"]
