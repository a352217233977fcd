"""The migration runner and the agreement between models and migrations."""

import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, event, select, text

from saas.config import ROOT, database_url
from saas.db import NAMING, Base, TenantBase
from saas.tenants.migrate import Migrator, tenant_head
from saas.tenants.models import Tenant, schema_name_for
from saas.tenants.provisioning import build_schema
from tests.conftest import drop_database

EXTRA_REVISION = """
import sqlalchemy as sa
from alembic import op

from saas.tenants.migrate import tenant_schema

revision = "t9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("contacts", sa.Column("score", sa.Integer()), schema=tenant_schema())
    op.create_index("ix_contacts_score", "contacts", ["score"], schema=tenant_schema())


def downgrade():
    op.drop_index("ix_contacts_score", table_name="contacts", schema=tenant_schema())
    op.drop_column("contacts", "score", schema=tenant_schema())
"""


@pytest.fixture
def scratch_engine(services):
    """A database of its own, so migrating it cannot disturb other tests."""
    name = f"saas_mig_{uuid.uuid4().hex[:8]}"
    admin = services["admin"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = services["DATABASE_URL"].replace(
        services["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0], name, 1
    )
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_database(admin, name)


@pytest.fixture
def extra_migration(tmp_path):
    """A copy of the migrations with one more tenant revision (add column + index)."""
    location = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", location, ignore=shutil.ignore_patterns("__pycache__"))
    path = location / "tenant" / "versions" / "t9001_add_score.py"
    path.write_text(EXTRA_REVISION.format(head=tenant_head()))
    return location


def _add_tenants(engine, n, build=True):
    """Tenants whose schemas are built from the models (as at sign-up) or left empty."""
    slugs = []
    with engine.begin() as conn:
        for i in range(n):
            tenant_id = uuid.uuid4()
            schema = schema_name_for(tenant_id)
            if build:
                build_schema(conn, schema)
            else:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            slug = f"mig-{i}-{tenant_id.hex[:6]}"
            conn.execute(
                Tenant.__table__.insert().values(
                    id=tenant_id, slug=slug, name=slug, schema_name=schema,
                    schema_version=tenant_head() if build else None,
                )
            )  # fmt: skip
            slugs.append(slug)
    return slugs


def _versions(engine):
    with engine.connect() as conn:
        return dict(conn.execute(select(Tenant.slug, Tenant.schema_version)).all())


def _diff(engine, metadata, schema):
    # With public off the search path, reflection names it explicitly, as the models do.
    engine = create_engine(engine.url, connect_args={"options": "-c search_path=pg_catalog"})
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parent: type_ != "schema" or name == schema,
                "include_object": lambda obj, name, type_, r, c: (
                    not (type_ == "table" and name == "alembic_version")
                ),
            },
        )
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    return diff


def _copy(metadata, schema):
    """The models' tables placed in ``schema``."""
    copy = MetaData(naming_convention=NAMING)
    for table in metadata.sorted_tables:
        table.to_metadata(copy, schema=schema, referred_schema_fn=lambda *a: schema)
    return copy


def test_models_and_migrations_agree(scratch_engine):
    Migrator(scratch_engine).run()
    assert _diff(scratch_engine, Base.metadata, "public") == []
    # A tenant schema built by the migrations, and one built from the models at sign-up.
    [migrated] = _add_tenants(scratch_engine, 1, build=False)
    [built] = _add_tenants(scratch_engine, 1, build=True)
    summary = Migrator(scratch_engine).run()
    assert summary.migrated == [migrated] and summary.ok
    with scratch_engine.connect() as conn:
        schemas = dict(conn.execute(select(Tenant.slug, Tenant.schema_name)).all())
    for slug in (migrated, built):
        schema = schemas[slug]
        assert _diff(scratch_engine, _copy(TenantBase.metadata, schema), schema) == [], slug


def test_runner_reports_a_failing_tenant_and_resumes(scratch_engine, extra_migration):
    Migrator(scratch_engine).run()
    slugs = _add_tenants(scratch_engine, 6)
    with scratch_engine.connect() as conn:
        locked_schema = conn.execute(
            select(Tenant.schema_name).where(Tenant.slug == slugs[3])
        ).scalar_one()

    # Another session holds a lock on tenant k's table: its migration times out.
    blocker = scratch_engine.connect()
    blocker.exec_driver_sql(f'LOCK TABLE "{locked_schema}".contacts IN ACCESS EXCLUSIVE MODE')
    try:
        first = Migrator(scratch_engine, extra_migration, parallelism=2, lock_timeout="300ms").run()
    finally:
        blocker.rollback()
        blocker.close()
    assert [slug for slug, _ in first.failed] == [slugs[3]]
    assert "lock timeout" in first.failed[0][1]
    assert sorted(first.migrated) == sorted(s for s in slugs if s != slugs[3])
    assert any(f"FAILED {slugs[3]}" in line for line in first.lines())
    versions = _versions(scratch_engine)
    assert versions[slugs[3]] == tenant_head()
    assert all(versions[s] == "t9001" for s in slugs if s != slugs[3])
    with scratch_engine.connect() as conn:
        error = conn.execute(
            select(Tenant.migration_error).where(Tenant.slug == slugs[3])
        ).scalar_one()
    assert "lock timeout" in error

    # The next run picks up only the tenant that is behind.
    second = Migrator(scratch_engine, extra_migration).run()
    assert second.migrated == [slugs[3]] and second.ok
    assert set(_versions(scratch_engine).values()) == {"t9001"}
    with scratch_engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.columns"
                " WHERE column_name = 'score' AND table_name = 'contacts'"
            )
        ).scalar_one()
    assert columns == len(slugs)


