"""The kanban board of a pipeline: a column per stage with its count, total and
weighted amount, and the most recently updated cards.

Built for pipelines of hundreds of thousands of deals: the totals come from one
GROUP BY (kept in Redis until a deal changes), the cards from one UNION of
per-stage LIMIT queries (each served by the stage/updated index), and the
account and owner names are loaded once.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from redis.exceptions import RedisError
from sqlalchemy import func, select, union_all

from saas.db import current_tenant, session
from saas.extensions import redis
from saas.i18n import money, tenant_settings
from saas.modules.deals.models import Deal, Pipeline, Stage
from saas.modules.records import service as records
from saas.modules.records.access import current_viewer
from saas.modules.records.registry import get
from saas.modules.records.search import matches

PER_COLUMN = 50
CACHE_SECONDS = 30
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
            return current_viewer().user_id
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


def totals(pipeline_id: int, filters: Filters, *, fresh: bool = False) -> dict[int, Column]:
    """Count, amount and weighted amount (amount × probability) per stage and currency."""
    stages = session().execute(select(Stage).where(Stage.pipeline_id == pipeline_id)).scalars()
    out = {stage.id: Column(stage) for stage in stages}
    for stage_id, currency, count, amount, weight in _sums(pipeline_id, filters, fresh):
        column = out.get(stage_id)
        if column is None:
            continue
        column.count += count
        if amount is not None:
            column.amounts[currency] = (amount, (weight or Decimal(0)).quantize(Decimal("0.01")))
    return out


def _sums(pipeline_id: int, filters: Filters, fresh: bool) -> list[tuple]:
    """(stage, currency, count, amount, weighted) rows: one GROUP BY over the pipeline's
    deals, kept in Redis while the deals table is unchanged (without a text filter)."""
    key = None if filters.q else _cache_key(pipeline_id, filters)
    if key is not None and not fresh:
        cached = _cache_get(key)
        if cached is not None:
            return cached
    weighted = func.sum(Deal.amount * func.coalesce(Deal.probability, 0)) / 100
    stmt = (
        _deals(pipeline_id, filters)
        .with_only_columns(
            Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.amount), weighted
        )
        .group_by(Deal.stage_id, Deal.currency)
    )
    rows = [tuple(r) for r in session().execute(stmt)]
    if key is not None:
        _cache_set(key, rows)
    return rows


def _cache_key(pipeline_id: int, filters: Filters) -> str:
    """A key that changes whenever a deal is added, changed, deleted or restored: the
    newest id and update time, and the recycle bin's newest time and size (all from
    indexes). Who is looking is part of it, since visibility changes the sums."""
    live = select(func.max(Deal.id)).scalar_subquery()
    changed = select(func.max(Deal.updated_at)).scalar_subquery()
    binned = Deal.deleted_at.is_not(None)
    bin_time = select(func.max(Deal.deleted_at)).where(binned).scalar_subquery()
    bin_size = select(func.count()).select_from(Deal).where(binned).scalar_subquery()
    version = session().execute(select(live, changed, bin_time, bin_size)).one()
    viewer = current_viewer()
    who = "all" if viewer.scope == "all" or viewer.is_system else f"{viewer.scope}-{viewer.user_id}"
    digest = hashlib.sha1(repr(tuple(version)).encode(), usedforsecurity=False).hexdigest()[:20]
    owner = filters.owner_id or ""
    return f"tenant:{current_tenant().id}:deal-board:{pipeline_id}:{who}:{owner}:{digest}"


def _cache_get(key: str) -> list[tuple] | None:
    try:
        raw = redis().get(key)
    except RedisError:
        return None
    if raw is None:
        return None
    return [
        (stage, currency, count, _dec(amount), _dec(weight))
        for stage, currency, count, amount, weight in json.loads(raw)
    ]


def _cache_set(key: str, rows: list[tuple]) -> None:
    data = [[st, cur, n, _str(a), _str(w)] for st, cur, n, a, w in rows]
    # The time limit bounds how long two racing transactions could leave a stale sum.
    with suppress(RedisError):
        redis().set(key, json.dumps(data), ex=CACHE_SECONDS)


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def _str(value) -> str | None:
    return None if value is None else str(value)


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
        for stage_id, c in totals(pipeline_id, filters, fresh=True).items()
    }
