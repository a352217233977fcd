"""Pages of the deals module beyond the generic record pages: the kanban board,
moving a deal to another stage, and the pipelines admin."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from saas.db import session
from saas.modules.deals import board, service
from saas.modules.deals.models import Pipeline, Stage
from saas.modules.deals.objects import LOST_REASONS
from saas.modules.records.registry import get
from saas.modules.records.service import ValidationErrors, member_names
from saas.modules.records.views import record_or_404
from saas.modules.workspace.service import record as audit
from saas.tenants.context import role_required

bp = Blueprint("deals", __name__)


def _pipeline_or_404(pipeline_id) -> Pipeline:
    return session().get(Pipeline, pipeline_id) or abort(404)


def _chosen_pipeline() -> Pipeline:
    raw = request.values.get("pipeline", "")
    if raw:
        if not raw.isdigit() or int(raw) >= 2**63:
            abort(404)
        return _pipeline_or_404(int(raw))
    return service.default_pipeline() or abort(404)


def _board_url(pipeline: Pipeline, filters: board.Filters) -> str:
    return url_for(".board", pipeline=pipeline.id, **filters.args())


def _card_form_parts(cols: list[board.Column], filters: board.Filters, here: str) -> dict:
    """What every card's move form repeats, rendered once: a board has hundreds of cards."""
    stages = [(c.stage.id, c.stage.name) for c in cols]

    def options(pairs, selected=None) -> str:
        return "".join(
            f'<option value="{escape(k)}"{" selected" if k == selected else ""}>{escape(v)}</option>'
            for k, v in pairs
        )

    hidden = {"next": here, **filters.args()}
    return {
        "stage_options": {sid: Markup(options(stages, sid)) for sid, _name in stages},
        "reason_options": Markup(options([("", "—"), *LOST_REASONS])),
        "hidden": Markup(
            "".join(
                f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in hidden.items()
            )
        ),
    }


def _render_board(pipeline: Pipeline, filters: board.Filters, status: int = 200):
    cols = board.columns(pipeline, filters)
    here = _board_url(pipeline, filters)
    return render_template(
        "deals/board.html",
        pipeline=pipeline,
        pipelines=service.pipelines(),
        columns=cols,
        accounts=board.account_names(cols),
        owners=member_names(),
        filters=filters,
        here=here,
        **_card_form_parts(cols, filters, here),
        **board.formatters(),
    ), status


@bp.route("/deals/board", endpoint="board")
def board_page():
    return _render_board(_chosen_pipeline(), board.Filters.from_args(request.args))


def _wants_json() -> bool:
    """The board's script asks for JSON; a card's plain form gets a page."""
    return request.accept_mimetypes.best == "application/json"


@bp.route("/deals/<int:deal_id>/move", methods=["POST"])
def move(deal_id: int):
    """Put a deal on another stage: from the board's drag and drop (JSON) or a card's form."""
    deal = record_or_404(get("deal"), deal_id)
    filters = board.Filters.from_args(request.form)
    try:
        service.move(
            deal,
            request.form.get("stage_id"),
            actor=current_user.id,
            lost_reason=request.form.get("lost_reason") or None,
        )
    except ValidationErrors as exc:
        message = " ".join(exc.errors.values())
        if _wants_json():
            return jsonify({"ok": False, "error": message}), 400
        flash(message, "error")
        pipeline = session().get(Pipeline, deal.pipeline_id) or _chosen_pipeline()
        return _render_board(pipeline, filters, 400)
    stage = session().get(Stage, deal.stage_id)
    if _wants_json():
        return jsonify(
            {
                "ok": True,
                "deal": {
                    "id": deal.id,
                    "stage_id": deal.stage_id,
                    "status": deal.status,
                    "probability": deal.probability,
                },
                "columns": board.summary(deal.pipeline_id, filters),
                "message": _("“%(deal)s” moved to %(stage)s.", deal=deal.name, stage=stage.name),
            }
        )
    flash(_("“%(deal)s” moved to %(stage)s.", deal=deal.name, stage=stage.name), "success")
    return redirect(_safe_next() or url_for(".board", pipeline=deal.pipeline_id, **filters.args()))


def _safe_next() -> str | None:
    target = request.values.get("next", "")
    prefix = f"/app/{g.tenant.slug}/"
    return target if target.startswith(prefix) and "//" not in target[1:] else None


# -- pipelines admin -------------------------------------------------------------------


def _error(exc: ValidationErrors) -> None:
    flash(" ".join(exc.errors.values()), "error")


@bp.route("/pipelines/")
@role_required("admin")
def pipelines():
    rows = service.pipelines()
    counts = {p.id: service.deal_count(pipeline_id=p.id)[0] for p in rows}
    return render_template(
        "deals/pipelines.html",
        pipelines=rows,
        counts=counts,
        stages_by_pipeline={p.id: service.stages(p.id) for p in rows},
    )


@bp.route("/pipelines/new", methods=["POST"])
@role_required("admin")
def new_pipeline():
    try:
        pipeline = service.create_pipeline(
            request.form.get("name"), copy_stages=request.form.get("stages") != "single"
        )
    except ValidationErrors as exc:
        _error(exc)
        return redirect(url_for(".pipelines"))
    audit("pipeline.created", current_user.id, name=pipeline.name)
    flash(_("Pipeline “%(name)s” created.", name=pipeline.name), "success")
    return redirect(url_for(".pipeline", pipeline_id=pipeline.id))


