"""Pipelines and stages, and what a deal's stage decides: pipeline, status,
probability, close time and the stage history. Flushes, never commits."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from saas.db import session
from saas.modules.deals.models import Pipeline, Stage, StageChange
from saas.modules.records.service import ValidationErrors, note_event


def pipelines() -> list[Pipeline]:
    return list(
        session().execute(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).scalars()
    )


def stages(pipeline_id: int | None = None) -> list[Stage]:
    stmt = (
        select(Stage)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id)
    )
    if pipeline_id is not None:
        stmt = stmt.where(Stage.pipeline_id == pipeline_id)
    return list(session().execute(stmt).scalars())


def _all_stages() -> dict[int, Stage]:
    """Every stage by id (cached for the request: forms and lists ask often)."""
    if has_request_context() and "deal_stages" in g:
        return g.deal_stages
    found = {s.id: s for s in stages()}
    if has_request_context():
        g.deal_stages = found
    return found


def stage_options() -> list[tuple[int, str]]:
    """(stage id, "Pipeline › Stage") for forms and filters."""
    names = {p.id: p.name for p in pipelines()}
    several = len(names) > 1
    return [
        (s.id, f"{names[s.pipeline_id]} › {s.name}" if several else s.name)
        for s in _all_stages().values()
    ]


def pipeline_options() -> list[tuple[int, str]]:
    return [(p.id, p.name) for p in pipelines()]


def default_stage() -> Stage | None:
    stmt = (
        select(Stage)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .order_by(Pipeline.is_default.desc(), Pipeline.position, Stage.position)
        .limit(1)
    )
    return session().execute(stmt).scalar_one_or_none()


def before_write(deal, values: dict, is_new: bool) -> None:
    """The stage decides the pipeline and status; probability follows the stage
    unless the user set it; a lost deal may say why."""
    if is_new and values.get("stage_id") is None:
        stage = default_stage()
        if stage is not None:
            values["stage_id"] = stage.id
    if "stage_id" not in values or values["stage_id"] == deal.stage_id:
        return
    stage = _all_stages().get(values["stage_id"]) or session().get(Stage, values["stage_id"])
    if stage is None:
        raise ValidationErrors({"stage_id": _l("Stage: choose one from the list.")})
    values["pipeline_id"] = stage.pipeline_id
    values["status"] = stage.kind
    if values.get("probability") in (None, deal.probability):
        values["probability"] = stage.probability
    values["closed_at"] = datetime.now(UTC) if stage.kind != "open" else None
    if stage.kind != "lost":
        values["lost_reason"] = None
    deal._previous_stage_id = deal.stage_id
    values["stage_entered_at"] = datetime.now(UTC)


def after_write(deal, changes: dict, is_new: bool) -> None:
    """Record a stage move in the stage history and on the deal's timeline."""
    if "stage_id" not in changes:
        return
    previous = getattr(deal, "_previous_stage_id", None)
    stages_by_id = _all_stages()
    old = stages_by_id.get(previous) if previous else None
    new = stages_by_id.get(deal.stage_id) or session().get(Stage, deal.stage_id)
    actor = deal.created_by if is_new else _actor()
    entered = getattr(deal, "_previous_entered_at", None)
    session().add(
        StageChange(
            deal_id=deal.id,
            from_stage_id=previous,
            to_stage_id=deal.stage_id,
            user_id=actor,
            days_in_stage=(datetime.now(UTC) - entered).days if entered else None,
        )
    )
    if not is_new:
        note_event(deal, "stage", actor, **{"from": old.name if old else None, "to": new.name})


def _actor() -> int | None:
    if has_request_context():
        from flask_login import current_user

        return current_user.id if current_user.is_authenticated else None
    return None


def history(deal_id: int) -> list[StageChange]:
    stmt = select(StageChange).where(StageChange.deal_id == deal_id).order_by(StageChange.id)
    return list(session().execute(stmt).scalars())
