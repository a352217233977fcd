"""Custom fields: the admin's pages to add, change, convert and delete them.

``/customize/`` lists every object; ``/customize/<object>/fields`` its fields.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from saas.db import session
from saas.modules.customization import convert, meta, service, types, validation
from saas.modules.customization.models import CustomField
from saas.modules.records.registry import ObjectType, all_types
from saas.tenants.context import role_required

bp = Blueprint("customization", __name__)


def _definition_or_404(otype: ObjectType, field_id: int) -> CustomField:
    return service.get_definition(otype, field_id) or abort(404)


@bp.route("/customize/")
@role_required("admin")
def index():
    stmt = select(CustomField.object, func.count()).group_by(CustomField.object)
    counts = {name: n for name, n in session().execute(stmt)}
    return render_template(
        "customization/index.html", objects=all_types(), counts=counts, limit=service.MAX_FIELDS
    )


@bp.route("/customize/<object:otype>/fields")
@role_required("admin")
def fields(otype: ObjectType):
    return render_template(
        "customization/fields.html",
        otype=otype,
        definitions=service.definitions(otype),
        types=types.TYPES,
        limit=service.MAX_FIELDS,
    )


def _form_page(otype, cf, values, errors, status=200):
    return render_template(
        "customization/field_form.html",
        otype=otype,
        cf=cf,
        values=values,
        errors=errors,
        types=types.TYPES,
        targets=service.lookup_targets(),
        sections=(otype.shape.sections if otype.shape else meta.SECTIONS),
        field=types.to_field(cf) if cf is not None else None,
    ), status


@bp.route("/customize/<object:otype>/fields/new", methods=["GET", "POST"])
@role_required("admin")
def new_field(otype: ObjectType):
    if request.method == "GET":
        defaults = {"type": request.args.get("type", "text"), "indexed": "on", "section": "details"}
        return _form_page(otype, None, defaults, {})
    try:
        cf = service.add_field(otype, request.form)
    except service.FieldChangeError as exc:
        return _form_page(otype, None, request.form, exc.errors, 400)
    if cf.index_state == "building":
        flash(_("Field “%(label)s” added. Its index is being built; filters and sorting "
                "by it are ready in a moment.", label=cf.label), "success")  # fmt: skip
    else:
        flash(_("Field “%(label)s” added.", label=cf.label), "success")
    return redirect(url_for(".fields", otype=otype))


@bp.route("/customize/<object:otype>/fields/<int:field_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_field(otype: ObjectType, field_id: int):
    cf = _definition_or_404(otype, field_id)
    if request.method == "GET":
        values = {
            "label": cf.label,
            "help": cf.help,
            "default": cf.default or "",
            "required": "on" if cf.required else "",
            "unique": "on" if cf.unique else "",
            "indexed": "on" if cf.indexed else "",
            **{k: v for k, v in (cf.options or {}).items() if k in {"max_length", "places"}},
        }
        return _form_page(otype, cf, values, {})
    try:
        service.update_field(otype, cf, request.form)
    except service.FieldChangeError as exc:
        return _form_page(otype, cf, request.form, exc.errors, 400)
    flash(_("Field “%(label)s” saved.", label=cf.label), "success")
    return redirect(url_for(".fields", otype=otype))


@bp.route("/customize/<object:otype>/fields/<int:field_id>/type", methods=["POST"])
@role_required("admin")
def change_type(otype: ObjectType, field_id: int):
    cf = _definition_or_404(otype, field_id)
    new_type = request.form.get("type", "")
    try:
        if convert.estimated_rows(otype) > convert.IN_REQUEST_ROWS:
            convert.queue(otype, cf, new_type, request.form)
            flash(_("Converting the values in the background; this page shows the outcome."),
                  "success")  # fmt: skip
            return redirect(url_for(".edit_field", otype=otype, field_id=cf.id))
        converted = convert.change_type(otype, cf, new_type, request.form)
    except service.FieldChangeError as exc:
        values = {"label": cf.label, "help": cf.help, "default": cf.default or ""}
        return _form_page(otype, cf, values, {"new_type": " ".join(exc.errors.values())}, 400)
    flash(
        _("“%(label)s” is now of type %(type)s; %(n)d values converted.",
          label=cf.label, type=types.TYPES[cf.type], n=converted),
        "success",
    )  # fmt: skip
    return redirect(url_for(".edit_field", otype=otype, field_id=cf.id))


@bp.route("/customize/<object:otype>/fields/<int:field_id>/delete", methods=["GET", "POST"])
@role_required("admin")
def delete_field(otype: ObjectType, field_id: int):
    cf = _definition_or_404(otype, field_id)
    used = service.usage(otype, cf)
    if request.method == "GET" or request.form.get("confirm") != cf.name:
        if request.method == "POST":
            flash(_("Type the field's API name to confirm."), "error")
        rules = [rule.name for rule in validation.rules_using(otype, cf.name)]
        page = render_template(
            "customization/field_delete.html", otype=otype, cf=cf, used=used, rules=rules
        )
        return page, (200 if request.method == "GET" else 400)
    service.delete_field(otype, cf)
    flash(_("Field “%(label)s” deleted with its values on %(n)d records.", label=cf.label, n=used),
          "success")  # fmt: skip
    return redirect(url_for(".fields", otype=otype))
