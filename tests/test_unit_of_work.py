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
