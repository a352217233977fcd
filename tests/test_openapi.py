"""Each company's own OpenAPI 3.1 document (custom fields included, only what the key
may use), the API reference page built from it, and the public list of error types."""

from __future__ import annotations

import io
import re

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from saas.modules.api.problems import TYPES
from tests.conftest import PASSWORD, login, post, signup
from tests.factories import add_member


@pytest.fixture
def company(client, api_key, api):
    slug, email = signup(client)
    resp = post(
        client,
        f"/app/{slug}/customize/contacts/fields/new",
        {"label": "Shoe size", "type": "number", "help": "EU sizes"},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return {"slug": slug, "email": email, "client": client, "api": api(api_key(slug))}


def _doc(api_client) -> dict:
    resp = api_client.get("/api/v1/openapi.json")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    return resp.get_json()


def test_the_document_is_valid_openapi_3_1_with_the_companys_custom_fields(company):
    doc = _doc(company["api"])
    OpenAPIV31SpecValidator(doc).validate()
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"] == "1.0.0"
    assert doc["servers"] == [{"url": "http://localhost/api/v1"}]
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    schemas = doc["components"]["schemas"]
    shoe = schemas["Contact"]["properties"]["cf_shoe_size"]
    assert shoe["type"] == ["string", "null"] and shoe["description"] == "EU sizes"
    assert "cf_shoe_size" in schemas["ContactCreate"]["properties"]
    assert schemas["ContactCreate"]["required"] == ["last_name"]
    assert not schemas["ContactUpdate"].get("required")
    assert schemas["Contact"]["properties"]["created_at"]["readOnly"] is True
    assert "created_at" not in schemas["ContactCreate"]["properties"]
    listing = doc["paths"]["/contacts"]["get"]
    names = {p.get("name") for p in listing["parameters"]}
    assert {"cf_shoe_size", "cf_shoe_size[gte]", "cf_shoe_size[is_null]", "sort"} <= names
    assert {"$ref": "#/components/parameters/Limit"} in listing["parameters"]
    sort = next(p for p in listing["parameters"] if p.get("name") == "sort")
    assert "-updated_at" in sort["schema"]["enum"]
    created = doc["paths"]["/contacts"]["post"]
    assert created["responses"]["201"]["headers"]["Location"]
    assert {"400", "401", "403", "404", "409", "413", "415", "422", "429"} <= set(
        created["responses"]
    )
    problem = doc["components"]["responses"]["TooManyRequests"]
    assert "application/problem+json" in problem["content"]
    assert "Retry-After" in problem["headers"]
    assert {"IdempotencyKey"} <= set(doc["components"]["parameters"])
    for path in ("/leads/{id}/convert", "/deals/{id}/move", "/transfer", "/search",
                 "/fields", "/users", "/imports", "/imports/{id}", "/imports/{id}/errors",
                 "/contacts/bulk", "/contacts/{id}/assign", "/contacts/{id}/restore"):  # fmt: skip
        assert path in doc["paths"], path


def test_the_document_follows_field_changes(company):
    doc = _doc(company["api"])
    again = company["api"].get("/api/v1/openapi.json").get_data()
    assert again == company["api"].get("/api/v1/openapi.json").get_data()
    resp = post(
        company["client"],
        f"/app/{company['slug']}/customize/contacts/fields/new",
        {"label": "Tier", "type": "choice", "choices": "Gold\nSilver"},
    )
    assert resp.status_code == 302
    changed = _doc(company["api"])
    assert changed["info"]["x-field-version"] > doc["info"]["x-field-version"]
    tier = changed["components"]["schemas"]["Contact"]["properties"]["cf_tier"]
    assert tier["enum"] == ["gold", "silver", None]


def test_a_custom_field_stays_in_its_own_companys_document(company, make_client, api_key, api):
    other_client = make_client()
    other, _email = signup(other_client)
    doc = _doc(api(api_key(other)))
    assert "cf_shoe_size" not in doc["components"]["schemas"]["Contact"]["properties"]
    assert "cf_shoe_size" not in str(doc["paths"]["/contacts"]["get"]["parameters"])


def test_a_key_sees_only_what_its_scopes_allow(company, api_key, api):
    doc = _doc(api(api_key(company["slug"], {"contact": "read"})))
    OpenAPIV31SpecValidator(doc).validate()
    objects = {p.split("/")[1] for p in doc["paths"]} - {"fields", "users", "openapi.json",
                                                        "search", "imports"}  # fmt: skip
    assert objects == {"contacts"}
    assert set(doc["paths"]["/contacts"]) == {"get"}
    assert "patch" not in doc["paths"]["/contacts/{id}"]
    assert "/contacts/bulk" not in doc["paths"] and "/transfer" not in doc["paths"]
    assert "/imports" not in doc["paths"]  # starting an import needs write access
    schemas = doc["components"]["schemas"]
    assert "Contact" in schemas and "ContactCreate" not in schemas and "Deal" not in schemas


def test_the_document_needs_a_key(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 401 and resp.mimetype == "application/problem+json"


def test_an_import_answers_as_documented(company, run_jobs):
    doc = _doc(company["api"])
    csv = "Last name,Email\nAmes,a@ex.com\nBad,not-an-address\n"
    resp = company["api"].post(
        "/api/v1/imports",
        data={"object": "contact", "file": (io.BytesIO(csv.encode()), "people.csv")},
        content_type="multipart/form-data",
    )
    assert "202" in doc["paths"]["/imports"]["post"]["responses"]
    assert resp.status_code == 202, resp.get_data(as_text=True)
    _conforms(doc, "Import", resp.get_json())
    run_jobs()
    done = company["api"].get(resp.headers["Location"])
    _conforms(doc, "Import", done.get_json())
    report = company["api"].get(done.get_json()["errors_url"])
    assert (
        report.mimetype
        in doc["paths"]["/imports/{id}/errors"]["get"]["responses"]["200"]["content"]
    )


def test_bulk_and_transfer_answer_as_documented(company):
    doc = _doc(company["api"])
    resp = company["api"].post(
        "/api/v1/contacts/bulk",
        json={"mode": "create", "records": [{"last_name": "Ames"}, {"email": "x"}]},
    )
    assert resp.status_code == 200
    _conforms(doc, "BulkResult", resp.get_json())
    users = company["api"].get("/api/v1/users").get_json()["data"]
    resp = company["api"].post(
        "/api/v1/transfer", json={"from_user": users[0]["id"], "to_user": 10**6}
    )
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    _conforms(doc, "Problem", resp.get_json())


def _conforms(doc: dict, name: str, value) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(value)


def test_the_reference_page_is_for_the_team_only(company, make_client):
    slug = company["slug"]
    email, _user = add_member(slug, "member")
    member = make_client()
    login(member, email)
    page = member.get(f"/app/{slug}/settings/api-docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "cf_shoe_size" in html and "Shoe size" in html
    assert "Versioning policy" in html and "/api/problems" in html
    assert 'id="op-listContacts"' in html and 'id="op-createContact"' in html
    assert all(re.search(r"\ssrc=", tag) for tag in re.findall(r"<script[^>]*>", html))
    served = member.get(f"/app/{slug}/settings/api-docs/openapi.json")
    assert served.status_code == 200
    assert "cf_shoe_size" in served.get_json()["components"]["schemas"]["Contact"]["properties"]

    stranger = make_client()
    signup(stranger)
    assert stranger.get(f"/app/{slug}/settings/api-docs").status_code == 404
    assert stranger.get(f"/app/{slug}/settings/api-docs/openapi.json").status_code == 404
    assert make_client().get(f"/app/{slug}/settings/api-docs").status_code == 302  # sign in


def test_a_read_only_member_may_read_the_reference(company, make_client):
    email, _user = add_member(company["slug"], "readonly")
    reader = make_client()
    login(reader, email)
    assert reader.get(f"/app/{company['slug']}/settings/api-docs").status_code == 200


def test_the_error_types_are_listed_publicly(make_client):
    page = make_client().get("/api/problems")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for slug, (_status, title) in TYPES.items():
        assert f'id="{slug}"' in html, slug
        assert title in html or title.replace("'", "&#39;") in html


def test_try_it_calls_the_api_from_the_reference_page(app, company, api_key, artifacts):
    """In a real browser, under the page's CSP: the key typed in is used for the call."""
    import shutil
    import threading

    from werkzeug.serving import make_server

    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import expect, sync_playwright

    slug, token = company["slug"], api_key(company["slug"])
    company["api"].post("/api/v1/contacts", json={"last_name": "Ames", "cf_shoe_size": "42"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=["--headless", "--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m))
            page.goto(f"{base}/login")
            page.fill("#email", company["email"])
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(f"**/app/{slug}/**")
            page.goto(f"{base}/app/{slug}/settings/api-docs")
            page.screenshot(path=str(artifacts / "api-docs-top.png"))
            page.click("#op-listContacts summary")
            form = page.locator("#op-listContacts form.api-try")
            form.locator("button[type=submit]").click()
            assert "Paste an API key" in form.locator("output").inner_text()
            page.fill("#api-key", token)
            form.locator("input[name=query]").fill("cf_shoe_size[gte]=40")
            form.locator("button[type=submit]").click()
            expect(form.locator("output")).to_contain_text("200 OK")  # polls without eval
            answer = form.locator("output").inner_text()
            assert '"last_name": "Ames"' in answer and '"has_more": false' in answer
            page.screenshot(path=str(artifacts / "api-docs-try-it.png"), full_page=False)
            browser.close()
    finally:
        server.shutdown()
    # A browser asks for /favicon.ico on its own; anything else (a CSP refusal) is a bug.
    errors = [m.text for m in errors if not m.location["url"].endswith("/favicon.ico")]
    assert not errors, errors
