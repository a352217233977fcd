"""What every benchmark shares: a throw-away database, a clean Redis, the app, figures.

It lives in a package so that ``make bench`` (which runs ``bench/*.py``) does not
run it as a benchmark of its own.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from redis import Redis
from sqlalchemy import select

from saas import create_app as make_app
from saas import embedded
from saas.config import database_url
from saas.db import db
from saas.tenants.migrate import Migrator
from saas.tenants.provisioning import drop_database

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


@dataclass(frozen=True)
class Services:
    database_url: str  # plain postgresql:// URL of the throw-away database
    redis_url: str
    workdir: Path  # removed at the end


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parser(description: str, tenants: int) -> argparse.ArgumentParser:
    """The command line every benchmark takes; a script may add its own options."""
    cli = argparse.ArgumentParser(description=description)
    cli.add_argument("--tenants", type=positive_int, default=tenants, help=f"default {tenants}")
    return cli


def _admin_url() -> str:
    """The admin URL from BENCH_ADMIN_URL, or an embedded server if that one is unreachable."""
    url = os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL)
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return url
    except psycopg.OperationalError as exc:
        print(f"{url} unreachable ({str(exc).strip().splitlines()[0]}); using embedded PostgreSQL")

    # Registered before the server starts, so it runs after pgserver's own exit hook.
    instance = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    atexit.register(shutil.rmtree, instance, ignore_errors=True)
    return embedded.start_postgres(instance).replace("/saas?", "/postgres?")


@contextmanager
def services(name: str) -> Iterator[Services]:
    """A fresh database ``bench_<name>_<pid>`` and a flushed Redis database, dropped after."""
    admin = _admin_url()
    dbname = f"bench_{name}_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        yield Services(
            database_url=re.sub(r"/postgres(\?|$)", rf"/{dbname}\1", admin),
            redis_url=redis_url,
            workdir=workdir,
        )
    finally:
        db.dispose()
        drop_database(admin, dbname)
        redis.flushdb()
        shutil.rmtree(workdir, ignore_errors=True)


def create_app(svc: Services, **config):
    """The app on the throw-away services, with the public schema migrated."""
    app = make_app(
        {
            "DATABASE_URL": database_url(svc.database_url),
            "REDIS_URL": svc.redis_url,
            "SECRET_KEY": "bench",
            "ENV_NAME": "test",
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(svc.workdir / "mail"),
            "EXPORT_DIR": str(svc.workdir / "exports"),
            **config,
        }
    )
    with app.app_context():
        summary = Migrator(db.engine).run()
        if not summary.ok:
            raise SystemExit("migrating the bench database failed:\n" + "\n".join(summary.lines()))
    return app


def worker_command(svc: Services, *queues: str, **env: str) -> tuple[list[str], dict]:
    """A real ``saas worker QUEUE… --burst`` process on the throw-away services: its
    command line and environment (``env`` added; an empty value leaves a setting out)."""
    environ = dict(
        os.environ,
        SAAS_ENV="test",
        SECRET_KEY="bench",
        DATABASE_URL=svc.database_url,
        REDIS_URL=svc.redis_url,
        MAIL_BACKEND="file",
        MAIL_DIR=str(svc.workdir / "mail"),
    )
    for name, value in env.items():
        environ.pop(name, None)
        if value:
            environ[name] = value
    saas = Path(sys.executable).with_name("saas")
    return [str(saas), "worker", *queues, "--burst"], environ


def tenant_ref(slug: str):
    """The tenant as a request resolves it (with its current meta version); in an app
    context."""
    from saas.tenants.models import Tenant

    with db.scope() as s:
        return s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one().ref()


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100), interpolated; the median for p=50."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(p) - 1]


def check(label: str, value: float, unit: str, target: str, met: bool) -> None:
    print(
        f"  {label:<18} {value:>10.2f} {unit:<3} target {target:<10} {'met' if met else 'MISSED'}"
    )


def emit(result: dict) -> None:
    """The machine-readable result: always the last line of stdout."""
    print(json.dumps(result), flush=True)
