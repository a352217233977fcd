"""Board totals kept by the database: triggers on ``deals`` add and subtract each
statement's live rows into ``deal_totals`` (per stage, owner and currency).

Triggers rather than application hooks because every path that changes deals
must be counted: the service, bulk transfers, imports by COPY, restores, raw
SQL. Statement-level triggers with transition tables aggregate a bulk change
in one upsert instead of one per row.
"""

from __future__ import annotations

from sqlalchemy import func, select

from saas.db import session
from saas.modules.deals.models import DealTotal

_CONTRIBUTION = """
    SELECT stage_id, coalesce(owner_id, 0) AS owner_key, currency,
           max(pipeline_id) AS pipeline_id, {sign} count(*) AS deals,
           {sign} coalesce(sum(amount), 0) AS amount,
           {sign} coalesce(sum(amount * coalesce(probability, 0) / 100.0), 0) AS weighted
    FROM {rows} WHERE deleted_at IS NULL GROUP BY 1, 2, 3"""


def _apply(schema: str, parts: list[str]) -> str:
    union = " UNION ALL ".join(parts)
    return f"""
    INSERT INTO {schema}.deal_totals AS t
        (stage_id, owner_key, currency, pipeline_id, deals, amount, weighted)
    SELECT stage_id, owner_key, currency, max(pipeline_id), sum(deals), sum(amount),
           sum(weighted)
    FROM ({union}) AS c GROUP BY 1, 2, 3
    ON CONFLICT (stage_id, owner_key, currency) DO UPDATE SET
        pipeline_id = EXCLUDED.pipeline_id,
        deals = t.deals + EXCLUDED.deals,
        amount = t.amount + EXCLUDED.amount,
        weighted = t.weighted + EXCLUDED.weighted;
    DELETE FROM {schema}.deal_totals WHERE deals = 0;"""


def trigger_statements(schema: str) -> list[str]:
    """The functions and triggers for tenant schema ``schema`` (a quoted name)."""
    plus = _CONTRIBUTION.format(sign="", rows="new_rows")
    minus = _CONTRIBUTION.format(sign="-", rows="old_rows")
    bodies = {
        "insert": _apply(schema, [plus]),
        "update": _apply(schema, [plus, minus]),
        "delete": _apply(schema, [minus]),
    }
    out = []
    for event, body in bodies.items():
        refs = {
            "insert": "NEW TABLE AS new_rows",
            "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "delete": "OLD TABLE AS old_rows",
        }[event]
        out.append(
            f"CREATE FUNCTION {schema}.deal_totals_{event}() RETURNS trigger LANGUAGE plpgsql"
            f" AS $fn$ BEGIN {body} RETURN NULL; END $fn$"
        )
        out.append(
            f"CREATE TRIGGER deal_totals_{event} AFTER {event.upper()} ON {schema}.deals"
            f" REFERENCING {refs} FOR EACH STATEMENT"
            f" EXECUTE FUNCTION {schema}.deal_totals_{event}()"
        )
    return out


def rebuild_statement(schema: str) -> str:
    """Recount the totals from the deals (for a migration, or a repair)."""
    return (
        f"DELETE FROM {schema}.deal_totals; INSERT INTO {schema}.deal_totals"
        " (stage_id, owner_key, currency, pipeline_id, deals, amount, weighted)"
        + _CONTRIBUTION.format(sign="", rows=f"{schema}.deals")
    )


def sums(pipeline_id: int, owner_clause=None) -> list[tuple]:
    """(stage, currency, count, amount, weighted) of the pipeline's live deals, for all
    owners, or those matching ``owner_clause`` (a clause on ``DealTotal.owner_key``)."""
    stmt = (
        select(
            DealTotal.stage_id,
            DealTotal.currency,
            func.sum(DealTotal.deals),
            func.sum(DealTotal.amount),
            func.sum(DealTotal.weighted),
        )
        .where(DealTotal.pipeline_id == pipeline_id)
        .group_by(DealTotal.stage_id, DealTotal.currency)
    )
    if owner_clause is not None:
        stmt = stmt.where(owner_clause)
    return [(s, c, int(n), a, w) for s, c, n, a, w in session().execute(stmt)]
