"""The REST API's contract: filters, cursor pages, bulk writes, idempotency, rate
limits, scopes and user-bound keys, and a problem+json answer for each bad input."""

from __future__ import annotations

import re

import pytest

from saas.db import db
from tests.conftest import PASSWORD, post, signup, unique
from tests.factories import tenant_ref, user_id

PROBLEM = "application/problem+json"


@pytest.fixture
def tenant(client, api_key, api):
    slug, email = signup(client)
    token = api_key(slug)
    return {"slug": slug, "email": email, "client": client, "api": api(token), "token": token}


def _contacts(c, n, **extra):
    ids = []
    for i in range(n):
        body = {"first_name": f"P{i}", "last_name": f"L{i:03d}", "email": f"p{i}@ex.com", **extra}
        resp = c.post("/api/v1/contacts", json=body)
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["id"])
    return ids


def _problem(resp, status, slug):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json()
    assert body["type"] == f"/api/problems#{slug}"
    assert body["status"] == status and body["detail"]
    return body


def test_create_read_update_delete_restore(tenant):
    c = tenant["api"]
    resp = c.post("/api/v1/contacts", json={"first_name": "Ann", "last_name": "Lee"})
    assert resp.status_code == 201
    rec = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/contacts/{rec['id']}"
    assert rec["object"] == "contact" and rec["last_name"] == "Lee"
    resp = c.patch(f"/api/v1/contacts/{rec['id']}", json={"email": "ANN@Example.com"})
    assert resp.status_code == 200 and resp.get_json()["email"] == "ann@example.com"
    assert c.get(f"/api/v1/contacts/{rec['id']}").get_json()["email"] == "ann@example.com"
    assert c.delete(f"/api/v1/contacts/{rec['id']}").status_code == 204
    _problem(c.get(f"/api/v1/contacts/{rec['id']}"), 404, "not-found")
    assert c.post(f"/api/v1/contacts/{rec['id']}/restore").status_code == 200
    assert c.get(f"/api/v1/contacts/{rec['id']}").status_code == 200


