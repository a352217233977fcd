"""Exports (``/exports/``): ask for one, watch its progress, download it; and the admin's
scheduled daily exports (``/exports/schedules/``)."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from saas.i18n import tenant_settings
from saas.modules.exports import files, schedules, service
from saas.modules.exports.models import ACTIVE
from saas.modules.records import listing
from saas.modules.records.registry import all_types, by_slug, get
from saas.modules.records.service import member_names
from saas.tenants.context import personal, role_required

bp = Blueprint("exports", __name__, url_prefix="/exports")
FORMAT_NAMES = {"csv": "CSV", "xlsx": _l("Excel (XLSX)")}
RUN_STATUS = {
    "queued": _l("Waiting"),
    "running": _l("Running"),
    "retrying": _l("Failed, will try again"),
    "ok": _l("Delivered"),
    "error": _l("Failed"),
}


def _object(name: str):
    try:
        return get(name)
    except KeyError:
        return None


def _object_label(name: str) -> str:
    otype = _object(name)
    return str(otype.plural) if otype else name


def _field_labels(object_name: str, names: list[str]) -> str:
    otype = _object(object_name)
    by_name = {f.name: str(f.label) for f in otype.fields} if otype else {}
    return ", ".join(by_name.get(n, n) for n in names)


def _describe(export) -> str:
    """The list's filters and sort in words, so people know which export is which."""
    otype = _object(export.object)
    if otype is None or not export.query:
        return ""
    names = member_names()
    parts = []
    for key, value in parse_qsl(export.query):
        if key == "q":
            parts.append(_("search “%(text)s”", text=value))
            continue
        if key == "sort":
            f = otype.field(value.lstrip("-"))
            parts.append(_("sorted by %(field)s", field=f.label if f else value))
            continue
        base, _sep, bound = key.partition("__")
        f = otype.field(base)
        if f is not None and f.type == "user" and value.isdigit():
            value = names.get(int(value), value)
        elif f is not None and f.type == "choice":
            value = f.choice_label(value)
        sign = {"from": "≥", "to": "≤"}.get(bound, "=")
        parts.append(f"{f.label if f else base} {sign} {value}")
    return " · ".join(parts)


@bp.context_processor
def _helpers() -> dict:
    return {
        "expiry_hours": int(service.EXPIRY.total_seconds() // 3600),
        "format_names": FORMAT_NAMES,
        "object_label": _object_label,
        "field_labels": _field_labels,
        "describe": _describe,
        "run_status": lambda status: RUN_STATUS.get(status, status),
        "timezone": tenant_settings().get("timezone", "UTC") if g.get("tenant") else "UTC",
    }


def _export_or_404(export_id: int):
    return service.get(export_id, current_user.id, g.role) or abort(404)


def _bad_request(reason: str):
    return render_template("errors/bad_request.html", reason=reason, back=request.referrer), 400


@bp.route("/")
def index():
    exports = service.exports_of(current_user.id, g.role)
    return render_template(
        "exports/index.html",
        exports=exports,
        objects=all_types(),
        formats=files.FORMATS,
        members=member_names(),
        progress=service.progress,
        expired=service.expired,
        active=ACTIVE,
    )


@bp.route("/", methods=["POST"])
@personal  # read-only members export too: it only creates their own file
def create():
    otype = _object(request.form.get("object", ""))
    fmt = request.form.get("format", "csv")
    if otype is None or fmt not in files.FORMATS:
        return _bad_request(_("Choose what to export and a file format (CSV or Excel)."))
    args = service.list_query(otype, request.form.get("query", ""), current_user.id)
    for problem in listing.parse_args(otype, args, tenant_settings()["timezone"]).problems:
        flash(problem, "error")
    locale = str(get_locale() or "en")
    service.start(otype, args, fmt, current_user.id, locale)
    flash(
        _("Your export is being prepared. You will be notified when it is ready."),
        "success",
    )
    return redirect(url_for(".index"))


@bp.route("/<int:export_id>/progress")
def progress(export_id: int):
    return jsonify(service.progress(_export_or_404(export_id)))


@bp.route("/<int:export_id>/cancel", methods=["POST"])
@personal
def cancel(export_id: int):
    export = _export_or_404(export_id)
    if service.cancel(export):
        flash(_("Export cancelled."), "success")
    else:
        flash(_("This export has already ended."), "info")
    return redirect(url_for(".index"))


@bp.route("/<int:export_id>/download")
def download(export_id: int):
    export = _export_or_404(export_id)
    if service.expired(export):
        return render_template("exports/expired.html", export=export), 410
    if export.status != "finished":
        flash(_("This export is not ready yet."), "info")
        return redirect(url_for(".index"))
    otype = _object(export.object)
    slug = otype.slug if otype else export.object
    stamp = export.created_at.astimezone(UTC).strftime("%Y%m%d-%H%M")
    filename = f"{slug}-{stamp}.{export.format}"
    return Response(
        stream_with_context(files.stream(g.tenant, export.id)),
        mimetype=files.FORMATS[export.format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(export.size),
        },
    )


# -- scheduled exports (admins) ------------------------------------------------------------


def _schedule_or_404(schedule_id: int):
    return schedules.get_schedule(schedule_id) or abort(404)


@bp.route("/schedules/")
@role_required("admin")
def schedule_list():
    return render_template("exports/schedules.html", schedules=schedules.schedules())


def _render_form(raw: dict, schedule, errors: dict, status: int = 200):
    return render_template(
        "exports/schedule_form.html",
        raw=raw,
        schedule=schedule,
        errors=errors,
        objects=all_types(),
        formats=files.FORMATS,
    ), status


def _submit(schedule):
    raw = schedules.submitted(request.form)
    try:
        saved = schedules.save(raw, schedule, actor=current_user.id)
    except schedules.ScheduleErrors as exc:
        return _render_form(raw, schedule, exc.errors, 400)
    flash(_("Scheduled export “%(name)s” saved.", name=saved.name), "success")
    return redirect(url_for(".schedule", schedule_id=saved.id))


@bp.route("/schedules/new", methods=["GET", "POST"])
@role_required("admin")
def new_schedule():
    if request.method == "POST":
        return _submit(None)
    raw = schedules.blank()
    chosen = by_slug(request.args.get("object", ""))
    if chosen is not None:
        raw["objects"] = {chosen.name: [f.name for f in chosen.fields]}
    return _render_form(raw, None, {})


@bp.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit_schedule(schedule_id: int):
    schedule = _schedule_or_404(schedule_id)
    if request.method == "POST":
        return _submit(schedule)
    return _render_form(schedules.as_submitted(schedule), schedule, {})


@bp.route("/schedules/<int:schedule_id>")
@role_required("admin")
def schedule(schedule_id: int):
    found = _schedule_or_404(schedule_id)
    return render_template(
        "exports/schedule.html",
        schedule=found,
        runs=schedules.runs(found.id),
    )


@bp.route("/schedules/<int:schedule_id>/secret", methods=["POST"])
@role_required("admin")
def new_secret(schedule_id: int):
    schedules.new_secret(_schedule_or_404(schedule_id))
    flash(_("New secret made: give it to the receiving system."), "success")
    return redirect(url_for(".schedule", schedule_id=schedule_id))


@bp.route("/schedules/<int:schedule_id>/delete", methods=["POST"])
@role_required("admin")
def delete_schedule(schedule_id: int):
    found = _schedule_or_404(schedule_id)
    name = found.name
    schedules.delete(found)
    flash(_("Scheduled export “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(".schedule_list"))
