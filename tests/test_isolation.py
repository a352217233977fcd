"""One tenant never sees another's data: pages, ids, jobs and pooled connections."""

import re
import uuid

from sqlalchemy import func, select, text

from saas.db import db
from saas.jobs import enqueue, get_queue, job
from saas.modules.customers.models import Contact
from saas.modules.records import service as records
from saas.modules.records.registry import get as object_type
from saas.tenants.models import Tenant
from tests.conftest import post, signup, unique


def _tenant(slug):
    with db.scope() as s:
        return s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one()


def _tenant_urls(app, ids):
    """Every tenant URL rule, filled in with ids: rules taking an object are expanded
    to every object type, with the id of that type's record."""
    from saas.modules.records.registry import all_types

    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("tenant."):
            continue
        args = rule.arguments - {"tenant_slug"}
        types = all_types() if "otype" in args else [None]
        for otype in types:
            path = rule.rule
            for arg in args:
                if arg == "otype":
                    path = path.replace("<object:otype>", otype.slug)
                    continue
                # Other ids (lines, stages, teams...) are B's first ones: a non-member is
                # turned away before any id is looked at, whatever the id.
                value = ids[otype.name] if arg == "record_id" else ids.get(arg, 1)
                path = re.sub(rf"<(\w+:)?{arg}>", str(value), path)
            urls.append((path, rule.methods - {"HEAD", "OPTIONS"}))
    return urls


def test_member_of_a_gets_404_for_every_page_of_b(app, client, make_client):
    from tests.factories import one_of_each, user_id

    slug_a, _ = signup(client)
    browser_b = make_client()
    slug_b, email_b = signup(browser_b)
    post(browser_b, f"/app/{slug_b}/contacts/new", {"last_name": "SecretB"})
    post(
        browser_b,
        f"/app/{slug_b}/team/invite",
        {"email": f"{unique()}@example.com", "role": "member"},
    )
    post(browser_b, f"/app/{slug_b}/contacts/views", {"name": "SecretView", "query": "q=x"})
    page = browser_b.get(f"/app/{slug_b}/team/").get_data(as_text=True)
    ids = one_of_each(slug_b, user_id(email_b))
    ids |= {
        "member_id": re.search(r"/team/(\d+)/role", page).group(1),
        "invitation_id": re.search(r"/invitations/(\d+)/revoke", page).group(1),
        "view_id": re.search(
            r"/views/(\d+)/delete", browser_b.get(f"/app/{slug_b}/contacts/").get_data(as_text=True)
        ).group(1),
    }
    urls = _tenant_urls(app, ids)
    assert len(urls) >= 100
    for pattern, methods in urls:
        url = pattern.replace("<tenant_slug>", slug_b)
        for method in methods:
            if method == "GET":
                resp = client.get(url)
            else:
                resp = post(
                    client,
                    url,
                    {
                        "last_name": "Intruder",
                        "role": "owner",
                        "email": "x@example.com",
                        "name": "Intruder",
                        "body": "Intruder",
                        "subject": "Intruder",
                    },
                )
            assert resp.status_code == 404, (method, url, resp.status_code)
            assert "SecretB" not in resp.get_data(as_text=True)
    # ...and an unknown slug looks exactly the same.
    assert client.get(f"/app/{unique('nope')}/").status_code == 404
    # B's data is untouched.
    assert "Intruder" not in browser_b.get(f"/app/{slug_b}/contacts/").get_data(as_text=True)
    assert "SecretB" in browser_b.get(f"/app/{slug_b}/contacts/").get_data(as_text=True)
    assert "Nothing found" in browser_b.get(f"/app/{slug_b}/search?q=Intruder").get_data(
        as_text=True
    )


