"""Pipelines and stages, and what a deal's stage decides: pipeline, status,
probability, close time and the stage history. Flushes, never commits."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln
from sqlalchemy import func, select, update

from saas.db import session
from saas.modules.deals.models import STAGE_KINDS, Deal, Pipeline, Stage, StageChange
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


def _forget_stages() -> None:
    if has_request_context():
        g.pop("deal_stages", None)


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


def default_pipeline() -> Pipeline | None:
    stmt = select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id)
    return session().execute(stmt.limit(1)).scalar_one_or_none()


def default_stage() -> Stage | None:
    """The first open stage of the default pipeline: where a new deal starts."""
    stmt = (
        select(Stage)
        .join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .order_by(
            Pipeline.is_default.desc(),
            Pipeline.position,
            Pipeline.id,
            (Stage.kind != "open"),
            Stage.position,
            Stage.id,
        )
        .limit(1)
    )
    return session().execute(stmt).scalar_one_or_none()


def default_stage_id() -> int | None:
    """The new-deal form's preselected stage."""
    stage = default_stage()
    return stage.id if stage else None


def before_write(deal, values: dict, is_new: bool) -> None:
    """The stage decides the pipeline and status; probability follows the stage
    unless the user set it; a lost deal may say why."""
    if is_new and values.get("stage_id") is None:
        stage = default_stage()
        if stage is not None:
            values["stage_id"] = stage.id
    if not is_new and "stage_id" in values and values["stage_id"] is None:
        del values["stage_id"]  # a deal is always on a stage: an empty choice keeps it
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
    deal._previous_entered_at = None if is_new else deal.stage_entered_at
    # Set on the record, not in ``values``: the move is on the timeline as a stage entry,
    # the clock reset is not a change a user made.
    deal.stage_entered_at = datetime.now(UTC)


def after_write(deal, changes: dict, is_new: bool, actor: int | None) -> None:
    """Record a stage move in the stage history and on the deal's timeline."""
    if "stage_id" not in changes:
        return
    previous = getattr(deal, "_previous_stage_id", None)
    stages_by_id = _all_stages()
    old = (stages_by_id.get(previous) or session().get(Stage, previous)) if previous else None
    new = stages_by_id.get(deal.stage_id) or session().get(Stage, deal.stage_id)
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


def move(deal: Deal, stage_id, *, actor: int | None, lost_reason: str | None = None) -> dict:
    """Put ``deal`` on another stage through the one write path (history, timeline);
    returns the changes. Raises ValidationErrors for a stage that does not exist."""
    from saas.modules.records import service as records
    from saas.modules.records.registry import get

    raw = {"stage_id": stage_id if stage_id not in (None, "") else "x"}
    if lost_reason:
        raw["lost_reason"] = lost_reason
    return records.update(get("deal"), deal, raw, actor=actor)


def history(deal_id: int) -> list[StageChange]:
    stmt = select(StageChange).where(StageChange.deal_id == deal_id).order_by(StageChange.id)
    return list(session().execute(stmt).scalars())


# -- pipelines admin -----------------------------------------------------------------


def _clean_name(raw, field: str = "name") -> str:
    name = (raw or "").strip()
    if not name:
        raise ValidationErrors({field: _l("Give it a name.")})
    if len(name) > 100:
        raise ValidationErrors({field: _l("Use at most 100 characters.")})
    return name


def _probability(raw) -> int:
    text = str(raw if raw is not None else "").strip().rstrip("%")
    if not text.isdigit() or int(text) > 100:
        raise ValidationErrors({"probability": _l("Probability: a whole number from 0 to 100.")})
    return int(text)


def _kind(raw) -> str:
    if raw not in STAGE_KINDS:
        raise ValidationErrors({"kind": _l("Kind: open, won or lost.")})
    return raw


def _pipeline_name_free(name: str, pipeline_id: int | None = None) -> None:
    stmt = select(Pipeline.id).where(func.lower(Pipeline.name) == name.lower())
    if pipeline_id is not None:
        stmt = stmt.where(Pipeline.id != pipeline_id)
    if session().execute(stmt.limit(1)).first():
        raise ValidationErrors(
            {"name": _l("A pipeline named “%(name)s” exists already.", name=name)}
        )


def create_pipeline(name, *, copy_stages: bool = True) -> Pipeline:
    """A new pipeline with the default pipeline's stages, or a single open stage."""
    name = _clean_name(name)
    _pipeline_name_free(name)
    source = default_pipeline()
    position = session().execute(select(func.coalesce(func.max(Pipeline.position), -1))).scalar()
    pipeline = Pipeline(name=name, position=position + 1, is_default=source is None)
    session().add(pipeline)
    session().flush()
    template = stages(source.id) if source is not None and copy_stages else []
    if not template:  # every pipeline keeps at least one open stage
        template = [Stage(name=str(_l("New")), probability=10, kind="open")]
    for position, stage in enumerate(template):
        session().add(
            Stage(
                pipeline_id=pipeline.id,
                name=stage.name,
                position=position,
                probability=stage.probability,
                kind=stage.kind,
            )
        )
    session().flush()
    _forget_stages()
    return pipeline


