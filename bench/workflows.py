"""What 100 active workflow rules cost a record update.

One tenant, 2,000 deals with a custom picklist. Each update is its own unit of
work, as a request or an API call is: read the deal, change its amount through
``records.service.update`` (validation, timeline, search, workflow listeners),
commit. The same 10,000 updates run with no rule and with 100 active rules on
deals, in alternating blocks of 1,000 so that load on the machine hits both
alike. The rules are what a company accumulates: 40 "updated" rules with an
amount condition, 20 on a stage change (not this change), 20 "any of" text
conditions, 10 on creation only, 10 on the custom field; none matches these
updates, so what is measured is deciding that (a matching rule's actions cost
what the actions do: a task costs a task).

Baseline: the same updates with no rule. ``ratio`` = with rules / without.

    .venv/bin/python bench/workflows.py [--updates 10000]
"""

from __future__ import annotations

import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from saas.db import db  # noqa: E402
from saas.modules.accounts import service as accounts  # noqa: E402
from saas.modules.customization import meta  # noqa: E402
from saas.modules.customization import service as fields  # noqa: E402
from saas.modules.records import service as records  # noqa: E402
from saas.modules.records.registry import get  # noqa: E402
from saas.modules.workflows import service as workflows  # noqa: E402
from saas.modules.workflows.models import WorkflowRule, WorkflowRun  # noqa: E402
from saas.tenants.service import create_tenant  # noqa: E402

RATIO_TARGET = 1.3
DEALS = 2000
BLOCK = 1000


def setup() -> tuple:
    with db.scope():
        owner = accounts.create_user("Bench Owner", "owner@workflows.example", "bench-pass-2026!")
        ref = create_tenant("Workflow Bench", owner).ref()
    with db.scope(ref):
        tier = fields.add_field(
            get("deal"),
            {"label": "Tier", "type": "choice", "choices": "Gold\nSilver\nBronze"},
        ).name
    ids = []
    for start in range(0, DEALS, 500):
        with db.scope(ref):
            for i in range(start, start + 500):
                record = records.create(
                    get("deal"),
                    {"name": f"Deal {i}", "amount": str(1000 + i), tier: "silver"},
                    actor=owner.id,
                )
                ids.append(record.id)
    with db.scope(ref):
        for n, (trigger, match, conditions) in enumerate(rules(tier)):
            workflows.save(
                {
                    "object": "deal",
                    "name": f"Rule {n}",
                    "active": False,
                    "trigger": trigger,
                    "match": match,
                    "conditions": conditions,
                    "actions": [{"kind": "update", "field": "description", "value": f"r{n}"}],
                },
                actor=owner.id,
            )
    return ref, owner.id, ids


def rules(tier: str) -> list[tuple]:
    updated = {"kind": "updated"}
    found = []
    for i in range(40):
        found.append(
            (updated, "all", [{"field": "amount", "op": "greater", "value": str(10**9 + i)}])
        )
    for _ in range(20):
        found.append(({"kind": "field_changed", "field": "stage_id"}, "all", []))
    for i in range(20):
        found.append(
            (
                updated,
                "any",
                [
                    {"field": "name", "op": "contains", "value": f"zzz-{i}"},
                    {"field": "description", "op": "contains", "value": f"never-{i}"},
                ],
            )
        )
    for i in range(10):
        found.append(
            ({"kind": "created"}, "all", [{"field": "name", "op": "contains", "value": f"new-{i}"}])
        )
    for _ in range(10):
        found.append((updated, "all", [{"field": tier, "op": "equals", "value": "gold"}]))
    return found


def set_rules(ref, active: bool) -> None:
    with db.scope(ref) as s:
        s.execute(update(WorkflowRule).values(active=active))
        meta.changed()


_amounts = iter(range(10_000, 10**9))


def block(ref, owner: int, ids: list[int], n: int, offset: int) -> float:
    """``n`` updates, each to an amount the deal never had (so each one is a change)."""
    otype = get("deal")
    start = perf_counter()
    for i in range(n):
        record_id = ids[(offset + i) % len(ids)]
        with db.scope(ref):
            record = records.get_record(otype, record_id)
            changed = records.update(otype, record, {"amount": str(next(_amounts))}, actor=owner)
            assert changed, "an update that changes nothing measures nothing"
    return perf_counter() - start


def main() -> None:
    cli = harness.parser(__doc__.splitlines()[0], tenants=1)
    cli.add_argument("--updates", type=harness.positive_int, default=10_000)
    args = cli.parse_args()
    with harness.services("workflows") as svc:
        app = harness.create_app(svc)
        with app.app_context():
            ref, owner, ids = setup()
            with db.scope(ref) as s:
                active = s.execute(select(func.count()).select_from(WorkflowRule)).scalar_one()
            block(ref, owner, ids, 200, 0)  # warm-up: caches, connections
            set_rules(ref, True)
            block(ref, owner, ids, 200, 0)
            without = with_rules = 0.0
            done, offset = 0, 0
            while done < args.updates:
                n = min(BLOCK, args.updates - done)
                set_rules(ref, False)
                without += block(ref, owner, ids, n, offset)
                set_rules(ref, True)
                with_rules += block(ref, owner, ids, n, offset)
                done, offset = done + n, offset + n
            with db.scope(ref) as s:
                runs = s.execute(select(func.count()).select_from(WorkflowRun)).scalar_one()
    ratio = with_rules / without
    result = {
        "updates": args.updates,
        "rules": active,
        "without_rules_s": round(without, 3),
        "with_rules_s": round(with_rules, 3),
        "per_update_ms_without": round(without / args.updates * 1000, 3),
        "per_update_ms_with": round(with_rules / args.updates * 1000, 3),
        "ratio": round(ratio, 3),
        "rule_runs": runs,
    }
    print(f"\n{args.updates} deal updates, each its own unit of work; {active} rules on deals")
    print(f"  without rules   {without:8.2f} s  ({result['per_update_ms_without']} ms each)")
    print(f"  with rules      {with_rules:8.2f} s  ({result['per_update_ms_with']} ms each)")
    print(f"  rule runs written: {runs} (none of the rules matches these updates)")
    harness.check("ratio", result["ratio"], "x", f"<= {RATIO_TARGET:g}", ratio <= RATIO_TARGET)
    harness.emit(result)


if __name__ == "__main__":
    main()
