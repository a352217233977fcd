"""Sign-up provisioning: claiming a pooled schema, and building one from nothing.

* ``provision``: ``with db.scope(): create_tenant(name, user)`` for an owner made
  beforehand (password hashing is not sign-up's provisioning cost), from the
  call until the scope has committed and the tenant is usable, with a warm pool.
* ``build``: ``add_to_pool()``, what the refill job does: one tenant schema
  built from nothing and recorded in the pool.
* ``raw_ddl``: the same ``tenant_ddl()`` text sent with plain psycopg in one
  transaction, the floor for ``build``. Build and raw runs alternate.

    .venv/bin/python bench/provision.py [--tenants 50]
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from saas.db import db  # noqa: E402
from saas.modules.accounts.models import User  # noqa: E402
from saas.modules.accounts.passwords import hash_password  # noqa: E402
from saas.tenants.models import PooledSchema, Tenant  # noqa: E402
from saas.tenants.provisioning import add_to_pool, tenant_ddl  # noqa: E402
from saas.tenants.service import create_tenant  # noqa: E402

PROVISION_P50_TARGET_MS = 50.0
BUILD_RATIO_TARGET = 1.5


def make_owners(n: int) -> list[int]:
    """``n`` users sharing one password hash (argon2 is slow on purpose)."""
    password_hash = hash_password("bench-password-not-secret")
    with db.scope() as s:
        users = [
            User(name=f"Owner {i}", email=f"owner{i}@bench.example", password_hash=password_hash)
            for i in range(n)
        ]
        s.add_all(users)
        s.flush()
        return [user.id for user in users]


def timed_build() -> tuple[float, str]:
    start = perf_counter()
    schema_name = add_to_pool()
    return (perf_counter() - start) * 1000, schema_name


def timed_raw_ddl(conn: psycopg.Connection) -> float:
    sql = tenant_ddl(f"t_{uuid.uuid4().hex}")
    start = perf_counter()
    conn.execute(sql)
    conn.commit()
    return (perf_counter() - start) * 1000


def build_pool(n: int, raw_url: str) -> tuple[list[float], list[float], set[str]]:
    """Fill the pool with ``n`` schemas, alternating with ``n`` raw DDL runs."""
    build_ms, raw_ms, pooled = [], [], set()
    with psycopg.connect(raw_url) as conn:
        # Warm-up, not counted: rendering the DDL, first connections, plan caches.
        pooled.add(timed_build()[1])
        timed_raw_ddl(conn)
        for i in range(n):
            # Alternate which one goes first, so neither always follows the other.
            if i % 2:
                raw_ms.append(timed_raw_ddl(conn))
            ms, name = timed_build()
            build_ms.append(ms)
            pooled.add(name)
            if not i % 2:
                raw_ms.append(timed_raw_ddl(conn))
    return build_ms, raw_ms, pooled


def provision(owner_ids: list[int]) -> tuple[list[float], list[str]]:
    times, schemas = [], []
    for i, owner_id in enumerate(owner_ids):
        start = perf_counter()
        with db.scope() as s:
            tenant = create_tenant(f"Bench Company {i:05d}", s.get(User, owner_id))
        times.append((perf_counter() - start) * 1000)
        schemas.append(tenant.schema_name)
    return times, schemas


def verify(schemas: list[str], pooled: set[str]) -> None:
    """Every tenant exists, got a pooled schema, and that schema has its tables."""
    if not set(schemas) <= pooled:
        raise SystemExit("FAILED: some tenants got a schema built at sign-up, not a pooled one")
    with db.engine.connect() as conn:
        tenants = conn.execute(select(func.count()).select_from(Tenant)).scalar_one()
        tables = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema = ANY(:s) AND table_name = 'contacts'"
            ),
            {"s": schemas},
        ).scalar_one()
        left = conn.execute(select(func.count()).select_from(PooledSchema)).scalar_one()
    if tenants != len(schemas) or tables != len(schemas):
        raise SystemExit(
            f"FAILED: {tenants} tenants and {tables} contacts tables, not {len(schemas)}"
        )
    print(f"verified: {tenants} tenants with their tables; {left} schema(s) left in the pool")


def main() -> None:
    args = harness.parser(__doc__.splitlines()[0], tenants=50).parse_args()
    n = args.tenants
    with harness.services("provision") as svc:
        app = harness.create_app(svc, SCHEMA_POOL_SIZE=n)
        with app.app_context():
            owner_ids = make_owners(n)
            build_ms, raw_ms, pooled = build_pool(n, svc.database_url)
            provision_ms, schemas = provision(owner_ids)
            verify(schemas, pooled)

    build_p50, raw_p50 = harness.percentile(build_ms, 50), harness.percentile(raw_ms, 50)
    result = {
        "provision_p50_ms": round(harness.percentile(provision_ms, 50), 2),
        "provision_p95_ms": round(harness.percentile(provision_ms, 95), 2),
        "build_p50_ms": round(build_p50, 2),
        "raw_ddl_p50_ms": round(raw_p50, 2),
        "build_ratio": round(build_p50 / raw_p50, 3),
        "tenants": n,
    }
    print(f"\nprovisioning {n} tenants (warm pool of {n} schemas)")
    harness.check(
        "provision p50",
        result["provision_p50_ms"],
        "ms",
        f"< {PROVISION_P50_TARGET_MS:g}",
        result["provision_p50_ms"] < PROVISION_P50_TARGET_MS,
    )
    print(f"  {'provision p95':<18} {result['provision_p95_ms']:>10.2f} ms")
    print(f"  {'build p50':<18} {result['build_p50_ms']:>10.2f} ms  (add_to_pool)")
    print(f"  {'raw ddl p50':<18} {result['raw_ddl_p50_ms']:>10.2f} ms  (plain psycopg)")
    harness.check(
        "build ratio",
        result["build_ratio"],
        "x",
        f"<= {BUILD_RATIO_TARGET:g}",
        result["build_ratio"] <= BUILD_RATIO_TARGET,
    )
    harness.emit(result)


if __name__ == "__main__":
    main()
