"""Database access: engines, declarative bases and the unit-of-work scope.

Public tables live in the ``public`` schema. Tenant tables are declared once
with the placeholder schema ``tenant``; every tenant session executes with a
``schema_translate_map`` that rewrites it to the tenant's own schema, so all
SQL is schema-qualified and nothing depends on ``search_path``.

A *scope* is one unit of work (a request, a job, a CLI command): it owns one
session, commits once at its end and then runs the callbacks registered with
:func:`after_commit` (enqueueing jobs, for example).
"""

from __future__ import annotations

import contextvars
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, MetaData, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase, Session

TENANT_SCHEMA = "tenant"  # placeholder; no real schema ever has this name
# Every tenant role is a member: it grants what tenant transactions need in `public`.
TENANT_GROUP_ROLE = "saas_tenant"
_TENANT_NAME = re.compile(r"^t_[0-9a-f]{32}$")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Tables of the platform, in the ``public`` schema."""

    metadata = MetaData(schema="public", naming_convention=NAMING)


class TenantBase(DeclarativeBase):
    """Tables of one tenant, reached only through a tenant-bound session."""

    metadata = MetaData(schema=TENANT_SCHEMA, naming_convention=NAMING)


@dataclass(frozen=True)
class TenantRef:
    """What the unit of work needs to know about its tenant."""

    id: str
    slug: str
    schema_name: str
    name: str = ""
    status: str = "active"
    plan: str = "trial"
    meta_version: int = 0  # custom fields and rules; see saas.modules.customization.meta


@dataclass
class Scope:
    tenant: TenantRef | None
    session: Session
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    # Savepoint -> how many callbacks were registered when it began.
    marks: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)

    def commit(self) -> None:
        """Commit the unit of work's changes and run its callbacks; with none of either
        (a request that only read alone, :func:`read_alone`), there is nothing to do, and
        no empty transaction is begun to be committed. Adding, changing or deleting an
        object begins a transaction, so none of them is missed."""
        if self.session.in_transaction() or self.callbacks:
            self.session.commit()


class UnitOfWorkSession(Session):
    """The session of a unit of work: its hooks are declared once, on this class (see
    the listeners below), and find their scope in ``session.info``."""


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("saas_scope", default=None)


class Database:
    """The engine and the scoped session, attached to the app with ``init_app``."""

    def __init__(self) -> None:
        self.url: str = ""
        self._options: dict = {}
        self._engine: Engine | None = None
        self._tenant_engines: OrderedDict[str, Engine] = OrderedDict()

    def init_app(self, app) -> None:
        self.configure(
            app.config["DATABASE_URL"],
            pool_size=app.config["DB_POOL_SIZE"],
            pool_recycle=app.config["DB_POOL_RECYCLE"],
        )
        app.extensions["saas.db"] = self
        if "saas.db.hooks" not in app.extensions:
            app.extensions["saas.db.hooks"] = True
            _request_hooks(app, self)

    def configure(self, url: str, **options) -> None:
        if self._engine is not None and (url != self.url or options != self._options):
            self.dispose()
        self.url, self._options = url, options

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if not self.url:
                raise RuntimeError("DATABASE_URL is not configured.")
            self._engine = create_engine(
                self.url,
                pool_size=self._options.get("pool_size", 5),
                pool_recycle=self._options.get("pool_recycle", 1800),
            )
            _ping_when_idle(self._engine)
            event.listen(self._engine, "begin", _tenant_role)
        return self._engine

    def dispose(self, close: bool = True) -> None:
        """Drop pooled connections (``close=False`` after a fork: the parent owns them)."""
        if self._engine is not None:
            self._engine.dispose(close=close)
        if close:
            self._engine = None
            self._tenant_engines.clear()

    def engine_for(self, schema_name: str) -> Engine:
        """The shared engine with the tenant placeholder translated to ``schema_name``."""
        eng = self._tenant_engines.get(schema_name)
        if eng is None:
            eng = self.engine.execution_options(schema_translate_map={TENANT_SCHEMA: schema_name})
            self._tenant_engines[schema_name] = eng
            if len(self._tenant_engines) > 1024:
                self._tenant_engines.popitem(last=False)
        else:
            self._tenant_engines.move_to_end(schema_name)
        return eng

    # -- unit of work -----------------------------------------------------

    def push_scope(self, tenant: TenantRef | None = None) -> contextvars.Token:
        bind = self.engine_for(tenant.schema_name) if tenant else self.engine
        session = UnitOfWorkSession(bind=bind, expire_on_commit=False, autoflush=True)
        scope = Scope(tenant=tenant, session=session)
        session.info[SCOPE] = scope
        return _current.set(scope)

    def pop_scope(self, token: contextvars.Token, commit: bool) -> None:
        scope = _current.get()
        try:
            if scope is not None:
                if commit:
                    scope.commit()
                else:
                    scope.session.rollback()
        finally:
            if scope is not None:
                scope.session.close()
            _current.reset(token)

    @contextmanager
    def scope(self, tenant: TenantRef | None = None) -> Iterator[Session]:
        """One unit of work: commit at the end, roll back on error."""
        token = self.push_scope(tenant)
        ok = False
        try:
            yield _current.get().session
            ok = True
        finally:
            self.pop_scope(token, commit=ok)

    def bind_tenant(self, tenant: TenantRef) -> None:
        """Point the current scope at ``tenant`` (after resolving it in a request).

        The read-only transaction used to resolve the tenant ends here; the next
        one runs against the tenant's schema.
        """
        scope = _require_scope()
        if scope.session.new or scope.session.dirty or scope.session.deleted:
            raise RuntimeError("bind_tenant() with unsaved changes in the session")
        if scope.session.in_transaction():
            scope.session.commit()
        scope.session.bind = self.engine_for(tenant.schema_name)
        scope.tenant = tenant


# A pooled connection that sat idle longer than this is pinged before it is handed out,
# so a restarted server or a dropped connection is found before a request uses it; one
# in steady use is not (SQLAlchemy's pool_pre_ping would cost a round trip per checkout).
PING_AFTER_IDLE = 2.0  # seconds
_IDLE_SINCE = "saas.idle_since"


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine.pool, "checkin")
    def _idle(_dbapi_connection, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_connection, record, _proxy):
        since = record.info.pop(_IDLE_SINCE, None)
        if dbapi_connection.closed or dbapi_connection.broken:
            raise exc.DisconnectionError("connection closed")
        if since is not None and time.monotonic() - since > PING_AFTER_IDLE:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as error:  # the pool drops it and hands out another
                raise exc.DisconnectionError(str(error)) from error


def _request_hooks(app, database: Database) -> None:
    """One unit of work per request, opened before anything else runs (CSRF checks
    and error pages may load the user), committed once if the response succeeded."""
    from flask import g

    @app.before_request
    def _open_unit_of_work():
        g.db_token = database.push_scope()

    @app.after_request
    def _commit(response):
        if g.get("db_token") is not None and response.status_code < 400:
            _require_scope().commit()
        return response

    @app.teardown_request
    def _close_unit_of_work(exc):
        token = g.pop("db_token", None)
        if token is not None:
            database.pop_scope(token, commit=False)  # committed in after_request if it went well


def _require_scope() -> Scope:
    scope = _current.get()
    if scope is None:
        raise RuntimeError("No unit of work: use db.scope() or run inside a request.")
    return scope


SCOPE = "saas.scope"


_SESSION_ROLE = "saas.session_role"  # in a pooled connection's info: its SET ROLE, if any
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def _tenant_role(conn) -> None:
    """Every transaction runs as the database role of the tenant its engine is bound to
    (:meth:`Database.engine_for`), public work as the login role.

    Defense in depth: even a wrong query cannot reach another tenant's schema. A
    transaction gets ``SET LOCAL ROLE``, sent with its BEGIN in one round trip. A
    statement in autocommit mode (:func:`read_alone`) is its own transaction: the role
    is set for the server session instead, once for as long as the connection serves
    the same tenant, and recorded in the pooled connection's ``info`` (cleared when the
    connection is replaced) so that the next transaction of another tenant, or of
    public work, sets its own.
    """
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    role = translate.get(TENANT_SCHEMA)
    if role is not None and not _TENANT_NAME.match(role):
        raise ValueError(f"not a tenant schema name: {role!r}")
    raw = conn.connection.driver_connection
    if raw.autocommit:
        if conn.info.get(_SESSION_ROLE) != role:
            raw.execute(f'SET ROLE "{role}"' if role else "RESET ROLE")
            conn.info[_SESSION_ROLE] = role
    elif role is not None or conn.info.get(_SESSION_ROLE) is not None:
        # psycopg sends the BEGIN and the role together at the pipeline's end.
        with raw.pipeline():
            raw.execute(f'SET LOCAL ROLE "{role}"' if role else "SET LOCAL ROLE NONE")


def read_alone(statement, params=None) -> list:
    """The rows of a SELECT run as a transaction of its own: on a connection of the unit
    of work's engine in autocommit mode, one round trip to the server, as a bare
    psycopg query takes, with the tenant's role (:func:`_tenant_role`).

    For a request that only reads (the API's GET of a record or a list): a unit of
    work's transaction takes three round trips (BEGIN with the role, the statement,
    COMMIT). Inside an open transaction the statement simply runs in it.
    """
    session = _require_scope().session
    if session.in_transaction():
        return session.execute(statement, params).all()
    with session.get_bind().connect().execution_options(**AUTOCOMMIT) as conn:
        return conn.execute(statement, params).all()


# SQLAlchemy reports a savepoint's release as a commit and its rollback as a rollback:
# callbacks wait for the real commit, and a savepoint rolled back drops only the
# callbacks registered inside it (a refused import row, not the rows before it).


@event.listens_for(UnitOfWorkSession, "after_transaction_create")
def _mark(session, transaction):
    if transaction.nested:
        scope = session.info[SCOPE]
        scope.marks[transaction] = len(scope.callbacks)


@event.listens_for(UnitOfWorkSession, "after_commit")
def _run_callbacks(session):
    if session.in_nested_transaction():
        return
    scope = session.info[SCOPE]
    callbacks, scope.callbacks = scope.callbacks, []
    for callback in callbacks:
        callback()


@event.listens_for(UnitOfWorkSession, "after_soft_rollback")
def _drop_callbacks(session, previous):
    scope = session.info[SCOPE]
    if previous.nested:
        del scope.callbacks[scope.marks.get(previous, len(scope.callbacks)) :]
    elif previous.parent is None:
        scope.callbacks.clear()


def session() -> Session:
    """The session of the current unit of work."""
    return _require_scope().session


def current_tenant() -> TenantRef | None:
    """The tenant of the current unit of work, if any."""
    scope = _current.get()
    return scope.tenant if scope else None


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current unit of work has committed; never if it rolls back."""
    _require_scope().callbacks.append(callback)


db = Database()
