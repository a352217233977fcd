"""schemathesis against a tenant's own OpenAPI document, through the WSGI app: no input
the document allows gives a server error, and every answer matches the document
(status code, content type, headers and body schema).

A bounded, deterministic run: a fixed number of examples per operation and the same
examples every time. The tenant has custom fields of several types so that its
document, its filters and its bodies include them.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from saas.db import db
from saas.modules.api import keys
from tests.conftest import post, signup
from tests.factories import make, tenant_ref

EXAMPLES = 12  # per operation: about 70 operations in well under a minute
CUSTOM_FIELDS = {
    "Tier": {"type": "choice", "choices": "Gold\nSilver", "indexed": "on"},
    "Interests": {"type": "multichoice", "choices": "Golf\nChess"},
    "Budget": {"type": "currency", "indexed": "on"},
    "Renewal": {"type": "date"},
    "Newsletter": {"type": "bool"},
    "External id": {"type": "text", "unique": "on"},
    "Referred by": {"type": "lookup", "target": "account"},
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_tenant(app, run_jobs_module):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.251.0.1"
    slug, _email = signup(client)
    for label, spec in CUSTOM_FIELDS.items():
        resp = post(client, f"/app/{slug}/customize/contacts/fields/new", {"label": label, **spec})
        assert resp.status_code == 302, resp.get_data(as_text=True)
    run_jobs_module()  # indexes
    account = make(slug, "account", name="Fabrikam")
    make(slug, "contact", last_name="Mercer", account_id=account)
    make(slug, "deal")
    with app.app_context(), db.scope(tenant_ref(slug)):
        _key, token = keys.create("schemathesis", {"*": "write"}, created_by=None)
    limits = app.config["API_RATE_LIMITS"]
    app.config["API_RATE_LIMITS"] = {"default": {"key": 100_000, "tenant": 100_000}}
    yield {"slug": slug, "token": token}
    app.config["API_RATE_LIMITS"] = limits


@pytest.fixture(scope="module")
def run_jobs_module(app):
    from rq import SimpleWorker

    from saas.extensions import redis
    from saas.jobs import QUEUES, TenantJob, get_queue

    def run() -> None:
        with app.app_context():
            queues = [get_queue(q) for q in QUEUES]
            SimpleWorker(queues, connection=redis(), job_class=TenantJob).work(burst=True)

    return run


@pytest.fixture(scope="module")
def tenant_schema(app, api_tenant):
    auth = {"Authorization": f"Bearer {api_tenant['token']}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=auth)
    # Multipart uploads start jobs and a transfer moves every record: tested in test_api.
    return schema.exclude(path_regex=r"^/(imports|transfer)"), auth


def test_the_api_keeps_to_its_document(tenant_schema):
    schema, auth = tenant_schema
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:

        @hypothesis.settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(GenerationMode.POSITIVE))
        def call(case):
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            call()
        except Exception as exc:  # every operation runs; the failures are reported together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