@bp.route("/pipelines/<int:pipeline_id>")
@role_required("admin")
def pipeline(pipeline_id: int):
    p = _pipeline_or_404(pipeline_id)
    stages = service.stages(p.id)
    counts = {s.id: service.deal_count(stage_id=s.id) for s in stages}
    return render_template("deals/pipeline.html", pipeline=p, stages=stages, counts=counts)


@bp.route("/pipelines/<int:pipeline_id>/rename", methods=["POST"])
@role_required("admin")
def rename_pipeline(pipeline_id: int):
    p = _pipeline_or_404(pipeline_id)
    try:
        service.rename_pipeline(p, request.form.get("name"))
    except ValidationErrors as exc:
        _error(exc)
    else:
        audit("pipeline.renamed", current_user.id, name=p.name)
        flash(_("Saved."), "success")
    return redirect(url_for(".pipeline", pipeline_id=p.id))


@bp.route("/pipelines/<int:pipeline_id>/default", methods=["POST"])
@role_required("admin")
def default_pipeline(pipeline_id: int):
    p = _pipeline_or_404(pipeline_id)
    service.make_default(p)
    flash(_("New deals now start in “%(name)s”.", name=p.name), "success")
    return redirect(url_for(".pipelines"))


@bp.route("/pipelines/<int:pipeline_id>/delete", methods=["POST"])
@role_required("admin")
def delete_pipeline(pipeline_id: int):
    p = _pipeline_or_404(pipeline_id)
    name = p.name
    try:
        service.delete_pipeline(p)
    except ValidationErrors as exc:
        _error(exc)
        return redirect(url_for(".pipeline", pipeline_id=p.id))
    audit("pipeline.deleted", current_user.id, name=name)
    flash(_("Pipeline “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(".pipelines"))


def _stage_or_404(pipeline_id: int, stage_id: int) -> Stage:
    stage = session().get(Stage, stage_id)
    if stage is None or stage.pipeline_id != pipeline_id:
        abort(404)
    return stage


@bp.route("/pipelines/<int:pipeline_id>/stages", methods=["POST"])
@role_required("admin")
def add_stage(pipeline_id: int):
    p = _pipeline_or_404(pipeline_id)
    form = request.form
    try:
        stage = service.add_stage(p, form.get("name"), form.get("probability"), form.get("kind"))
    except ValidationErrors as exc:
        _error(exc)
    else:
        flash(_("Stage “%(name)s” added.", name=stage.name), "success")
    return redirect(url_for(".pipeline", pipeline_id=p.id))


@bp.route("/pipelines/<int:pipeline_id>/stages/<int:stage_id>", methods=["POST"])
@role_required("admin")
def update_stage(pipeline_id: int, stage_id: int):
    stage = _stage_or_404(pipeline_id, stage_id)
    form = request.form
    try:
        service.update_stage(stage, form.get("name"), form.get("probability"), form.get("kind"))
    except ValidationErrors as exc:
        _error(exc)
    else:
        flash(_("Stage “%(name)s” saved.", name=stage.name), "success")
    return redirect(url_for(".pipeline", pipeline_id=pipeline_id))


@bp.route("/pipelines/<int:pipeline_id>/stages/<int:stage_id>/shift", methods=["POST"])
@role_required("admin")
def shift_stage(pipeline_id: int, stage_id: int):
    stage = _stage_or_404(pipeline_id, stage_id)
    service.shift_stage(stage, -1 if request.form.get("direction") == "up" else 1)
    return redirect(url_for(".pipeline", pipeline_id=pipeline_id))


@bp.route("/pipelines/<int:pipeline_id>/stages/<int:stage_id>/delete", methods=["POST"])
@role_required("admin")
def delete_stage(pipeline_id: int, stage_id: int):
    stage = _stage_or_404(pipeline_id, stage_id)
    name = stage.name
    try:
        service.delete_stage(stage)
    except ValidationErrors as exc:
        _error(exc)
    else:
        flash(_("Stage “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(".pipeline", pipeline_id=pipeline_id))


# -- the deal record page ------------------------------------------------------------


@bp.app_template_global()
def deal_progress(deal) -> dict:
    """The stages of a deal's pipeline and its stage history, for the record page."""
    stages = service.stages(deal.pipeline_id)
    names = {s.id: s.name for s in stages}
    history = service.history(deal.id)
    missing = {i for h in history for i in (h.from_stage_id, h.to_stage_id) if i and i not in names}
    if missing:  # stages of another pipeline the deal came from
        names |= {s.id: s.name for s in service.stages() if s.id in missing}
    current_index = next((i for i, s in enumerate(stages) if s.id == deal.stage_id), None)
    entered = deal.stage_entered_at
    return {
        "stages": stages,
        "current": current_index,
        "names": names,
        "history": list(reversed(history)),
        "users": member_names(),
        "days_here": (datetime.now(UTC) - entered).days if entered else None,
    }
