"""Layouts (record page sections and order, list columns) and validation rules: the
admin's pages under ``/customize/<object>/``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from saas.modules.customization import layouts, validation
from saas.modules.records import service
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, all_types, get
from saas.modules.records.service import ValidationErrors
from saas.tenants.context import role_required

bp = Blueprint("layouts", __name__)
BLANK_ROWS = 2  # empty condition rows a form offers (more appear after a save or by script)


def _objects() -> list[ObjectType]:
    return sorted(all_types(), key=lambda t: str(t.plural))


# -- layout ---------------------------------------------------------------------------


@bp.route("/customize/<object:otype>/layout", methods=["GET", "POST"])
@role_required("admin")
def layout(otype: ObjectType):
    if request.method == "POST":
        try:
            draft = layouts.read(otype, request.form)
        except ValidationErrors as exc:
            return _render_layout(otype, exc.errors, request.form, 400)
        layouts.save(otype, draft)
        if not request.form.get("move"):
            flash(_("Layout of %(objects)s saved.", objects=otype.plural), "success")
        return redirect(url_for(".layout", otype=otype))
    return _render_layout(otype, {}, MultiDict())


def _render_layout(otype: ObjectType, errors: dict, form: MultiDict, status: int = 200):
    draft = layouts.current(otype)
    columns = {f.name: f for f in layouts.column_choices(otype)}
    chosen = form.getlist("column") if form else draft.columns
    order = [c for c in draft.columns if c in columns]
    order += [name for name in columns if name not in order]
    return render_template(
        "customization/layout.html",
        otype=otype,
        objects=_objects(),
        draft=draft,
        fields=otype.by_name,
        columns=[(columns[name], name in chosen) for name in order],
        customized=layouts.row(otype) is not None,
        errors=errors,
        form=form,
    ), status


@bp.route("/customize/<object:otype>/layout/reset", methods=["POST"])
@role_required("admin")
def reset_layout(otype: ObjectType):
    layouts.reset(otype)
    flash(_("%(objects)s are back to the default layout.", objects=otype.plural), "success")
    return redirect(url_for(".layout", otype=otype))


# -- validation rules ---------------------------------------------------------------------


@bp.route("/customize/<object:otype>/rules")
@role_required("admin")
def rules(otype: ObjectType):
    items = [
        (rule, _describe(otype, rule.condition or {}), validation.broken(otype, rule))
        for rule in validation.rules(otype)
    ]
    return render_template("customization/rules.html", otype=otype, objects=_objects(), items=items)


@bp.route("/customize/<object:otype>/rules/new", methods=["GET", "POST"])
@role_required("admin")
def new_rule(otype: ObjectType):
    return _rule_form(otype, None)


@bp.route("/customize/<object:otype>/rules/<int:rule_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_rule(otype: ObjectType, rule_id: int):
    return _rule_form(otype, _rule_or_404(otype, rule_id))


def _rule_or_404(otype: ObjectType, rule_id: int):
    return validation.get_rule(otype, rule_id) or abort(404)


def _rule_form(otype: ObjectType, rule):
    if request.method == "POST":
        try:
            saved = validation.save(otype, rule, request.form)
        except ValidationErrors as exc:
            values = request.form.to_dict()
            return _render_rule(otype, rule, values, validation.form_rows(request.form), exc.errors)
        flash(_("Rule “%(name)s” saved.", name=saved.name), "success")
        return redirect(url_for(".rules", otype=otype))
    if rule is None:
        values, rows = {"match": "all", "active": "on"}, []
    else:
        values = {
            "name": rule.name,
            "match": (rule.condition or {}).get("match", "all"),
            "message": rule.message,
            "field": rule.field or "",
            "active": "on" if rule.active else "",
        }
        rows = _stored_rows(otype, rule)
    return _render_rule(otype, rule, values, rows, {})


def _render_rule(otype: ObjectType, rule, values: dict, rows: list, errors: dict):
    blank = {"field": "", "op": "", "value": "", "other": ""}
    rows = rows + [dict(blank) for _ in range(BLANK_ROWS)]
    comparable = {
        f.name: " ".join(g.name for g in validation.others_for(otype, f, "equals"))
        for f in otype.fields
    }
    return render_template(
        "customization/rule_form.html",
        otype=otype,
        rule=rule,
        values=values,
        rows=rows[: validation.MAX_CONDITIONS],
        errors=errors,
        ops=validation.OPS,
        ops_for=validation.ops_for,
        comparable=comparable,
    ), 400 if errors else 200


def _stored_rows(otype, rule) -> list[dict[str, str]]:
    """A saved rule's conditions as the form shows them (values as the admin types them)."""
    rows = []
    for item in (rule.condition or {}).get("conditions") or ():
        f = otype.field(item.get("field"))
        value = item.get("value")
        rows.append(
            {
                "field": item.get("field") or "",
                "op": item.get("op") or "",
                "value": _shown(f, value) if f is not None and value is not None else "",
                "other": item.get("other") or "",
            }
        )
    return rows


