"""The ``saas`` command: development server, migrations, tenants, worker, scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from saas.config import ROOT
from saas.db import db


def _create_app():
    from saas import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Hosted CRM: run `saas COMMAND --help` for each command."""
    if os.environ.get("SAAS_ENV", "development") != "production":
        from saas.embedded import ensure_services

        ensure_services(ROOT / "instance")


# -- database ----------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database migrations."""


def run_migrations(tenants_only: bool = False) -> bool:
    from saas.tenants.migrate import Migrator

    cfg = current_app.config
    migrator = Migrator(
        db.engine,
        parallelism=cfg["MIGRATION_PARALLELISM"],
        lock_timeout=cfg["MIGRATION_LOCK_TIMEOUT"],
    )
    summary = migrator.run(tenants_only=tenants_only)
    for line in summary.lines():
        click.echo(line)
    return summary.ok


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Migrate the public schema, then every tenant schema (resumable)."""
    if not run_migrations():
        raise SystemExit(1)


# -- tenants -----------------------------------------------------------------


@main.group()
def tenants() -> None:
    """Create, list, migrate, suspend, resume, delete and export tenants."""


def _tenant(slug: str):
    from saas.tenants.service import TenantError, tenant_by_slug

    try:
        return tenant_by_slug(slug)
    except TenantError as exc:
        raise click.ClickException(str(exc)) from None


@tenants.command("create")
@click.argument("name")
@click.option("--owner-email", required=True)
@click.option("--owner-name", default="Owner")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def tenants_create(name, owner_email, owner_name, password) -> None:
    """Create a tenant NAME owned by --owner-email (created if new)."""
    from saas.forms import normalize_email
    from saas.modules.accounts import service as accounts
    from saas.modules.accounts.passwords import password_problem
    from saas.tenants.service import TenantError, create_tenant

    try:
        email = normalize_email(owner_email)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with db.scope():
        user = accounts.user_by_email(email)
        if user is None:
            problem = password_problem(password, owner_name, email, name)
            if problem:
                raise click.ClickException(problem)
            user = accounts.create_user(owner_name, email, password)
        try:
            tenant = create_tenant(name, user)
        except TenantError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {tenant.slug} (schema {tenant.schema_name})")


@tenants.command("list")
@with_appcontext
def tenants_list() -> None:
    """List tenants with status, plan and schema version."""
    from saas.tenants.models import Tenant

    with db.scope() as session:
        rows = session.execute(select(Tenant).order_by(Tenant.created_at)).scalars().all()
    click.echo(f"{'slug':30} {'status':10} {'plan':8} {'version':8} name")
    for t in rows:
        click.echo(f"{t.slug:30} {t.status:10} {t.plan:8} {t.schema_version or '-':8} {t.name}")


@tenants.command("migrate")
@with_appcontext
def tenants_migrate() -> None:
    """Migrate every tenant schema that is behind (the public schema is left alone)."""
    if not run_migrations(tenants_only=True):
        raise SystemExit(1)


def _lifecycle(action: str, slug: str, **kwargs):
    from saas.tenants import service

    with db.scope():
        tenant = _tenant(slug)
        try:
            result = getattr(service, action)(tenant, **kwargs)
        except service.TenantError as exc:
            raise click.ClickException(str(exc)) from None
    return result


@tenants.command("suspend")
@click.argument("slug")
@click.option("--reason", default="")
@with_appcontext
def tenants_suspend(slug, reason) -> None:
    """Suspend a tenant: its users see a suspension page, its jobs do nothing."""
    _lifecycle("suspend", slug, reason=reason)
    click.echo(f"suspended {slug}")


@tenants.command("resume")
@click.argument("slug")
@with_appcontext
def tenants_resume(slug) -> None:
    """Resume a suspended tenant."""
    _lifecycle("resume", slug)
    click.echo(f"resumed {slug}")


@tenants.command("delete")
@click.argument("slug")
@click.option("--grace-days", type=int, default=None, help="Days before the schema is dropped.")
@with_appcontext
def tenants_delete(slug, grace_days) -> None:
    """Delete a tenant; its schema is dropped after the grace period."""
    when = _lifecycle("delete", slug, grace_days=grace_days)
    click.echo(f"deleted {slug}; its data is dropped after {when:%Y-%m-%d %H:%M} UTC")


@tenants.command("restore")
@click.argument("slug")
@with_appcontext
def tenants_restore(slug) -> None:
    """Undo a deletion during its grace period."""
    _lifecycle("restore", slug)
    click.echo(f"restored {slug}")


@tenants.command("purge")
@with_appcontext
def tenants_purge() -> None:
    """Drop the schemas of deleted tenants whose grace period is over."""
    from saas.tenants.service import purge_deleted_tenants

    with db.scope():
        purged = purge_deleted_tenants()
    click.echo(f"purged {len(purged)} tenant(s) {' '.join(purged)}".rstrip())


@tenants.command("export")
@click.argument("slug")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_appcontext
def tenants_export(slug, out) -> None:
    """Write all of a tenant's data to a zip file (one CSV per table)."""
    from saas.tenants.export import export_tenant

    with db.scope():
        tenant = _tenant(slug)
    path = export_tenant(tenant.ref(), out)
    click.echo(str(path))


# -- processes ----------------------------------------------------------------


@main.command()
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@with_appcontext
def worker(queues, burst) -> None:
    """Run an RQ worker on QUEUES (default: all), with delayed-job scheduling."""
    from saas.jobs import make_worker

    make_worker(list(queues) or None).work(with_scheduler=True, burst=burst)


@main.command()
@with_appcontext
def scheduler() -> None:
    """Run the periodic jobs (one active instance)."""
    from saas.schedule import make_scheduler

    make_scheduler().start()


@main.command()
@with_appcontext
def demo() -> None:
    """Create the demo tenant with sample users and data (once)."""
    from saas.demo import DEMO_EMAIL, DEMO_PASSWORD, create_demo

    created = create_demo()
    click.echo(
        f"demo tenant {'created' if created else 'already there'}: {DEMO_EMAIL} / {DEMO_PASSWORD}"
    )


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@with_appcontext
def dev(host, port) -> None:
    """Migrate, seed the demo tenant, then run web, two workers and the scheduler."""
    from saas.demo import DEMO_EMAIL, DEMO_PASSWORD, create_demo
    from saas.jobs import QUICK

    if not run_migrations():
        raise SystemExit(1)
    create_demo()
    exe = Path(sys.executable).parent
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [str(exe / "gunicorn"), "--bind", f"{host}:{port}", "--workers", "2",
             "--access-logfile", "-", "saas.wsgi:app"],
            env=env,
        ),
        # Two workers: e-mails and other quick jobs never wait for an import or export.
        subprocess.Popen([str(exe / "saas"), "worker", *QUICK], env=env),
        subprocess.Popen([str(exe / "saas"), "worker", "bulk"], env=env),
        subprocess.Popen([str(exe / "saas"), "scheduler"], env=env),
    ]  # fmt: skip
    click.echo(f"\n  CRM running at http://{host}:{port}/")
    click.echo(f"  Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    click.echo(f"  Sent mail:  http://{host}:{port}/dev/mail\n  Ctrl+C to stop.\n")
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
