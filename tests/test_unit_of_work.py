"""The unit of work: what waits for the commit runs once after it, never before, and a
savepoint rolled back drops only what was registered inside it."""

from sqlalchemy import text

from saas.db import after_commit, db


def test_callbacks_wait_for_the_real_commit_and_survive_other_savepoints(app):
    ran = []
    with app.app_context():
        with db.scope() as s:
            after_commit(lambda: ran.append("before savepoints"))
            with s.begin_nested():
                s.execute(text("SELECT 1"))
                after_commit(lambda: ran.append("kept savepoint"))
            assert ran == []  # releasing a savepoint is not the commit
            try:
                with s.begin_nested():
                    after_commit(lambda: ran.append("rolled back savepoint"))
                    raise ValueError
            except ValueError:
                pass
            assert ran == []
        assert ran == ["before savepoints", "kept savepoint"]


def test_nothing_runs_when_the_unit_of_work_rolls_back(app):
    ran = []
    with app.app_context():
        try:
            with db.scope() as s:
                s.execute(text("SELECT 1"))
                after_commit(lambda: ran.append("never"))
                raise RuntimeError
        except RuntimeError:
            pass
    assert ran == []


def test_connections_dropped_by_the_server_are_replaced_before_use(app, monkeypatch):
    """After a database restart (or an idle timeout) every pooled connection is dead;
    the next unit of work gets a live one instead of an error."""
    import importlib

    import psycopg

    database = importlib.import_module("saas.db")  # the module; `saas.db` names the Database

    with app.app_context():
        with db.scope() as s:
            mine = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (mine,))
        monkeypatch.setattr(database, "PING_AFTER_IDLE", 0.0)
        for _ in range(db.engine.pool.size() + 1):  # whichever pooled connection comes out
            with db.scope() as s:
                assert s.execute(text("SELECT 1")).scalar_one() == 1


def test_a_unit_of_work_without_statements_still_commits_what_it_holds(app):
    """The end of a unit of work commits only when there is something to commit (a read
    alone leaves no transaction open), yet a callback, an object added or one changed
    after an earlier commit, with no statement run since, is never lost."""
    from sqlalchemy import select

    from saas.tenants.models import AuditLog

    ran = []
    with app.app_context():
        with db.scope() as s:
            after_commit(lambda: ran.append("no statement ran"))
        assert ran == ["no statement ran"]
        with db.scope() as s:
            s.add(AuditLog(action="test.pending_only"))  # not flushed
        with db.scope() as s:
            entry = s.execute(
                select(AuditLog).where(AuditLog.action == "test.pending_only")
            ).scalar_one()
            s.commit()
            entry.action = "test.changed_after_commit"  # with no statement run since
        with db.scope() as s:
            found = s.execute(select(AuditLog.action).where(AuditLog.id == entry.id))
            assert found.scalar_one() == "test.changed_after_commit"