def test_public_ids_of_b_cannot_be_used_through_a(client, make_client):
    slug_a, _ = signup(client)
    browser_b = make_client()
    slug_b, _ = signup(browser_b)
    post(
        browser_b,
        f"/app/{slug_b}/team/invite",
        {"email": f"{unique()}@example.com", "role": "member"},
    )
    page = browser_b.get(f"/app/{slug_b}/team/").get_data(as_text=True)
    member_b = re.search(r"/team/(\d+)/role", page).group(1)
    invitation_b = re.search(r"/invitations/(\d+)/revoke", page).group(1)
    assert (
        post(client, f"/app/{slug_a}/team/{member_b}/role", {"role": "readonly"}).status_code == 404
    )
    assert post(client, f"/app/{slug_a}/team/{member_b}/remove").status_code == 404
    assert post(client, f"/app/{slug_a}/team/invitations/{invitation_b}/revoke").status_code == 404
    assert "Withdraw" in browser_b.get(f"/app/{slug_b}/team/").get_data(as_text=True)


def test_same_record_id_in_two_tenants_shows_each_its_own(client, make_client):
    slug_a, _ = signup(client)
    browser_b = make_client()
    slug_b, _ = signup(browser_b)
    post(client, f"/app/{slug_a}/contacts/new", {"last_name": "OnlyInA"})
    post(browser_b, f"/app/{slug_b}/contacts/new", {"last_name": "OnlyInB"})
    page_a = client.get(f"/app/{slug_a}/contacts/1").get_data(as_text=True)
    page_b = browser_b.get(f"/app/{slug_b}/contacts/1").get_data(as_text=True)
    assert "OnlyInA" in page_a and "OnlyInB" not in page_a
    assert "OnlyInB" in page_b and "OnlyInA" not in page_b


@job(queue="default")
def describe_tenant(marker: str) -> dict:
    """A tenant job: what does it see?"""
    from saas.db import current_tenant, session

    names = session().execute(select(Contact.last_name).order_by(Contact.id)).scalars().all()
    return {"marker": marker, "tenant": current_tenant().slug, "contacts": names}


def _job_results(app):
    with app.app_context():
        from rq.registry import FinishedJobRegistry

        queue = get_queue("default")
        registry = FinishedJobRegistry(queue=queue)
        return [queue.fetch_job(i).return_value() for i in registry.get_job_ids()]


def test_a_job_enqueued_in_a_runs_in_a_and_cannot_see_b(app, client, make_client, run_jobs):
    slug_a, _ = signup(client)
    slug_b, _ = signup(make_client())
    tenant_a, tenant_b = _tenant(slug_a), _tenant(slug_b)
    with db.scope(tenant_b.ref()):
        records.create(object_type("contact"), {"last_name": "BeeOnly"})
    marker = uuid.uuid4().hex
    with app.app_context(), db.scope(tenant_a.ref()):
        records.create(object_type("contact"), {"last_name": "AyeOnly"})
        enqueue(describe_tenant, marker)
    run_jobs()
    results = [r for r in _job_results(app) if isinstance(r, dict) and r.get("marker") == marker]
    assert results == [{"marker": marker, "tenant": slug_a, "contacts": ["AyeOnly"]}]


def test_job_is_not_enqueued_when_the_transaction_rolls_back(app, client, run_jobs):
    slug, _ = signup(client)
    marker = uuid.uuid4().hex
    try:
        with app.app_context(), db.scope(_tenant(slug).ref()):
            enqueue(describe_tenant, marker)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with app.app_context():
        queued = get_queue("default").get_jobs()
    assert not [j for j in queued if j.args == (marker,)]


def test_job_for_a_suspended_tenant_does_nothing(app, client, run_jobs):
    from saas.tenants import service

    slug, _ = signup(client)
    run_jobs()
    marker = uuid.uuid4().hex
    with app.app_context(), db.scope(_tenant(slug).ref()):
        enqueue(describe_tenant, marker)
    with db.scope() as s:
        service.suspend(s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one(), "unpaid")
    run_jobs()
    results = [r for r in _job_results(app) if isinstance(r, dict) and r.get("skipped")]
    assert {"skipped": f"tenant {slug} is suspended"} in results
    assert not [r for r in _job_results(app) if isinstance(r, dict) and r.get("marker") == marker]


def test_suspended_tenant_shows_a_clear_page(client):
    from saas.tenants import service

    slug, _ = signup(client)
    with db.scope() as s:
        service.suspend(
            s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one(), "Unpaid invoice"
        )
    resp = client.get(f"/app/{slug}/contacts/")
    assert resp.status_code == 403
    body = resp.get_data(as_text=True)
    assert "is suspended" in body and "Unpaid invoice" in body
    with db.scope() as s:
        service.resume(s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one())
    assert client.get(f"/app/{slug}/contacts/").status_code == 200