def test_field_selection_and_embedding(tenant, app):
    c = tenant["api"]
    account = c.post("/api/v1/accounts", json={"name": "Acme"}).get_json()
    contact = c.post(
        "/api/v1/contacts", json={"last_name": "Lee", "account_id": account["id"]}
    ).get_json()
    one = c.get(f"/api/v1/contacts/{contact['id']}?fields=last_name").get_json()
    assert one == {"id": contact["id"], "object": "contact", "last_name": "Lee"}
    page = c.get("/api/v1/contacts?fields=last_name,account_id&expand=account_id").get_json()
    assert page["data"][0]["_embedded"]["account_id"]["name"] == "Acme"
    with app.app_context():
        owner = user_id(tenant["email"])
    c.patch(f"/api/v1/accounts/{account['id']}", json={"owner_id": owner})
    owned = c.get("/api/v1/accounts?expand=owner_id").get_json()["data"][0]
    assert owned["_embedded"]["owner_id"]["email"] == tenant["email"]  # from public.users
    _problem(c.get("/api/v1/contacts?fields=nope"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?expand=last_name"), 400, "bad-request")


def test_filters(tenant):
    c = tenant["api"]
    _contacts(c, 5)
    c.post("/api/v1/contacts", json={"last_name": "Zed", "city": "Berlin"})

    def names(query):
        resp = c.get(f"/api/v1/contacts?{query}")
        assert resp.status_code == 200, resp.get_json()
        return sorted(r["last_name"] for r in resp.get_json()["data"])

    assert names("last_name=L001") == ["L001"]
    assert names("last_name[in]=L001,L003") == ["L001", "L003"]
    assert names("last_name[starts_with]=L00&last_name[ne]=L002") == [
        "L000", "L001", "L003", "L004",
    ]  # fmt: skip
    assert names("last_name[contains]=ze") == ["Zed"]
    assert names("city[is_null]=false") == ["Zed"]
    assert names("last_name[gte]=L003&last_name[lt]=Z") == ["L003", "L004"]
    assert names("email=P2@EX.COM") == ["L002"]  # values are read as the field reads them
    assert len(names("created_at[gte]=2000-01-01")) == 6
    assert names("created_at[lt]=2000-01-01") == []
    _problem(c.get("/api/v1/contacts?nope=1"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?last_name[near]=x"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?created_at[gte]=yesterday"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?account_id=abc"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?owner_id=10000000000000000000"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?account_id[in]=1,99999999999999999999"), 400, "bad-request")


def test_datetime_filters_read_times_in_the_company_time_zone(tenant, app):
    """A time without an offset is a time in the company's zone, as in the browser."""
    from datetime import UTC, datetime, timedelta

    from saas.modules.workspace import service as workspace

    c = tenant["api"]
    created = c.post("/api/v1/contacts", json={"last_name": "Tz"}).get_json()["created_at"]
    with app.app_context(), db.scope(tenant_ref(tenant["slug"])):
        workspace.update_settings(None, timezone="Asia/Shanghai")  # UTC+8 all year
    at = datetime.fromisoformat(created).astimezone(UTC).replace(tzinfo=None)
    typed = (at + timedelta(hours=4)).isoformat(timespec="seconds")  # 4 h before, in Shanghai

    def names(query):
        resp = c.get(f"/api/v1/contacts?{query}")
        assert resp.status_code == 200, resp.get_json()
        return [r["last_name"] for r in resp.get_json()["data"]]

    assert names(f"created_at[gt]={typed}") == ["Tz"]
    assert names(f"created_at[lte]={typed}") == []


def test_custom_field_filter_and_sort(tenant, app):
    c, slug = tenant["api"], tenant["slug"]
    _add_field(tenant, "contact", "Region", "choice", "North\nSouth", indexed=True)
    for i, region in enumerate(["north", "south", "north"]):
        resp = c.post("/api/v1/contacts", json={"last_name": f"R{i}", "cf_region": region})
        assert resp.status_code == 201, resp.get_json()
    data = c.get("/api/v1/contacts?cf_region=north&sort=-last_name").get_json()["data"]
    assert [r["last_name"] for r in data] == ["R2", "R0"]
    body = _problem(
        c.post("/api/v1/contacts", json={"last_name": "X", "cf_region": "west"}), 422, "validation"
    )
    assert body["errors"][0]["field"] == "cf_region"
    assert slug


def _add_field(tenant, obj, label, ftype, choices="", indexed=False):
    client, slug = tenant["client"], tenant["slug"]
    data = {"label": label, "type": ftype, "choices": choices}
    if indexed:
        data["indexed"] = "on"
    resp = post(client, f"/app/{slug}/customize/{obj}s/fields/new", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)


@pytest.mark.parametrize("sort", ["id", "-id", "last_name", "-last_name", "-city", "birthday"])
def test_cursor_pages_walk_every_record_once(tenant, sort):
    c = tenant["api"]
    ids = _contacts(c, 7)
    c.patch(f"/api/v1/contacts/{ids[2]}", json={"city": "Oslo", "birthday": "1990-01-02"})
    c.patch(f"/api/v1/contacts/{ids[5]}", json={"city": "Oslo"})
    seen, cursor = [], None
    for _ in range(10):
        url = f"/api/v1/contacts?limit=2&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
        page = c.get(url).get_json()
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        assert page["has_more"] == (cursor is not None)
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    if sort == "-id":
        assert seen == sorted(ids, reverse=True)
    first = c.get(f"/api/v1/contacts?limit=2&sort={sort}").get_json()["next_cursor"]
    _problem(c.get(f"/api/v1/contacts?sort=last_name&cursor={first}"), 400, "bad-request") if (
        sort != "last_name"
    ) else None
    _problem(c.get("/api/v1/contacts?cursor=garbage"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?limit=0"), 400, "bad-request")
    _problem(c.get("/api/v1/contacts?sort=description"), 400, "bad-request")


def test_bulk_upsert_reports_each_record(tenant):
    c = tenant["api"]
    existing = _contacts(c, 2)
    records = [
        {"email": "p0@ex.com", "city": "Paris"},  # updates
        {"email": "p1@ex.com", "first_name": "P1"},  # same value: unchanged
        {"email": "new@ex.com", "last_name": "New"},  # creates
        {"email": "bad", "last_name": "Bad"},  # invalid e-mail
        {"email": "new2@ex.com"},  # a new contact needs a last name
        {"email": "NEW@ex.com", "last_name": "Twice"},  # same key as record 2
        {"email": "x@ex.com", "last_name": "X", "nope": 1},  # unknown field
    ]
    resp = c.post(
        "/api/v1/contacts/bulk", json={"mode": "upsert", "key": "email", "records": records}
    )
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    statuses = [r["status"] for r in out["results"]]
    assert statuses == ["updated", "unchanged", "created", "failed", "failed", "failed", "failed"]
    assert out["results"][0]["id"] == existing[0]
    assert (out["created"], out["updated"], out["unchanged"], out["failed"]) == (1, 1, 1, 4)
    assert out["results"][4]["errors"][0]["field"] == "last_name"
    assert out["results"][6]["errors"][0]["field"] == "nope"
    assert c.get(f"/api/v1/contacts/{existing[0]}").get_json()["city"] == "Paris"
    new_id = out["results"][2]["id"]
    assert c.get(f"/api/v1/contacts/{new_id}").get_json()["last_name"] == "New"
    listed = c.get("/api/v1/contacts?limit=200").get_json()["data"]
    assert len(listed) == 3  # nothing else was written


def test_bulk_update_by_id_and_limits(tenant):
    c = tenant["api"]
    ids = _contacts(c, 2)
    records = [
        {"id": ids[0], "city": "Rome"},
        {"id": 999999, "city": "X"},
        {"city": "Y"},
        {"id": 10**30, "city": "Z"},
    ]
    out = c.post(
        "/api/v1/contacts/bulk", json={"mode": "update", "key": "id", "records": records}
    ).get_json()
    assert [r["status"] for r in out["results"]] == ["updated", "failed", "failed", "failed"]
    big = [{"last_name": "x"}] * 1001
    _problem(
        c.post("/api/v1/contacts/bulk", json={"mode": "create", "records": big}), 422, "validation"
    )
    _problem(
        c.post("/api/v1/contacts/bulk", json={"mode": "upsert", "key": "city", "records": [{}]}),
        422,
        "validation",
    )
    many = [{"last_name": f"B{i}", "email": f"b{i}@ex.com"} for i in range(1000)]
    out = c.post("/api/v1/contacts/bulk", json={"mode": "create", "records": many}).get_json()
    assert out["created"] == 1000


def test_idempotency_replays_and_refuses_another_body(tenant):
    c = tenant["api"]
    headers = {"Idempotency-Key": unique("k")}
    first = c.post("/api/v1/contacts", json={"last_name": "Once"}, headers=headers)
    again = c.post("/api/v1/contacts", json={"last_name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    found = c.get("/api/v1/contacts?last_name=Once").get_json()["data"]
    assert len(found) == 1
    _problem(
        c.post("/api/v1/contacts", json={"last_name": "Other"}, headers=headers),
        422,
        "idempotency-mismatch",
    )
    # A refused call is replayed too: the same mistake gets the same answer.
    bad = {"Idempotency-Key": unique("k")}
    assert c.post("/api/v1/contacts", json={"email": "x"}, headers=bad).status_code == 422
    assert c.post("/api/v1/contacts", json={"email": "x"}, headers=bad).status_code == 422


def test_idempotency_keys_belong_to_their_api_key(tenant, api_key, api):
    first = tenant["api"]
    second = api(api_key(tenant["slug"]))
    headers = {"Idempotency-Key": "same-key"}
    a = first.post("/api/v1/contacts", json={"last_name": "A"}, headers=headers)
    b = second.post("/api/v1/contacts", json={"last_name": "B"}, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]


def test_rate_limit_headers_and_429(tenant, app):
    c = tenant["api"]
    resp = c.get("/api/v1/contacts")
    assert int(resp.headers["RateLimit-Limit"]) == 600
    assert int(resp.headers["RateLimit-Remaining"]) < 600
    assert resp.headers["RateLimit-Policy"] == '"default";q=600;w=60'
    saved = app.config["API_RATE_LIMITS"]
    app.config["API_RATE_LIMITS"] = {"default": {"key": 3, "tenant": 100}}
    try:
        codes = [c.get("/api/v1/contacts").status_code for _ in range(4)]
        resp = c.get("/api/v1/contacts")
    finally:
        app.config["API_RATE_LIMITS"] = saved
    assert 429 in codes
    body = _problem(resp, 429, "rate-limited")
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.headers["RateLimit-Remaining"] == "0"
    assert "retry in" in body["detail"]


def test_tenant_limit_spans_its_keys(tenant, app, api_key, api):
    second = api(api_key(tenant["slug"]))
    saved = app.config["API_RATE_LIMITS"]
    app.config["API_RATE_LIMITS"] = {"default": {"key": 100, "tenant": 2}}
    try:
        codes = [tenant["api"].get("/api/v1/users").status_code for _ in range(2)]
        codes.append(second.get("/api/v1/users").status_code)
    finally:
        app.config["API_RATE_LIMITS"] = saved
    assert codes[-1] == 429


def test_bad_inputs_get_problems_never_500(tenant):
    c = tenant["api"]
    _problem(
        c.post("/api/v1/contacts", data="{", content_type="application/json"), 400, "invalid-json"
    )
    _problem(
        c.post("/api/v1/contacts", data="[1]", content_type="application/json"), 400, "bad-request"
    )
    _problem(
        c.post("/api/v1/contacts", data="NaN", content_type="application/json"), 400, "invalid-json"
    )
    _problem(
        c.post("/api/v1/contacts", data=b"\xff\xfe", content_type="application/json"),
        400,
        "invalid-json",
    )
    _problem(c.post("/api/v1/contacts", data="last_name=x"), 415, "unsupported-media-type")
    body = _problem(
        c.post("/api/v1/contacts", json={"last_name": 5, "bogus": 1}), 422, "validation"
    )
    assert {e["field"] for e in body["errors"]} == {"last_name", "bogus"}
    body = _problem(c.post("/api/v1/contacts", json={"last_name": "x", "id": 3}), 422, "validation")
    assert "read-only" in body["errors"][0]["detail"]
    body = _problem(c.post("/api/v1/contacts", json={"last_name": "x" * 5000}), 422, "validation")
    _problem(c.post("/api/v1/contacts", json={"last_name": "a\u0000b"}), 422, "validation")
    huge = '{"last_name": "' + "x" * (6 * 1024 * 1024) + '"}'
    _problem(
        c.post("/api/v1/contacts", data=huge, content_type="application/json"), 413, "too-large"
    )
    _problem(c.get("/api/v1/contacts/99999999"), 404, "not-found")
    _problem(c.get("/api/v1/contacts/99999999999999999999999"), 404, "not-found")
    _problem(c.put("/api/v1/contacts/1", json={}), 405, "method-not-allowed")
    _problem(c.get("/api/v1/nowhere"), 404, "not-found")
    _problem(c.post("/api/v1/deals/1/move", json={"stage_id": "x"}), 422, "validation")


def test_authentication_problems(tenant, app):
    plain = app.test_client()
    resp = plain.get("/api/v1/contacts")
    _problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ["Basic abc", "Bearer ", "Bearer crm_nothing", "Bearer " + tenant["token"] + "x"]:
        plain.environ_base["HTTP_AUTHORIZATION"] = header
        _problem(plain.get("/api/v1/contacts"), 401, "unauthorized")


def test_scopes_per_object(tenant, api_key, api):
    reader = api(api_key(tenant["slug"], {"contact": "read"}))
    tenant["api"].post("/api/v1/contacts", json={"last_name": "Seen"})
    assert reader.get("/api/v1/contacts").status_code == 200
    _problem(reader.post("/api/v1/contacts", json={"last_name": "X"}), 403, "scope")
    _problem(reader.get("/api/v1/deals"), 403, "scope")
    names = {o["name"] for o in reader.get("/api/v1/fields").get_json()["data"]}
    assert names == {"contact"}
    search = reader.get("/api/v1/search?q=Seen").get_json()["data"]
    assert {r["object"] for r in search} == {"contact"}


def test_revoked_and_expired_keys_stop_working(tenant, app):
    from datetime import UTC, datetime, timedelta

    from saas.modules.api import keys
    from saas.modules.api.models import ApiKey

    c = tenant["api"]
    assert c.get("/api/v1/users").status_code == 200
    prefix = tenant["token"].split("_")[1]
    with app.app_context(), db.scope() as s:  # a key remembered by the process stops too
        key = s.query(ApiKey).filter_by(prefix=prefix).one()
        key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    _problem(c.get("/api/v1/users"), 401, "unauthorized")
    with app.app_context(), db.scope() as s:
        s.query(ApiKey).filter_by(prefix=prefix).one().expires_at = None
    assert c.get("/api/v1/users").status_code == 200
    with app.app_context(), db.scope() as s:
        key = s.query(ApiKey).filter_by(prefix=prefix).one()
        keys.revoke(key)
    _problem(c.get("/api/v1/users"), 401, "unauthorized")


def test_user_bound_key_sees_what_the_user_sees(
    client, make_client, app, api_key, api, run_jobs, mailbox
):
    from saas.modules.accounts.models import User

    slug, owner_email = signup(client)
    member_email = f"{unique('m')}@example.com"
    post(client, f"/app/{slug}/team/invite", {"email": member_email, "role": "member"})
    run_jobs()
    link = re.search(r"http://localhost(/invitations/\S+)", mailbox(member_email)[0]["body"])
    assert (
        post(make_client(), link.group(1), {"name": "Mem", "password": PASSWORD}).status_code == 302
    )
    with app.app_context(), db.scope() as s:
        owner = s.query(User).filter_by(email=owner_email).one().id
        member = s.query(User).filter_by(email=member_email).one().id
    company = api(api_key(slug))
    mine = company.post("/api/v1/contacts", json={"last_name": "Mine", "owner_id": member})
    theirs = company.post("/api/v1/contacts", json={"last_name": "Theirs", "owner_id": owner})
    assert mine.status_code == theirs.status_code == 201
    _set_visibility(app, slug, member="own")
    bound = api(api_key(slug, user=member))
    names = [r["last_name"] for r in bound.get("/api/v1/contacts").get_json()["data"]]
    assert names == ["Mine"]
    hidden = theirs.get_json()["id"]
    _problem(bound.get(f"/api/v1/contacts/{hidden}"), 404, "not-found")
    _problem(bound.patch(f"/api/v1/contacts/{hidden}", json={"city": "X"}), 404, "not-found")
    created = bound.post("/api/v1/contacts", json={"last_name": "ByKey"}).get_json()
    assert created["owner_id"] == member  # the key acts as its user


def _set_visibility(app, slug, **scopes):
    from saas.modules.workspace import service as workspace

    with app.app_context(), db.scope(tenant_ref(slug)):
        current = workspace.settings().get("visibility") or {}
        workspace.update_settings(None, visibility={**current, **scopes})


def test_api_write_lands_on_the_timeline_with_its_user(tenant, app):
    c = tenant["api"]
    rec = c.post("/api/v1/contacts", json={"last_name": "T"}).get_json()
    c.patch(f"/api/v1/contacts/{rec['id']}", json={"city": "Lima"})
    page = tenant["client"].get(f"/app/{tenant['slug']}/contacts/{rec['id']}")
    assert "Lima" in page.get_data(as_text=True)


def test_import_through_the_api(tenant, run_jobs):
    import io

    c = tenant["api"]
    csv = "Email,Last name,City\na@ex.com,Ames,Oslo\nbad,Bad,X\n"
    resp = c.post(
        "/api/v1/imports",
        data={"object": "contact", "file": (io.BytesIO(csv.encode()), "people.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 202, resp.get_json()
    imp = resp.get_json()
    assert imp["status"] == "queued" and resp.headers["Location"] == f"/api/v1/imports/{imp['id']}"
    run_jobs()
    done = c.get(f"/api/v1/imports/{imp['id']}").get_json()
    assert done["finished"] and (done["created"], done["failed"]) == (1, 1)
    report = c.get(done["errors_url"]).get_data(as_text=True)
    assert "bad" in report
    assert c.get("/api/v1/contacts?email=a@ex.com").get_json()["data"][0]["city"] == "Oslo"
    _problem(
        c.post("/api/v1/imports", data={"object": "contact"}, content_type="multipart/form-data"),
        422,
        "validation",
    )
    _problem(c.post("/api/v1/imports", json={}), 415, "unsupported-media-type")
    mapped = c.post(
        "/api/v1/imports",
        data={
            "object": "contact",
            "file": (io.BytesIO(csv.encode()), "people.csv"),
            "mapping": '{"Nope": "city"}',
        },
        content_type="multipart/form-data",
    )
    _problem(mapped, 422, "validation")


def test_a_remembered_key_follows_changes_at_once(tenant, api_key, api, app):
    """Keys are remembered by each process between calls; a change made meanwhile (a new
    custom field, a revoked key, a suspended company) applies to the very next call."""
    from saas.modules.api.models import ApiKey
    from saas.tenants import service as tenants
    from saas.tenants.models import Tenant

    c = tenant["api"]
    rec = c.post("/api/v1/contacts", json={"last_name": "Cached"}).get_json()
    assert "cf_tier" not in c.get(f"/api/v1/contacts/{rec['id']}").get_json()
    _add_field(tenant, "contact", "Tier", "text")
    assert c.get(f"/api/v1/contacts/{rec['id']}").get_json()["cf_tier"] is None
    with app.app_context(), db.scope() as s:
        tenants.suspend(s.query(Tenant).filter_by(slug=tenant["slug"]).one(), "unpaid")
    _problem(c.get("/api/v1/users"), 403, "tenant-suspended")
    with app.app_context(), db.scope() as s:
        tenants.resume(s.query(Tenant).filter_by(slug=tenant["slug"]).one())
    assert c.get("/api/v1/users").status_code == 200
    prefix = tenant["token"].split("_")[1]
    page = tenant["client"].get(f"/app/{tenant['slug']}/settings/api-keys")
    assert prefix in page.get_data(as_text=True)
    with app.app_context(), db.scope() as s:
        key_id = s.query(ApiKey).filter_by(prefix=prefix).one().id
    resp = post(tenant["client"], f"/app/{tenant['slug']}/settings/api-keys/{key_id}/revoke")
    assert resp.status_code == 303
    _problem(c.get("/api/v1/users"), 401, "unauthorized")