def _shown(f: Field, value) -> str:
    """A stored condition value as the admin reads and types it."""
    text = str(value)
    if validation.RELATIVE.match(text) and f.type in {"date", "datetime"}:
        return text
    if f.options is not None:
        return next((str(lbl) for k, lbl in f.options() if str(k) == text), text)
    if f.type in {"choice", "multichoice"}:
        return f.choice_label(text)
    if f.type == "user":
        return f"{service.member_names().get(int(text), '')} (#{text})"
    if f.type == "lookup":
        titles = service.titles(get(f.target), [int(text)])
        return f"{titles.get(int(text), '')} (#{text})"
    if f.type == "datetime":
        moment = datetime.fromisoformat(text).astimezone(ZoneInfo(service._tz()))
        return moment.strftime("%Y-%m-%d %H:%M")
    return text


def _describe(otype, condition: dict) -> str:
    """A rule's condition in words, for the list of rules."""
    parts = []
    for item in condition.get("conditions") or ():
        f = otype.field(item.get("field"))
        if f is None:
            parts.append(_("(a deleted field)"))
            continue
        words = [str(f.label), str(validation.OPS.get(item.get("op"), item.get("op")))]
        if item.get("other"):
            other = otype.field(item["other"])
            words.append(str(other.label) if other else _("(a deleted field)"))
        elif item.get("value") is not None:
            words.append(f"“{_shown(f, item['value'])}”")
        parts.append(" ".join(words))
    joiner = f" {_('or')} " if condition.get("match") == "any" else f" {_('and')} "
    return joiner.join(parts)


@bp.route("/customize/<object:otype>/rules/<int:rule_id>/toggle", methods=["POST"])
@role_required("admin")
def toggle_rule(otype: ObjectType, rule_id: int):
    rule = _rule_or_404(otype, rule_id)
    validation.toggle(rule)
    if rule.active:
        flash(_("Rule “%(name)s” is on.", name=rule.name), "success")
    else:
        flash(_("Rule “%(name)s” is off: saves no longer meet it.", name=rule.name), "success")
    return redirect(url_for(".rules", otype=otype))


@bp.route("/customize/<object:otype>/rules/<int:rule_id>/move", methods=["POST"])
@role_required("admin")
def move_rule(otype: ObjectType, rule_id: int):
    validation.move(otype, _rule_or_404(otype, rule_id), request.form.get("direction", ""))
    return redirect(url_for(".rules", otype=otype))


@bp.route("/customize/<object:otype>/rules/<int:rule_id>/delete", methods=["POST"])
@role_required("admin")
def delete_rule(otype: ObjectType, rule_id: int):
    rule = _rule_or_404(otype, rule_id)
    validation.delete(rule)
    flash(_("Rule “%(name)s” deleted.", name=rule.name), "success")
    return redirect(url_for(".rules", otype=otype))
