"""The import wizard (``/imports/``): upload, map, preview, run with a live progress
bar, cancel, download the rejected rows, revert."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from saas.db import session
from saas.modules.imports import mapping, service
from saas.modules.imports.encodings import ENCODINGS
from saas.modules.records.registry import all_types, get
from saas.tenants.context import can

bp = Blueprint("imports", __name__)


def _objects():
    return [t for t in all_types() if service.importable(t)]


def _import_or_404(import_id: int):
    return service.find(import_id, current_user.id, admin=can("admin")) or abort(404)


@bp.route("/imports/")
def index():
    imports = session().execute(service.visible(current_user.id, admin=can("admin")).limit(50))
    return render_template(
        "imports/index.html",
        imports=list(imports.scalars()),
        objects=_objects(),
        chosen=request.args.get("object", ""),
        encodings=ENCODINGS,
        labels={t.name: t.plural for t in all_types()},
        status_label=service.status_label,
    )


@bp.route("/imports/", methods=["POST"])
def upload():
    name = request.form.get("object", "")
    otype = next((t for t in _objects() if t.name == name), None)
    if otype is None:
        flash(_("Choose what the file holds."), "error")
        return redirect(url_for(".index"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or Excel file."), "error")
        return redirect(url_for(".index", object=name))
    encoding = request.form.get("encoding") or None
    if encoding is not None and encoding not in dict(ENCODINGS):
        encoding = None
    try:
        imp = service.upload(
            otype, upload.filename, upload.stream, user_id=current_user.id, encoding=encoding
        )
    except service.ImportError_ as exc:
        session().rollback()
        flash(str(exc), "error")
        return redirect(url_for(".index", object=name))
    return redirect(url_for(".mapping_page", import_id=imp.id))


@bp.route("/imports/<int:import_id>/mapping")
def mapping_page(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status != "uploaded":
        return redirect(url_for(".show", import_id=imp.id))
    return _mapping(imp)


def _mapping(imp, error: str | None = None, status: int = 200):
    otype = get(imp.object)
    try:
        samples = service.preview(imp)
    except service.ImportError_ as exc:
        samples, error = [], error or str(exc)
    fields = mapping.targets(otype)
    choices = [("", _("— do not import —"))]
    if mapping.has_full_name(otype):
        choices.append((mapping.FULL_NAME, _("Name (split into first and last name)")))
    choices += [(f.name, f.label) for f in fields]
    return (
        render_template(
            "imports/mapping.html",
            imp=imp,
            otype=otype,
            columns=list(zip(imp.header, imp.mapping, strict=False)),
            samples=samples,
            choices=choices,
            ways={f.name: mapping.ways(otype, f) for f in fields if mapping.ways(otype, f)},
            keys=service.dedupe_keys(otype),
            saved=service.saved_mappings(otype),
            encodings=ENCODINGS,
            error=error,
        ),
        status,
    )


@bp.route("/imports/<int:import_id>/mapping", methods=["POST"])
def configure(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status != "uploaded":
        return redirect(url_for(".show", import_id=imp.id))
    action = request.form.get("action", "preview")
    if action == "saved":
        service.apply_saved(imp, request.form.get("saved", type=int) or 0)
        return redirect(url_for(".mapping_page", import_id=imp.id))
    if action == "encoding":
        encoding = request.form.get("encoding") or None
        if encoding is not None and encoding not in dict(ENCODINGS):
            abort(400)
        try:
            service.read_header(imp, encoding)
        except service.ImportError_ as exc:
            session().rollback()
            return _mapping(_import_or_404(import_id), str(exc), 400)
        imp.mapping = mapping.suggest(get(imp.object), imp.header)
        return redirect(url_for(".mapping_page", import_id=imp.id))
    try:
        service.configure(imp, request.form)
        if action == "start":
            service.start(imp)
    except service.ImportError_ as exc:
        session().rollback()
        return _mapping(_import_or_404(import_id), str(exc), 400)
    if action == "start":
        return redirect(url_for(".show", import_id=imp.id))
    return redirect(url_for(".mapping_page", import_id=imp.id) + "#preview")


@bp.route("/imports/<int:import_id>")
def show(import_id: int):
    imp = _import_or_404(import_id)
    return render_template(
        "imports/show.html",
        imp=imp,
        otype=get(imp.object),
        progress=service.progress(imp),
        problems=service.problems(imp),
        problem_count=service.problem_count(imp),
    )


@bp.route("/imports/<int:import_id>/progress")
def progress(import_id: int):
    return jsonify(service.progress(_import_or_404(import_id)))


@bp.route("/imports/<int:import_id>/errors.csv")
def errors(import_id: int):
    imp = _import_or_404(import_id)
    name = f"{imp.filename.rsplit('.', 1)[0]}-errors.csv"
    return Response(
        stream_with_context(service.streamed_report(imp.id)),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"},
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@bp.route("/imports/<int:import_id>/cancel", methods=["POST"])
def cancel(import_id: int):
    return _act(import_id, service.cancel, _("The import stops after the rows it is on."))


@bp.route("/imports/<int:import_id>/revert", methods=["POST"])
def revert(import_id: int):
    return _act(import_id, service.revert, _("The import is being reverted."))


def _act(import_id: int, action, message: str):
    imp = _import_or_404(import_id)
    try:
        action(imp)
        flash(message, "success")
    except service.ImportError_ as exc:
        flash(str(exc), "error")
    return redirect(url_for(".show", import_id=imp.id))
