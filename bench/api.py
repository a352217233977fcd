"""The REST API under gunicorn on a tenant of a million contacts, next to bare Flask + psycopg.

Setup (untimed): one tenant with 1,000,000 contacts (times ``--scale``; bench/pages.py's
loader, with 10,000 accounts) and a custom text field "Territory" (``cf_territory``,
indexed) added through the customization service before loading; while loading, a
temporary trigger gives every contact one of 100 territories (``T000``–``T099``, about
1% of the rows each) and adds it to the ``search`` column as the app would (checked on
a sample against ``records.search.lexemes``). An API key with scopes
``{"*": "write"}`` is made with ``saas.modules.api.keys.create``.

Both servers run as the Dockerfile runs the app: ``gunicorn --access-logfile -
--no-control-socket``, sync workers, ``WEB_CONCURRENCY`` (``--workers``, default 2, the
Dockerfile's value) workers; the API with ``SAAS_ENV=production`` and rate limits raised
out of the way. Load: ``--clients`` processes (default twice the workers), each sending
GETs back to back for ``--seconds`` after a 3 s warm-up; latencies are taken at the client.

- ``get_rps`` / ``get_p95_ms``: ``GET /api/v1/contacts/<id>`` with ``Authorization:
  Bearer``, ids drawn from 20,000 random live contacts.
- ``baseline_rps``: the same ids from ``bench/harness/bare_app.py`` (Flask, one psycopg
  connection per worker, ``SELECT`` of the row from the tenant's table, JSON).
  ``ratio`` = get_rps / baseline_rps.
- ``list_p95_ms``: ``GET /api/v1/contacts?cf_territory=T0nn&limit=50`` (random territory).
- ``bulk_1000_ms``: median (and ``bulk_1000_max_ms``) of ``--bulk-calls`` calls of
  ``POST /api/v1/contacts/bulk`` upserting 1,000 contacts by e-mail, 500 of them existing
  (e-mails that one live contact has) and 500 new, after one untimed call.
- ``*_c1_p50_ms`` / ``*_c1_p95_ms``: the same GETs from a single client for
  ``--single-seconds`` (the time of one call without queueing behind others).
- ``*_worker_cpu_ms``: CPU time of gunicorn's workers per call, and
  ``*_machine_cpu_busy`` how busy all CPUs were (clients, servers and PostgreSQL share
  the machine: near 1.0 the figures are bound by CPU, and other work on the machine,
  a test suite for one, lowers them).

``--profile`` then shows where a call's time goes, in process on the same data
(bench/harness/callprofile.py): statements and round trips per call, the plan of the
slowest SELECT, and cProfile's view of the app.

    .venv/bin/python bench/api.py [--scale 0.1] [--seconds 20] [--workers 2] [--clients 4]
        [--profile]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from time import perf_counter, strftime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
import psycopg  # noqa: E402
from harness import callprofile, web  # noqa: E402
from pages import load, make_tenant  # noqa: E402
from psycopg import sql  # noqa: E402

from saas.db import db  # noqa: E402
from saas.modules.api import keys  # noqa: E402
from saas.modules.customization import service as customization  # noqa: E402
from saas.modules.customization.jobs import build_index  # noqa: E402
from saas.modules.records.registry import get  # noqa: E402
from saas.modules.records.search import lexemes  # noqa: E402

TARGETS = {"ratio": 0.5, "get_p95_ms": 15.0, "list_p95_ms": 50.0, "bulk_1000_ms": 1500.0}
FIELD = "cf_territory"
TERRITORIES = 100
NO_LIMITS = {"key": 100_000_000, "tenant": 100_000_000}
SAMPLE_IDS = 20_000

# Fills the custom column and its lexeme while pages.load inserts (ENABLE ALWAYS: the
# loader runs with session_replication_role = replica, which skips ordinary triggers).
FILL = """
CREATE FUNCTION {s}.bench_territory() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  NEW.cf_territory := 'T' || lpad((abs(hashint8extended(NEW.id, 41)) % {n})::text, 3, '0');
  NEW.search := NEW.search || array_to_tsvector(ARRAY[lower(NEW.cf_territory)]);
  RETURN NEW;
