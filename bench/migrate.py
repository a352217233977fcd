"""Tenant migrations over many schemas: a run with nothing to do, and one new revision.

* ``noop``: ``Migrator(db.engine).run()`` with every tenant at head, and the
  number of SQL statements it sent.
* ``migrate``: a copy of migrations/ with one more tenant revision (a column and
  an index on ``contacts``), applied to every tenant with parallelism 4; then
  every tenant is checked to be at the new revision, in public.tenants and in
  the schema itself (its alembic_version and the new index).

If a tenant is not migrated, the figures are printed with the reasons, the JSON
line gets an ``error`` key and the exit status is 1.

    .venv/bin/python bench/migrate.py [--tenants 1000] [--parallelism 4]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402

from saas.config import ROOT  # noqa: E402
from saas.db import db  # noqa: E402
from saas.tenants.migrate import Migrator, quoted_schema, tenant_head  # noqa: E402
from saas.tenants.models import Tenant  # noqa: E402
from saas.tenants.provisioning import claim_or_build  # noqa: E402

NOOP_TARGET_S = 1.0
MIGRATE_TARGET_S = 30.0  # for 1000 tenants
BATCH = 50  # tenants created per transaction during setup
NEW_REVISION = "t9999"

REVISION_TEMPLATE = '''"""bench: add contacts.bench_score

Revision ID: {revision}
Revises: {down_revision}
"""

import sqlalchemy as sa
from alembic import op

from saas.tenants.migrate import tenant_schema

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade():
    s = tenant_schema()
    op.add_column("contacts", sa.Column("bench_score", sa.Integer()), schema=s)
    op.create_index("ix_contacts_bench_score", "contacts", ["bench_score"], schema=s)


def downgrade():
    s = tenant_schema()
    op.drop_index("ix_contacts_bench_score", table_name="contacts", schema=s)
    op.drop_column("contacts", "bench_score", schema=s)
'''


class QueryCounter:
    """Counts the statements an engine sends while it is active (in this process only)."""

    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0

    def _count(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def create_tenants(n: int) -> None:
    """``n`` tenants at head: schemas built by ``claim_or_build``, rows inserted directly."""
    head = tenant_head()
    for first in range(0, n, BATCH):
        rows = []
        with db.engine.begin() as conn:
            for i in range(first, min(first + BATCH, n)):
                tenant_id, schema_name = claim_or_build(conn)
                rows.append(
                    {
                        "id": tenant_id,
                        "slug": f"bench-{i:05d}",
                        "name": f"Bench Company {i:05d}",
                        "schema_name": schema_name,
                        "schema_version": head,
                    }
                )
            conn.execute(Tenant.__table__.insert(), rows)


def migrations_with_new_revision(workdir: Path) -> Path:
    """A copy of migrations/ with one more tenant revision on top of the current head."""
    location = workdir / "migrations"
    shutil.copytree(
        ROOT / "migrations", location, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    source = REVISION_TEMPLATE.format(revision=NEW_REVISION, down_revision=tenant_head())
    (location / "tenant" / "versions" / f"{NEW_REVISION}_bench_add_column.py").write_text(source)
    return location


def problems(n: int) -> list[str]:
    """What is wrong after the run: tenants not at the new revision, or only on paper."""
    with db.engine.connect() as conn:
        versions = dict(
            conn.execute(
                select(Tenant.schema_version, func.count()).group_by(Tenant.schema_version)
            ).all()
        )
        rows = conn.execute(select(Tenant.schema_name, Tenant.schema_version)).all()
        found = []
        for schema, recorded in rows:
            q = quoted_schema(schema)
            found.append(
                (
                    recorded,
                    conn.execute(text(f"SELECT version_num FROM {q}.alembic_version")).scalar(),
                    conn.execute(
                        text("SELECT to_regclass(:ix) IS NOT NULL"),
                        {"ix": f"{q}.ix_contacts_bench_score"},
                    ).scalar_one(),
                )
            )
    out = []
    if versions != {NEW_REVISION: n}:
        out.append(
            f"public.tenants.schema_version counts: {versions}, expected {{{NEW_REVISION!r}: {n}}}"
        )
    stamped = sum(1 for _, version, _ in found if version == NEW_REVISION)
    if stamped != n:
        out.append(f"{stamped} of {n} schemas have alembic_version {NEW_REVISION}")
    indexed = sum(1 for *_, has_index in found if has_index)
    if indexed != n:
        out.append(f"{indexed} of {n} schemas have ix_contacts_bench_score")
    hollow = sum(
        1
        for recorded, version, has_index in found
        if NEW_REVISION in (recorded, version) and not has_index
    )
    if hollow:
        out.append(f"{hollow} tenants are recorded at {NEW_REVISION} but lack its column/index")
    return out


def main() -> None:
    cli = harness.parser(__doc__.splitlines()[0], tenants=1000)
    cli.add_argument(
        "--parallelism",
        type=harness.positive_int,
        default=4,
        help="Migrator parallelism (default 4)",
    )
    args = cli.parse_args()
    n = args.tenants
    with harness.services("migrate") as svc:
        app = harness.create_app(svc, SCHEMA_POOL_SIZE=0)
        with app.app_context():
            start = perf_counter()
            create_tenants(n)
            print(f"setup: {n} tenants created in {perf_counter() - start:.1f} s")

            with QueryCounter(db.engine) as noop_counter:
                start = perf_counter()
                summary = Migrator(db.engine).run()
                noop_s = perf_counter() - start
            if not summary.ok or summary.migrated:
                raise SystemExit("the no-op run did something:\n" + "\n".join(summary.lines()))

            location = migrations_with_new_revision(svc.workdir)
            start = perf_counter()
            summary = Migrator(
                db.engine, script_location=location, parallelism=args.parallelism
            ).run()
            migrate_s = perf_counter() - start
            print("\n".join(summary.lines()[:12]))
            wrong = problems(n)

    result = {
        "tenants": n,
        "noop_s": round(noop_s, 4),
        "noop_queries": noop_counter.count,
        "migrate_s": round(migrate_s, 3),
        "tenants_per_s": round(n / migrate_s, 1),
    }
    print(f"\nmigrating {n} tenants, parallelism {args.parallelism}")
    harness.check("noop", noop_s, "s", f"< {NOOP_TARGET_S:g}", noop_s < NOOP_TARGET_S)
    print(f"  {'noop queries':<18} {noop_counter.count:>10d}")
    # The target is for 1000 tenants; scaled for other sizes.
    target = MIGRATE_TARGET_S * n / 1000
    harness.check("migrate", migrate_s, "s", f"< {target:g}", migrate_s < target)
    print(f"  {'tenants/s':<18} {result['tenants_per_s']:>10.1f}")
    if summary.failed or wrong:
        wrong.insert(0, f"{len(summary.failed)} of {n} tenants failed to migrate")
        print("\nFAILED:\n  " + "\n  ".join(wrong))
        harness.emit({**result, "error": "; ".join(wrong)})
        sys.exit(1)
    print(f"verified: all {n} tenants at {NEW_REVISION} (public.tenants, alembic_version, index)")
    harness.emit(result)


if __name__ == "__main__":
    main()