def test_pooled_connection_alternating_tenants_with_rollbacks(client, make_client):
    """One pooled connection, tenants alternating, rollbacks in between: every
    statement runs in the schema of the session that issued it."""
    slugs = [signup(make_client())[0] for _ in range(3)]
    tenants = [_tenant(s).ref() for s in slugs]
    for t in tenants:
        with db.scope(t):
            records.create(object_type("contact"), {"last_name": f"owner-{t.slug}"})
    engine = db.engine
    engine.dispose()
    assert engine.pool.size() >= 1
    backends = set()
    for round_ in range(5):
        for t in tenants:
            with db.scope(t) as s:
                backends.add(s.execute(text("SELECT pg_backend_pid()")).scalar_one())
                names = s.execute(select(Contact.last_name)).scalars().all()
                assert names == [f"owner-{t.slug}"], (round_, t.slug, names)
                s.add(Contact(last_name=f"rolled-back-{round_}"))
                s.flush()
                s.rollback()  # a rollback in the middle ...
                count = s.execute(select(func.count()).select_from(Contact)).scalar_one()
                assert count == 1  # ... and the next statement is still in this tenant
    assert len(backends) == 1  # truly the same server connection every time


def test_a_tenant_transaction_cannot_reach_another_schema_even_with_raw_sql(client, make_client):
    """Defense in depth: tenant transactions run as the tenant's own database role."""
    import pytest
    from sqlalchemy.exc import ProgrammingError

    slug_a, _ = signup(client)
    slug_b, _ = signup(make_client())
    a, b = _tenant(slug_a), _tenant(slug_b)
    with db.scope(b.ref()):
        records.create(object_type("contact"), {"last_name": "PrivateB"})
    with db.scope(a.ref()) as s:
        assert s.execute(text("SELECT current_user")).scalar_one() == a.schema_name
        with pytest.raises(ProgrammingError, match="permission denied"):
            s.execute(text(f'SELECT last_name FROM "{b.schema_name}".contacts'))
    with db.scope(a.ref()) as s:  # the tenant's own schema and its own public rows work
        assert s.execute(text(f'SELECT count(*) FROM "{a.schema_name}".contacts')).scalar_one() == 0
        assert s.execute(select(Tenant.slug)).scalars().all() == [slug_a]


