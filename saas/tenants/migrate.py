"""Migration runner: the public track, then every tenant schema.

Each tenant is migrated in its own transaction with a ``lock_timeout``, a few
at a time, and its version is written to ``public.tenants`` in that same
transaction. A run is therefore resumable (it picks up the tenants not yet at
head), a failing tenant is reported by name without stopping the others, and a
run with nothing to do costs one query.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from saas.config import ROOT

log = logging.getLogger(__name__)

SCHEMA_RE = re.compile(r"^t_[0-9a-f]{32}$")
LOCK_TIMEOUT_RE = re.compile(r"^\d+(ms|s|min)?$")


def tenant_schema() -> str:
    """The schema a tenant-track migration is running against."""
    from alembic import op

    return op.get_context().opts["tenant_schema"]


def quoted_schema(schema_name: str) -> str:
    """The schema name as a quoted identifier; only names we generated are accepted."""
    if not SCHEMA_RE.match(schema_name):
        raise ValueError(f"not a tenant schema name: {schema_name!r}")
    return f'"{schema_name}"'


def alembic_config(script_location: str | Path | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    if script_location is not None:
        loc = Path(script_location)
        cfg.set_main_option("script_location", str(loc))
        cfg.set_main_option(
            "version_locations", f"{loc / 'public' / 'versions'} {loc / 'tenant' / 'versions'}"
        )
    return cfg


@cache
def _script(location: str | None) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(location))


def script_directory(script_location: str | Path | None = None) -> ScriptDirectory:
    return _script(str(script_location) if script_location else None)


def tenant_head(script_location: str | Path | None = None) -> str:
    return script_directory(script_location).get_revision("tenant@head").revision


def public_head(script_location: str | Path | None = None) -> str:
    return script_directory(script_location).get_revision("public@head").revision


@dataclass
class Summary:
    public_upgraded: bool = False
    migrated: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pool_dropped: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        out = [f"public schema: {'upgraded' if self.public_upgraded else 'up to date'}"]
        out.append(f"tenants migrated: {len(self.migrated)}, failed: {len(self.failed)}")
        out += [f"  FAILED {slug}: {error}" for slug, error in self.failed]
        if self.pool_dropped:
            out.append(f"stale pooled schemas dropped: {self.pool_dropped}")
        return out


class Migrator:
    def __init__(
        self,
        engine: Engine,
        script_location: str | Path | None = None,
        parallelism: int = 4,
        lock_timeout: str = "5s",
    ) -> None:
        if not LOCK_TIMEOUT_RE.match(lock_timeout):
            raise ValueError("MIGRATION_LOCK_TIMEOUT must look like 500ms, 5s or 1min")
        self.engine = engine
        self.location = script_location
        self.script = script_directory(script_location)
        self.head = tenant_head(script_location)
        self.public_head = public_head(script_location)
        self.parallelism = max(1, parallelism)
        self.lock_timeout = lock_timeout

    def pending(self) -> tuple[bool, int, int] | None:
        """(public up to date, tenants behind, stale pooled schemas) in one query.

        ``None`` on a database that has never been migrated.
        """
        sql = text(
            "SELECT (SELECT count(*) FROM public.alembic_version WHERE version_num = :ph),"
            " (SELECT count(*) FROM public.tenants WHERE status <> 'deleted'"
            "   AND schema_version IS DISTINCT FROM :th),"
            " (SELECT count(*) FROM public.schema_pool WHERE schema_version <> :th)"
        )
        try:
            with self.engine.connect() as conn:
                public_ok, behind, stale = conn.execute(
                    sql, {"ph": self.public_head, "th": self.head}
                ).one()
        except ProgrammingError:
            return None
        return bool(public_ok), behind, stale

    def run(self, tenants_only: bool = False) -> Summary:
        summary = Summary()
        state = self.pending()
        if state is not None and state[0] and not state[1] and not state[2]:
            return summary
        if not tenants_only and (state is None or not state[0]):
            self.upgrade_public()
            summary.public_upgraded = True
        summary.pool_dropped = self.drop_stale_pool()
        rows = self.tenants_behind()
        for slug, error in self._migrate_all(rows):
            if error is None:
                summary.migrated.append(slug)
            else:
                summary.failed.append((slug, error))
        return summary

    def _migrate_all(self, rows: list[tuple]):
        workers = min(self.parallelism, len(rows))
        if workers <= 1:
            return [self.migrate_tenant(row) for row in rows]
        # Processes, not threads: Alembic's `op` is one module-global proxy.
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(self.engine, self.location, self.lock_timeout),
        ) as pool:
            return list(
                pool.map(_migrate_in_worker, rows, chunksize=max(1, len(rows) // (workers * 8)))
            )

    def upgrade_public(self) -> None:
        cfg = alembic_config(self.location)
        with self.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "public@head")

    def tenants_behind(self) -> list[tuple]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT id, slug, schema_name FROM public.tenants"
                        " WHERE status <> 'deleted' AND schema_version IS DISTINCT FROM :th"
                        " ORDER BY created_at"
                    ),
                    {"th": self.head},
                ).tuples()
            )

    def drop_stale_pool(self) -> int:
        """Pooled schemas are empty: rebuilding them is cheaper than migrating them."""
        with self.engine.begin() as conn:
            names = conn.execute(
                text(
                    "DELETE FROM public.schema_pool WHERE schema_version <> :th"
                    " RETURNING schema_name"
                ),
                {"th": self.head},
            ).scalars()
            names = list(names)
            for name in names:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted_schema(name)} CASCADE")
                conn.exec_driver_sql(f"DROP ROLE IF EXISTS {quoted_schema(name)}")
        return len(names)

    def migrate_tenant(self, row) -> tuple[str, str | None]:
        tenant_id, slug, schema = row
        try:
            with self.engine.connect() as conn, conn.begin():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{self.lock_timeout}'")
                ctx = MigrationContext.configure(
                    conn,
                    opts={
                        "version_table_schema": schema,
                        "tenant_schema": schema,
                        "script": self.script,
                        "fn": lambda rev, _ctx: self.script._upgrade_revs("tenant@head", rev),
                    },
                )
                with Operations.context(ctx):
                    ctx.run_migrations()
                conn.execute(
                    text(
                        "UPDATE public.tenants SET schema_version = :v, migration_error = NULL"
                        " WHERE id = :id"
                    ),
                    {"v": self.head, "id": tenant_id},
                )
            return slug, None
        except Exception as exc:  # reported by name; the others go on
            error = str(exc).strip().splitlines()[0][:500]
            log.error("migration of tenant %s failed: %s", slug, error)
            with self.engine.begin() as conn:
                conn.execute(
                    text("UPDATE public.tenants SET migration_error = :e WHERE id = :id"),
                    {"e": error, "id": tenant_id},
                )
            return slug, error


_worker: Migrator | None = None


def _init_worker(parent_engine: Engine, location, lock_timeout: str) -> None:
    """In a forked migration process: leave the parent's sockets alone, open our own."""
    global _worker
    parent_engine.dispose(close=False)
    engine = create_engine(parent_engine.url, pool_size=1)
    _worker = Migrator(engine, location, parallelism=1, lock_timeout=lock_timeout)


def _migrate_in_worker(row: tuple) -> tuple[str, str | None]:
    return _worker.migrate_tenant(row)