END $f$;
CREATE TRIGGER bench_territory BEFORE INSERT ON {s}.contacts
  FOR EACH ROW EXECUTE FUNCTION {s}.bench_territory();
ALTER TABLE {s}.contacts ENABLE ALWAYS TRIGGER bench_territory;
"""
UNFILL = """
DROP TRIGGER bench_territory ON {s}.contacts;
DROP FUNCTION {s}.bench_territory();
"""


def add_territory(slug: str) -> None:
    """The custom field, through the service, and its index (the job, run here)."""
    with db.scope(harness.tenant_ref(slug)):
        form = {"label": "Territory", "name": "territory", "type": "text", "indexed": "on"}
        cf = customization.add_field(get("contact"), form)
        if cf.name != FIELD:
            raise SystemExit(f"FAILED: the field is {cf.name}, not {FIELD}")
        field_id = cf.id
    with db.scope(harness.tenant_ref(slug)):
        if build_index(field_id) != "ready":
            raise SystemExit("FAILED: the custom field's index was not built")


def verify_search(url: str, slug: str, schema: str, sample: int = 300) -> int:
    """A sample of contacts' ``search`` equals the lexemes of the tenant's searchable fields."""
    with db.scope(harness.tenant_ref(slug)):
        fields = get("contact").searchable
    if FIELD not in fields:
        raise SystemExit(f"FAILED: {FIELD} is not searchable: {fields}")
    cols = sql.SQL(", ").join(map(sql.Identifier, fields))
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT id, search::text, {c} FROM {s}.contacts"
                " ORDER BY hashint8extended(id, 98) LIMIT %s"
            ).format(c=cols, s=sql.Identifier(schema)),
            (sample,),
        ).fetchall()
        for record_id, stored, *values in rows:
            expected = conn.execute(
                "SELECT array_to_tsvector(%s::text[])::text", (lexemes(*values),)
            ).fetchone()[0]
            if stored != expected:
                raise SystemExit(f"FAILED: contact {record_id} search is {stored}, not {expected}")
    return len(rows)


def make_key(slug: str, owner: int) -> str:
    with db.scope(harness.tenant_ref(slug)):
        _key, token = keys.create("Bench", {"*": "write"}, created_by=owner)
    return token


def sample(url: str, schema: str) -> tuple[list[int], list[str]]:
    """Random live contact ids, and e-mails that exactly one live contact has."""
    s = sql.Identifier(schema)
    with psycopg.connect(url) as conn:
        ids = conn.execute(
            sql.SQL(
                "SELECT id FROM {}.contacts WHERE deleted_at IS NULL"
                " ORDER BY hashint8extended(id, 5) LIMIT %s"
            ).format(s),
            (SAMPLE_IDS,),
        ).fetchall()
        emails = conn.execute(
            sql.SQL(
                "SELECT email FROM {}.contacts WHERE deleted_at IS NULL AND email IS NOT NULL"
                " GROUP BY email HAVING count(*) = 1 ORDER BY md5(email) LIMIT %s"
            ).format(s),
            (20_000,),
        ).fetchall()
    return [r[0] for r in ids], [r[0] for r in emails]


def bulk_body(call: int, known: list[str]) -> bytes:
    """1,000 contacts: 500 existing e-mails with a new title and territory, 500 new ones."""
    existing = known[call * 500 : (call + 1) * 500]
    if len(existing) < 500:
        raise SystemExit(f"FAILED: only {len(known)} unique e-mails for the bulk calls")
    records = [
        {"email": e, "title": f"Bulk buyer {call}", FIELD: f"T{(call + i) % TERRITORIES:03d}"}
        for i, e in enumerate(existing)
    ] + [
        {
            "email": f"bulk{call}.{i}@api.example",
            "first_name": "Bulk",
            "last_name": f"Contact {call}-{i}",
            "title": "Buyer",
            "city": "Berlin",
            FIELD: f"T{i % TERRITORIES:03d}",
        }
        for i in range(500)
    ]
    return json.dumps({"mode": "upsert", "key": "email", "records": records}).encode()


def bulk(server: web.Server, token: str, known: list[str], calls: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    times = []
    for call in range(calls + 1):  # call 0 warms up
        body = bulk_body(call, known)
        start = perf_counter()
        status, raw = web.call(server.port, "POST", "/api/v1/contacts/bulk", headers, body)
        took = (perf_counter() - start) * 1000
        if status != 200:
            raise SystemExit(f"FAILED: bulk call answered {status}: {raw[:500]!r}")
        answer = json.loads(raw)
        counts = {k: answer.get(k) for k in ("created", "updated", "unchanged", "failed")}
        if counts != {"created": 500, "updated": 500, "unchanged": 0, "failed": 0}:
            failed = [r for r in answer.get("results", []) if r.get("status") == "failed"][:3]
            raise SystemExit(f"FAILED: bulk call {call} gave {counts}; first failures {failed}")
        if call:
            times.append(took)
        print(f"  bulk call {call}{' (warm-up)' if not call else ''}: {took:7.1f} ms", flush=True)
    return times


def report(label: str, load: web.Load) -> dict:
    bad = {code: n for code, n in load.statuses.items() if code != 200}
    if bad or not load.latencies:
        raise SystemExit(f"FAILED: {label} answered {dict(load.statuses)}")
    out = {
        "rps": load.rps,
        "p50": harness.percentile(load.latencies, 50),
        "p95": harness.percentile(load.latencies, 95),
        "p99": harness.percentile(load.latencies, 99),
        "cpu": load.machine_busy,
        "worker_cpu_ms": load.worker_cpu_ms,
    }
    cpu = "" if load.machine_busy is None else f"  CPUs {load.machine_busy:4.0%} busy"
    if load.worker_cpu_ms is not None:
        cpu += f", workers {load.worker_cpu_ms:.2f} ms CPU/call"
    print(
        f"  {label:<28} {out['rps']:7.1f} req/s  p50 {out['p50']:5.1f}  p95 {out['p95']:5.1f}"
        f"  p99 {out['p99']:5.1f} ms  ({len(load.latencies)} calls, {load.clients} clients){cpu}",
        flush=True,
    )
    return out


def setup(svc, app, contacts: int) -> tuple[str, str, int]:
    """The tenant, its contacts and custom field, and an API key: (schema, token, owner)."""
    with app.app_context():
        slug, schema, owners = make_tenant()
        add_territory(slug)
    s = sql.Identifier(schema)
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL(FILL).format(s=s, n=sql.Literal(TERRITORIES)))
    print(f"loading {contacts:,} contacts into {schema}", flush=True)
    sizes = {"contacts": contacts, "accounts": 10_000, "deals": 20}
    load(svc.database_url, schema, sizes, owners)
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL(UNFILL).format(s=s))
        share = conn.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE {f} = 'T042') / count(*)::float"
                " FROM {s}.contacts WHERE deleted_at IS NULL"
            ).format(f=sql.Identifier(FIELD), s=s)
        ).fetchone()[0]
    with app.app_context():
        checked = verify_search(svc.database_url, slug, schema)
        token = make_key(slug, owners[0])
    print(f"verified: search of {checked} sampled contacts equals lexemes()", flush=True)
    print(f"  {FIELD} = 'T042' on {share:.2%} of live contacts", flush=True)
    return schema, token, owners[0]


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--scale", type=float, default=1.0, help="fraction of 1M contacts")
    cli.add_argument("--seconds", type=float, default=20.0, help="per measured load, default 20")
    cli.add_argument("--workers", type=harness.positive_int, default=2, help="gunicorn workers")
    cli.add_argument("--clients", type=harness.positive_int, help="default: 2 x workers")
    cli.add_argument("--single-seconds", type=float, default=5.0, help="one-client runs; 0: skip")
    cli.add_argument("--bulk-calls", type=harness.positive_int, default=5)
    cli.add_argument("--profile", action="store_true", help="then profile the calls in process")
    args = cli.parse_args()
    clients = args.clients or 2 * args.workers
    contacts = max(1000, int(1_000_000 * args.scale))
    started = perf_counter()
    print(f"started {strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
    figures: dict[str, dict] = {}

    def measure(name: str, label: str, server, paths: list[str], headers=None) -> None:
        figures[name] = report(
            label, web.hammer(server, paths, seconds=args.seconds, clients=clients, headers=headers)
        )
        if args.single_seconds:
            figures[f"{name}_c1"] = report(
                "  one client",
                web.hammer(server, paths, seconds=args.single_seconds, clients=1, headers=headers),
            )

    with harness.services("api") as svc:
        limits = json.dumps({"trial": NO_LIMITS, "default": NO_LIMITS})
        app = harness.create_app(svc, API_RATE_LIMITS=json.loads(limits))
        schema, token, _owner = setup(svc, app, contacts)
        ids, known = sample(svc.database_url, schema)
        auth = {"Authorization": f"Bearer {token}"}
        get_paths = [f"/api/v1/contacts/{i}" for i in ids]
        list_paths = [f"/api/v1/contacts?{FIELD}=T{t:03d}&limit=50" for t in range(TERRITORIES)]

        bare_env = {"BARE_DATABASE_URL": svc.database_url, "BARE_SCHEMA": schema}
        extra = ["--pythonpath", str(Path(__file__).parent / "harness")]
        bare_paths = [f"/contacts/{i}" for i in ids]
        with web.serve(
            "bare_app:app", bare_env, args.workers, svc.workdir, bare_paths[0], extra
        ) as server:
            print(f"\nbaseline: bare Flask + psycopg, {args.workers} gunicorn workers", flush=True)
            measure("baseline", "GET /contacts/<id>", server, bare_paths)

        api_env = {
            "SAAS_ENV": "production",
            "SECRET_KEY": "bench-secret-not-secret",
            "DATABASE_URL": svc.database_url,
            "REDIS_URL": svc.redis_url,
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(svc.workdir / "mail"),
            "EXPORT_DIR": str(svc.workdir / "exports"),
            "API_RATE_LIMITS": limits,
        }
        with web.serve("saas.wsgi:app", api_env, args.workers, svc.workdir, "/healthz") as server:
            print(f"\nAPI: saas.wsgi:app, {args.workers} gunicorn workers", flush=True)
            measure("get", "GET /api/v1/contacts/<id>", server, get_paths, auth)
            measure("list", f"GET …?{FIELD}=T0nn&limit=50", server, list_paths, auth)
            bulk_ms = bulk(server, token, known, args.bulk_calls)
        if args.profile:
            callprofile.run(app, svc.database_url, token, {"get": get_paths, "list": list_paths})

    get_, base, list_ = figures["get"], figures["baseline"], figures["list"]
    ratio = get_["rps"] / base["rps"]
    result = {
        "get_rps": round(get_["rps"], 1),
        "baseline_rps": round(base["rps"], 1),
        "ratio": round(ratio, 3),
        "get_p95_ms": round(get_["p95"], 2),
        "list_p95_ms": round(list_["p95"], 2),
        "bulk_1000_ms": round(statistics.median(bulk_ms), 1),
        "bulk_1000_max_ms": round(max(bulk_ms), 1),
        "get_p50_ms": round(get_["p50"], 2),
        "baseline_p50_ms": round(base["p50"], 2),
        "baseline_p95_ms": round(base["p95"], 2),
        "list_p50_ms": round(list_["p50"], 2),
        "list_rps": round(list_["rps"], 1),
    }
    for kind in ("get", "list", "baseline"):
        if figures[kind]["worker_cpu_ms"] is not None:
            result[f"{kind}_worker_cpu_ms"] = round(figures[kind]["worker_cpu_ms"], 2)
        if figures[kind]["cpu"] is not None:
            result[f"{kind}_machine_cpu_busy"] = round(figures[kind]["cpu"], 2)
        if f"{kind}_c1" in figures:
            result[f"{kind}_c1_p50_ms"] = round(figures[f"{kind}_c1"]["p50"], 2)
            result[f"{kind}_c1_p95_ms"] = round(figures[f"{kind}_c1"]["p95"], 2)
    result.update(
        workers=args.workers,
        clients=clients,
        seconds=args.seconds,
        contacts=contacts,
        total_s=round(perf_counter() - started, 1),
    )
    print()
    harness.check("ratio", ratio, "", ">= 0.5", ratio >= TARGETS["ratio"])
    for name in ("get_p95_ms", "list_p95_ms", "bulk_1000_ms"):
        value, target = result[name], TARGETS[name]
        harness.check(name, value, "ms", f"< {target:g}", value < target)
    harness.emit(result)


if __name__ == "__main__":
    main()