def test_a_tenant_transaction_sees_only_its_own_rows_of_the_public_tables(
    client, make_client, api_key
):
    """Row-level security: even raw SQL without a tenant filter, run by a tenant's role,
    sees and changes only that tenant's members, users, keys and jobs; it cannot change
    users (who may belong to other companies), its plan or status, or the audit log; the
    platform's own tables are out of reach."""
    import pytest
    from sqlalchemy.exc import ProgrammingError

    from saas.modules.accounts.models import Membership, User

    slug_a, email_a = signup(client)
    slug_b, email_b = signup(make_client())
    a, b = _tenant(slug_a), _tenant(slug_b)
    api_key(slug_b)  # made in B's transaction: its own rows may be written
    with db.scope(a.ref()) as s:
        assert s.execute(select(User.email)).scalars().all() == [email_a]
        tenants = s.execute(select(Membership.tenant_id).distinct()).scalars().all()
        assert tenants == [a.id]
        assert s.execute(text("SELECT count(*) FROM public.api_keys")).scalar_one() == 0
        others = text("SELECT count(*) FROM public.tracked_jobs WHERE tenant_id <> :a")
        assert s.execute(others, {"a": a.id}).scalar_one() == 0
        changed = s.execute(text("UPDATE public.tenants SET name = 'Mallory'")).rowcount
        assert changed == 1  # its own name only
        s.rollback()
        for statement in (
            "UPDATE public.users SET name = 'Mallory'",  # a user may belong to B too
            "UPDATE public.tenants SET plan = 'enterprise', status = 'active'",
            "DELETE FROM public.audit_log",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"):
                s.execute(text(statement))
            s.rollback()
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.execute(
                text(
                    "INSERT INTO public.memberships (tenant_id, user_id, role) "
                    "SELECT :b, id, 'owner' FROM public.users"
                ),
                {"b": b.id},
            )
        s.rollback()
        for table in ("schema_pool", "alembic_version"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                s.execute(text(f"SELECT 1 FROM public.{table}"))
            s.rollback()
    with db.scope() as s:  # the platform's own work sees everything, B is untouched
        assert s.get(Tenant, b.id).name != "Mallory"
        assert s.execute(select(User.name).where(User.email == email_b)).scalar_one() != "Mallory"
        keys_b = text("SELECT count(*) FROM public.api_keys WHERE tenant_id = :b")
        assert s.execute(keys_b, {"b": b.id}).scalar_one() == 1


def test_every_public_table_is_kept_from_tenant_roles_or_filtered_by_row(app):
    """A new public table is either out of a tenant role's reach or has row-level
    security (migrations/public/versions/p0007_tenant_row_security.py)."""
    with db.scope() as s:
        rows = s.execute(
            text(
                "SELECT c.relname, c.relrowsecurity,"
                " has_table_privilege('saas_tenant', c.oid, 'SELECT,INSERT,UPDATE,DELETE')"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
            )
        ).all()
    assert rows
    exposed = [name for name, secured, granted in rows if granted and not secured]
    assert exposed == []


def test_a_read_in_one_round_trip_runs_as_the_tenant_and_ends_its_transaction(client, make_client):
    """read_alone() runs a SELECT as its own transaction in autocommit mode (the API's GET
    of a record), with the tenant's role set for the server session: the role holds for
    it, another schema stays out of reach, and whatever the same pooled connection runs
    next (another tenant, public work, Core connections) runs as its own role."""
    import pytest
    from sqlalchemy.exc import ProgrammingError

    from saas.db import read_alone

    slug_a, _ = signup(client)
    slug_b, _ = signup(make_client())
    a, b = _tenant(slug_a), _tenant(slug_b)
    with db.scope(b.ref()):
        records.create(object_type("contact"), {"last_name": "PrivateB"})
    with db.scope() as s:
        login = s.execute(text("SELECT current_user")).scalar_one()
    who = text("SELECT pg_backend_pid(), current_user")
    with db.scope(a.ref()) as s:
        [(pid, user)] = read_alone(who)
        assert user == a.schema_name
        assert not s.in_transaction()  # committed with it
        assert s.execute(text("SELECT current_user")).scalar_one() == a.schema_name
        s.commit()
        with pytest.raises(ProgrammingError, match="permission denied"):
            read_alone(text(f'SELECT last_name FROM "{b.schema_name}".contacts'))
        s.rollback()  # the unit of work goes on after a failed read
        records.create(object_type("contact"), {"last_name": "Written"})
        # Inside an open transaction the read simply runs in it and sees its writes.
        assert read_alone(select(Contact.last_name)) == [("Written",)]
        assert s.in_transaction()
    with db.scope(a.ref()) as s:
        assert s.execute(select(Contact.last_name)).scalars().all() == ["Written"]

    # The connection that read as A, whichever comes out of the pool, serves others as them.
    def each_connection(run):
        seen = {}
        for _ in range(db.engine.pool.checkedin() + 1):
            seen.update(run())
        return seen[pid]

    def public():
        with db.scope() as s:
            return [s.execute(who).one()]

    def core(**options):
        with db.engine.connect().execution_options(**options) as conn:
            return [conn.execute(who).one()]

    def tenant_b(read):
        with db.scope(b.ref()) as s:
            if read:
                return read_alone(who)
            return [s.execute(who).one()]

    assert each_connection(public) == login
    assert each_connection(core) == login
    assert each_connection(lambda: tenant_b(read=True)) == b.schema_name
    assert each_connection(lambda: core(isolation_level="AUTOCOMMIT")) == login
    assert each_connection(lambda: tenant_b(read=True)) == b.schema_name
    assert each_connection(public) == login
    assert each_connection(lambda: tenant_b(read=False)) == b.schema_name
