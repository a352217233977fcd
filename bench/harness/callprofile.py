"""Where an API call's time goes, in process: the Flask test client on the benchmark's data.

For each kind of call: the time per call; what one call sends to PostgreSQL (connection
checkouts, pinged first only after sitting idle; transactions, each a BEGIN with the
tenant's role and a COMMIT or ROLLBACK round trip, except a read alone
(``saas.db.read_alone``), one statement in autocommit mode; and the statements with their
median time over ``SAMPLES`` calls); the plan of its slowest SELECT; and the functions it
spends its time in (cProfile, the app's own and the waits on PostgreSQL and Redis).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
from time import perf_counter

import psycopg
from sqlalchemy import event

from saas.db import db

SAMPLES = 20
SHOWN = r"saas/|psycopg/connection.py:\d+\(wait\)|redis/client.py:\d+\(execute\)"


class Wire:
    """Statements (text, parameters, ms), transactions and checkouts while ``on``."""

    def __init__(self, engine):
        self.on, self.statements, self.counts = False, [], {"checkout": 0, "begin": 0}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "begin", lambda _c: self._count("begin"))
        event.listen(engine.pool, "checkout", lambda *_a: self._count("checkout"))

    def reset(self) -> None:
        self.statements, self.counts = [], dict.fromkeys(self.counts, 0)

    def _count(self, name: str) -> None:
        if self.on:
            self.counts[name] += 1

    def _before(self, _conn, _cur, _statement, _params, context, _many):
        context.bench_start = perf_counter()

    def _after(self, _conn, _cur, statement, params, context, _many):
        if self.on:
            took = (perf_counter() - context.bench_start) * 1000
            self.statements.append((statement, params, took))


def _short(statement: str) -> str:
    return " ".join(statement.split())[:110]


def explain(url: str, statements: list) -> None:
    """EXPLAIN ANALYZE of the slowest SELECT, after the call's other statements before
    it, in a transaction rolled back (as the login role: the tenant's is set outside
    SQLAlchemy's statements)."""
    selects = [i for i, s in enumerate(statements) if s[0].lstrip().upper().startswith("SELECT")]
    slowest = max(selects, key=lambda i: statements[i][2])
    with psycopg.connect(url) as raw:
        for statement, params, _ms in statements[:slowest]:
            if not statement.lstrip().upper().startswith("SELECT"):
                raw.execute(statement, params or None)
        statement, params, _ms = statements[slowest]
        plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params or None)
        print(f"   plan of the slowest SELECT ({_short(statement)[:60]}…):")
        print("\n".join(f"     {row[0]}" for row in plan))
        raw.rollback()


def run(app, database_url: str, token: str, paths: dict[str, list[str]], n: int = 300) -> None:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    wire = Wire(db.engine)
    for kind, urls in paths.items():
        urls = (urls * (1 + (2 * n + 50) // len(urls)))[: 2 * n + 50]
        for url in urls[:50]:  # warm-up
            if (status := client.get(url, headers=auth).status_code) != 200:
                raise SystemExit(f"FAILED: {url} answered {status}")
        start = perf_counter()
        for url in urls[50 : 50 + n]:
            client.get(url, headers=auth)
        per_call = (perf_counter() - start) * 1000 / n
        calls = []
        for url in urls[-SAMPLES:]:
            wire.reset()
            wire.on = True
            client.get(url, headers=auth)
            wire.on = False
            calls.append((wire.statements, dict(wire.counts)))
        statements, counts = calls[-1]
        print(f"\n-- {kind}: {per_call:.2f} ms per call in process ({n} calls, test client)")
        print(
            f"   one call: {counts['checkout']} connection checkouts,"
            f" {counts['begin']} transactions, {len(statements)} statements"
            f" (median ms of {SAMPLES} calls):"
        )
        for i, (statement, _params, _ms) in enumerate(statements):
            median = statistics.median(c[0][i][2] for c in calls if len(c[0]) > i)
            print(f"   {median:6.2f} ms  {_short(statement)}")
        explain(database_url, statements)
        profiler = cProfile.Profile()
        profiler.enable()
        for url in urls[50 + n :]:
            client.get(url, headers=auth)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(SHOWN, 25)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(
            f"   cProfile of {n} calls (the app's own, cumulative; then every function by own time; seconds):"
        )
        print(
            "\n".join(
                line for line in out.getvalue().splitlines() if "/" in line or "ncalls" in line
            )
        )