def test_a_run_with_nothing_to_do_costs_one_query(scratch_engine):
    Migrator(scratch_engine).run()
    _add_tenants(scratch_engine, 3)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(scratch_engine, "before_cursor_execute", listener)
    try:
        summary = Migrator(scratch_engine).run()
    finally:
        event.remove(scratch_engine, "before_cursor_execute", listener)
    assert summary.migrated == [] and summary.ok and not summary.public_upgraded
    assert len(statements) == 1, statements


def test_stale_pool_schemas_are_dropped_on_migration(scratch_engine, extra_migration):
    from saas.tenants.models import PooledSchema

    Migrator(scratch_engine).run()
    tenant_id = uuid.uuid4()
    schema = schema_name_for(tenant_id)
    with scratch_engine.begin() as conn:
        build_schema(conn, schema)
        conn.execute(
            PooledSchema.__table__.insert().values(
                tenant_id=tenant_id, schema_name=schema, schema_version=tenant_head()
            )
        )
    summary = Migrator(scratch_engine, extra_migration).run()
    assert summary.pool_dropped == 1
    with scratch_engine.connect() as conn:
        exists = conn.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).scalar_one()
    assert exists == 0


def test_bad_lock_timeout_setting_is_refused(scratch_engine):
    with pytest.raises(ValueError, match="MIGRATION_LOCK_TIMEOUT"):
        Migrator(scratch_engine, lock_timeout="5s; DROP TABLE x")


def test_tenant_schema_names_are_never_taken_from_input():
    from saas.tenants.migrate import quoted_schema

    assert (
        quoted_schema(schema_name_for(uuid.UUID(int=1))) == '"t_00000000000000000000000000000001"'
    )
    for bad in ['t_x"; DROP SCHEMA public; --', "public", "tenant", "T_" + "0" * 32]:
        with pytest.raises(ValueError):
            quoted_schema(bad)


def test_database_url_accepts_plain_postgres_urls():
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert Path(ROOT / "alembic.ini").exists()


def test_sales_core_migration_turns_contact_companies_into_accounts(scratch_engine):
    """Tenants from before the sales core keep their contacts; each free-text company
    becomes one account the contacts belong to, and they can be found by search."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from saas.tenants.migrate import script_directory

    Migrator(scratch_engine).run()
    [slug] = _add_tenants(scratch_engine, 1, build=False)
    with scratch_engine.begin() as conn:
        schema = conn.execute(select(Tenant.schema_name).where(Tenant.slug == slug)).scalar_one()
        script = script_directory()
        ctx = MigrationContext.configure(conn, opts={
            "version_table_schema": schema, "tenant_schema": schema, "script": script,
            "fn": lambda rev, _ctx: script._upgrade_revs("t0002", rev),
        })  # fmt: skip
        with Operations.context(ctx):
            ctx.run_migrations()
        conn.exec_driver_sql(
            f'INSERT INTO "{schema}".contacts (first_name, last_name, company) VALUES'
            " ('Ana', 'Lee', 'Acme'), ('Bo', 'Chan', 'ACME'), ('Cy', 'Diaz', NULL)"
        )
    summary = Migrator(scratch_engine).run()
    assert summary.migrated == [slug] and summary.ok, summary.lines()
    with scratch_engine.connect() as conn:
        accounts = conn.exec_driver_sql(f'SELECT id, name FROM "{schema}".accounts').all()
        assert [name for _, name in accounts] == ["Acme"]
        linked = conn.exec_driver_sql(
            f'SELECT last_name, account_id FROM "{schema}".contacts ORDER BY last_name'
        ).all()
        assert linked == [("Chan", accounts[0][0]), ("Diaz", None), ("Lee", accounts[0][0])]
        found = (
            conn.exec_driver_sql(
                f"SELECT last_name FROM \"{schema}\".contacts WHERE search @@ 'ana:*'::tsquery"
            )
            .scalars()
            .all()
        )
        assert found == ["Lee"]
        stages = conn.exec_driver_sql(f'SELECT count(*) FROM "{schema}".stages').scalar_one()
        assert stages == 6  # the default pipeline exists