def rename_pipeline(pipeline: Pipeline, name) -> None:
    name = _clean_name(name)
    _pipeline_name_free(name, pipeline.id)
    pipeline.name = name
    session().flush()


def make_default(pipeline: Pipeline) -> None:
    session().execute(update(Pipeline).values(is_default=Pipeline.id == pipeline.id))
    session().expire_all()


def deal_count(*, pipeline_id: int | None = None, stage_id: int | None = None) -> tuple[int, int]:
    """(live deals, deals in the recycle bin) on a pipeline or a stage."""
    column = Deal.pipeline_id if pipeline_id is not None else Deal.stage_id
    value = pipeline_id if pipeline_id is not None else stage_id
    row = (
        session()
        .execute(
            select(
                func.count().filter(Deal.deleted_at.is_(None)),
                func.count().filter(Deal.deleted_at.is_not(None)),
            ).where(column == value)
        )
        .one()
    )
    return row[0], row[1]


def _deals_block(live: int, binned: int, what: str) -> ValidationErrors:
    if binned:
        message = _ln(
            "%(num)d deal is in %(what)s (%(binned)d of them in the recycle bin). "
            "Restore it and move it to another stage first.",
            "%(num)d deals are in %(what)s (%(binned)d of them in the recycle bin). "
            "Restore them and move them to another stage first.",
            live + binned,
            what=what,
            binned=binned,
        )
    else:
        message = _ln(
            "%(num)d deal is in %(what)s. Move it to another stage first.",
            "%(num)d deals are in %(what)s. Move them to another stage first.",
            live,
            what=what,
        )
    return ValidationErrors({"stage": message})


def delete_pipeline(pipeline: Pipeline) -> None:
    if pipeline.is_default:
        raise ValidationErrors(
            {"pipeline": _l("Make another pipeline the default before deleting this one.")}
        )
    live, binned = deal_count(pipeline_id=pipeline.id)
    if live or binned:
        raise _deals_block(live, binned, f"“{pipeline.name}”")
    session().delete(pipeline)
    session().flush()
    _forget_stages()


def _open_stages_left(pipeline_id: int, without: int) -> int:
    stmt = select(func.count()).where(
        Stage.pipeline_id == pipeline_id, Stage.kind == "open", Stage.id != without
    )
    return session().execute(stmt).scalar_one()


def add_stage(pipeline: Pipeline, name, probability, kind) -> Stage:
    """A new stage; an open one goes before the won and lost stages."""
    name, probability, kind = _clean_name(name), _probability(probability), _kind(kind)
    existing = stages(pipeline.id)
    _stage_name_free(existing, name)
    position = len(existing)
    if kind == "open":
        closed = [s.position for s in existing if s.kind != "open"]
        position = min(closed) if closed else position
    for s in existing:
        if s.position >= position:
            s.position += 1
    stage = Stage(
        pipeline_id=pipeline.id, name=name, position=position, probability=probability, kind=kind
    )
    session().add(stage)
    session().flush()
    _forget_stages()
    return stage


def _stage_name_free(existing: list[Stage], name: str, stage_id: int | None = None) -> None:
    if any(s.name.lower() == name.lower() and s.id != stage_id for s in existing):
        raise ValidationErrors(
            {"name": _l("This pipeline has a stage named “%(name)s”.", name=name)}
        )


def update_stage(stage: Stage, name, probability, kind) -> None:
    name, probability, kind = _clean_name(name), _probability(probability), _kind(kind)
    _stage_name_free(stages(stage.pipeline_id), name, stage.id)
    if kind != stage.kind:
        if stage.kind == "open" and not _open_stages_left(stage.pipeline_id, stage.id):
            raise ValidationErrors({"kind": _l("A pipeline needs at least one open stage.")})
        live, binned = deal_count(stage_id=stage.id)
        if live or binned:
            # Their status follows the stage's kind; changing it under them would lie.
            raise _deals_block(live, binned, f"“{stage.name}”")
    stage.name, stage.probability, stage.kind = name, probability, kind
    session().flush()
    _forget_stages()


def shift_stage(stage: Stage, step: int) -> None:
    """Move a stage one place up (-1) or down (+1) in its pipeline."""
    ordered = stages(stage.pipeline_id)
    index = next(i for i, s in enumerate(ordered) if s.id == stage.id)
    other = index + step
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, s in enumerate(ordered):
        s.position = position
    session().flush()
    _forget_stages()


def delete_stage(stage: Stage) -> None:
    if stage.kind == "open" and not _open_stages_left(stage.pipeline_id, stage.id):
        raise ValidationErrors({"stage": _l("A pipeline needs at least one open stage.")})
    live, binned = deal_count(stage_id=stage.id)
    if live or binned:
        raise _deals_block(live, binned, f"“{stage.name}”")
    session().delete(stage)
    session().flush()
    _forget_stages()
