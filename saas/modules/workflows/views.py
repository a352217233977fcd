"""Workflow rules: the admin's builder, run history and dry run (``/automation/``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from saas.db import session
from saas.modules.records.fields import Field
from saas.modules.records.registry import get
from saas.modules.records.service import member_names
from saas.modules.teams.service import teams
from saas.modules.workflows import definition, forms, service
from saas.modules.workflows.definition import RuleErrors
from saas.modules.workflows.present import words
from saas.tenants.context import role_required

bp = Blueprint("workflows", __name__)


@bp.record_once
def _template_global(state) -> None:
    # The record page includes workflows/_record_runs.html: it reads the words from here.
    state.app.jinja_env.globals["workflows"] = words


def _rule_or_404(rule_id: int):
    return service.get_rule(rule_id) or abort(404)


@bp.route("/automation/")
@role_required("admin")
def index():
    chosen = request.args.get("object") or None
    if chosen is not None and definition.object_type(chosen) is None:
        chosen = None
    found = service.rules(chosen)
    groups: dict[str, list] = {}
    for rule in found:
        groups.setdefault(rule.object, []).append(rule)
    return render_template(
        "workflows/index.html",
        groups=[(get(name), rules) for name, rules in groups.items()],
        objects=definition.objects(),
        chosen=chosen,
        problems={rule.id: service.problems(rule) for rule in found},
    )


@bp.route("/automation/new", methods=["GET", "POST"])
@role_required("admin")
def new():
    if request.method == "GET":
        name = request.args.get("object", "deal")
        raw = forms.blank(name if definition.object_type(name) else "deal")
        return _render(raw, None)
    return _submit(None)


@bp.route("/automation/<int:rule_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit(rule_id: int):
    rule = _rule_or_404(rule_id)
    if request.method == "GET":
        raw = service.as_submitted(rule)
        if not raw["conditions"]:
            raw["conditions"] = [forms.empty_condition()]
        return _render(raw, rule)
    return _submit(rule)


def _submit(rule):
    raw = forms.submitted(request.form)
    do = request.form.get("do", "save")
    if do == "save":
        try:
            saved = service.save(raw, rule, actor=current_user.id)
        except RuleErrors as exc:
            return _render(raw, rule, errors=exc.errors, status=400)
        flash(_("Rule “%(name)s” saved.", name=saved.name), "success")
        return redirect(url_for(".index", object=saved.object))
    if do == "dry_run":
        try:
            results = service.dry_run(
                raw,
                rule_id=rule.id if rule else None,
                last=_last(request.form.get("dry_last")),
                record_id=request.form.get("dry_record", "").strip() or None,
            )
        except RuleErrors as exc:
            return _render(raw, rule, errors=exc.errors, status=400)
        return _render(raw, rule, results=results)
    return _render(forms.rearrange(raw, do), rule)


def _last(raw) -> int:
    text = str(raw or "20").strip()
    return max(1, min(int(text), service.MAX_DRY_RUN)) if text.isdigit() else 20


def value_choices(f: Field | None) -> list[tuple[str, str]] | None:
    """The values a select offers for a field (None: the field takes typed text)."""
    if f is None:
        return None
    if f.options is not None:
        return [(str(i), str(label)) for i, label in f.options()]
    if f.type == "bool":
        return [("true", _("Yes")), ("false", _("No"))]
    if f.choices:
        return [(key, str(label)) for key, label in f.offered]
    if f.type == "user":
        return [(str(uid), name) for uid, name in member_names().items()]
    return None


def _render(raw: dict, rule, *, errors=None, results=None, status: int = 200):
    otype = definition.object_type(raw.get("object")) or get("deal")
    raw = {**raw, "object": otype.name}
    members = member_names()
    all_teams = teams()
    selects = {f.name: value_choices(f) for f in otype.fields}
    return render_template(
        "workflows/form.html",
        rule=rule,
        raw=raw,
        otype=otype,
        objects=definition.objects(),
        fields=otype.fields,
        editable=otype.form_fields,
        date_fields=[f for f in otype.fields if f.type in {"date", "datetime"}],
        selects=selects,
        members=members,
        teams=all_teams,
        round_robin=[t for t in all_teams if t.round_robin],
        priorities=(("normal", _l("Normal")), ("high", _l("High")), ("low", _l("Low"))),
        errors=errors or {},
        results=results,
        dry_last=_last(request.form.get("dry_last")),
        dry_record=request.form.get("dry_record", ""),
    ), status


@bp.route("/automation/<int:rule_id>/active", methods=["POST"])
@role_required("admin")
def active(rule_id: int):
    rule = _rule_or_404(rule_id)
    on = request.form.get("active") == "on"
    service.set_active(rule, on)
    if on:
        flash(_("Rule “%(name)s” is on.", name=rule.name), "success")
    else:
        flash(_("Rule “%(name)s” is off.", name=rule.name), "success")
    return redirect(url_for(".index", object=rule.object))


@bp.route("/automation/<int:rule_id>/move", methods=["POST"])
@role_required("admin")
def move(rule_id: int):
    rule = _rule_or_404(rule_id)
    service.move(rule, -1 if request.form.get("step") == "up" else 1)
    return redirect(url_for(".index", object=rule.object))


@bp.route("/automation/<int:rule_id>/copy", methods=["POST"])
@role_required("admin")
def copy(rule_id: int):
    twin = service.copy(_rule_or_404(rule_id), actor=current_user.id)
    flash(_("Copied: “%(name)s” is off until you switch it on.", name=twin.name), "success")
    return redirect(url_for(".edit", rule_id=twin.id))


@bp.route("/automation/<int:rule_id>/delete", methods=["POST"])
@role_required("admin")
def delete(rule_id: int):
    rule = _rule_or_404(rule_id)
    name, object_name = rule.name, rule.object
    service.delete_rule(rule)
    flash(_("Rule “%(name)s” deleted. Its past runs stay on the records.", name=name), "success")
    return redirect(url_for(".index", object=object_name))


@bp.route("/automation/<int:rule_id>/runs")
@role_required("admin")
def runs(rule_id: int):
    rule = _rule_or_404(rule_id)
    before = request.args.get("before", "")
    found = service.runs_of_rule(rule.id, before=int(before) if before.isdigit() else None)
    return render_template(
        "workflows/runs.html",
        rule=rule,
        runs=found,
        more=found[-1].id if len(found) == 50 else None,
    )


@bp.route("/automation/<int:rule_id>/dry-run")
@role_required("admin")
def dry_run(rule_id: int):
    """The saved rule tested against the last records (or one): nothing is written."""
    rule = _rule_or_404(rule_id)
    raw = service.as_submitted(rule)
    try:
        results = service.dry_run(
            raw,
            rule_id=rule.id,
            last=_last(request.args.get("last")),
            record_id=request.args.get("record", "").strip() or None,
        )
    except RuleErrors as exc:
        return _render(raw, rule, errors=exc.errors, status=400)
    return _render(raw, rule, results=results)


@bp.route("/automation/record/<object:otype>/<int:record_id>")
@role_required("admin")
def record(otype, record_id: int):
    """The runs on one record (``/automation/record/deals/42``; JSON if asked for)."""
    if definition.object_type(otype.name) is None or not 0 < record_id < 2**63:
        abort(404)
    found = session().get(otype.model, record_id)
    if found is None:
        abort(404)
    runs = service.record_runs(otype.name, record_id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(
            [
                {
                    "id": r.id,
                    "rule_id": r.rule_id,
                    "at": r.at.isoformat(),
                    "event": r.event,
                    "status": r.status,
                    "detail": r.detail,
                }
                for r in runs
            ]
        )
    return render_template("workflows/record_runs.html", otype=otype, record=found, runs=runs)
