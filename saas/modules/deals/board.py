"""The kanban board of a pipeline: a column per stage with its count, total and
weighted amount, and the most recently updated cards.

Built for pipelines of hundreds of thousands of deals: the totals come from the
``deal_totals`` table that triggers keep (``deals/totals.py``), the cards from
one UNION of per-stage LIMIT queries (each served by the stage/updated index),
and the account and owner names are loaded once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import and_, func, select, union_all

from saas.db import session
from saas.i18n import money, tenant_settings
from saas.modules.deals import totals as totals_table
from saas.modules.deals.models import Deal, DealTotal, Pipeline, Stage
from saas.modules.records import access
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.records.search import matches

PER_COLUMN = 30
CARD_COLUMNS = (
    Deal.id, Deal.name, Deal.stage_id, Deal.account_id, Deal.owner_id, Deal.amount,
    Deal.currency, Deal.close_date, Deal.updated_at,
)  # fmt: skip


@dataclass
class Filters:
    """The board's own URL parameters: ``owner_id`` (an id or ``me``) and ``q``."""

    owner: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args) -> Filters:
        owner = (args.get("owner_id") or "").strip()
        if owner != "me" and not (owner.isdigit() and int(owner) < 2**63):
            owner = ""
        return cls(owner=owner, q=(args.get("q") or "").strip()[:200])

    @property
    def owner_id(self) -> int | None:
        if self.owner == "me":
            return access.current_viewer().user_id
        return int(self.owner) if self.owner else None

    def args(self) -> dict:
        return {k: v for k, v in (("owner_id", self.owner), ("q", self.q)) if v}


@dataclass
class Column:
    stage: Stage
    count: int = 0
    amounts: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # currency ->
    cards: list = field(default_factory=list)  # rows of CARD_COLUMNS

    @property
    def total(self) -> str:
        return " + ".join(money(a, c) for c, (a, _w) in sorted(self.amounts.items())) or money(0)

    @property
    def weighted(self) -> str:
        return " + ".join(money(w, c) for c, (_a, w) in sorted(self.amounts.items())) or money(0)


def _deals(pipeline_id: int, filters: Filters):
    stmt = records.select_records(get("deal")).where(Deal.pipeline_id == pipeline_id)
    if filters.owner:
        stmt = stmt.where(Deal.owner_id == filters.owner_id)
    clause = matches(Deal.search, filters.q) if filters.q else None
    if clause is not None:
        stmt = stmt.where(clause)
    return stmt


def totals(pipeline_id: int, filters: Filters) -> dict[int, Column]:
    """Count, amount and weighted amount (amount × probability) per stage and currency."""
    stages = session().execute(select(Stage).where(Stage.pipeline_id == pipeline_id)).scalars()
    out = {stage.id: Column(stage) for stage in stages}
    for stage_id, currency, count, amount, weight in _sums(pipeline_id, filters):
        column = out.get(stage_id)
        if column is None:
            continue
        column.count += count
        if amount is not None:
            column.amounts[currency] = (amount, (weight or Decimal(0)).quantize(Decimal("0.01")))
    return out


def _sums(pipeline_id: int, filters: Filters) -> list[tuple]:
    """(stage, currency, count, amount, weighted) rows. Without a text filter they come
    from ``deal_totals`` (kept by triggers, a few rows per stage); with one, from a
    GROUP BY over the matching deals."""
    if not filters.q:
        clauses = [access.visible_clause(_BY_OWNER)]
        if filters.owner:
            clauses.append(DealTotal.owner_key == (filters.owner_id or 0))
        clauses = [c for c in clauses if c is not None]
        return totals_table.sums(pipeline_id, and_(*clauses) if clauses else None)
    weighted = func.sum(Deal.amount * func.coalesce(Deal.probability, 0)) / 100
    stmt = (
        _deals(pipeline_id, filters)
        .with_only_columns(
            Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.amount), weighted
        )
        .group_by(Deal.stage_id, Deal.currency)
    )
    return [tuple(r) for r in session().execute(stmt)]


# Visibility is a rule on owners; the totals table keys its rows by owner (0: none).
_BY_OWNER = SimpleNamespace(owner_id=DealTotal.owner_key)


def columns(pipeline: Pipeline, filters: Filters, per_column: int | None = None) -> list[Column]:
    """The board's columns in stage order, each with its newest cards."""
    per_column = per_column or PER_COLUMN
    by_stage = totals(pipeline.id, filters)
    ordered = sorted(by_stage.values(), key=lambda c: (c.stage.position, c.stage.id))
    wanted = [c.stage.id for c in ordered if c.count]
    if wanted:
        parts = [
            _deals(pipeline.id, filters)
            .with_only_columns(*CARD_COLUMNS)
            .where(Deal.stage_id == stage_id)
            .order_by(Deal.updated_at.desc(), Deal.id.desc())
            .limit(per_column)
            for stage_id in wanted
        ]
        stmt = parts[0] if len(parts) == 1 else union_all(*parts)
        grouped = defaultdict(list)
        for card in session().execute(stmt):  # plain rows: no ORM work for hundreds of cards
            grouped[card.stage_id].append(card)
        for column in ordered:
            column.cards = sorted(
                grouped[column.stage.id], key=lambda d: (d.updated_at, d.id), reverse=True
            )
    return ordered


def account_names(columns_: list[Column]) -> dict[int, str]:
    ids = {d.account_id for c in columns_ for d in c.cards if d.account_id}
    return records.titles(get("account"), ids)


def formatters():
    """money() and day() for hundreds of cards: same output, the locale, pattern and
    tenant format are looked up once per page instead of once per card."""
    from babel.numbers import format_currency
    from flask_babel import get_locale

    from saas.i18n import day

    locale = get_locale()
    fallback = tenant_settings().get("currency", "USD")

    @lru_cache(maxsize=1024)  # amounts repeat (round numbers), and so do dates
    def fmt_money(value, currency=None) -> str:
        return format_currency(value, currency or fallback, locale=locale)

    return {"fmt_money": fmt_money, "fmt_day": lru_cache(maxsize=512)(day)}


def summary(pipeline_id: int, filters: Filters) -> dict[str, dict]:
    """Per-stage count and formatted totals, for the board script after a move."""
    return {
        str(stage_id): {"count": c.count, "total": c.total, "weighted": c.weighted}
        for stage_id, c in totals(pipeline_id, filters).items()
    }
