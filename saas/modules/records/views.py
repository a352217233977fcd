"""Pages every CRM object has: list, record, create, edit, delete, bulk actions,
saved views; the recycle bin; global search and lookups. (A list's export is asked
for from its page and written on a worker: ``saas.modules.exports``.)

URLs are ``/app/<tenant>/<object slug>/…``; the ``object`` converter accepts
only registered slugs and hands the view its :class:`ObjectType`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BaseConverter

from saas.db import session
from saas.i18n import tenant_settings
from saas.modules.records import listing, service
from saas.modules.records.display import Names, display
from saas.modules.records.fields import form_value
from saas.modules.records.models import SavedView
from saas.modules.records.registry import ObjectType, all_types, by_slug, get
from saas.modules.records.search import matches
from saas.tenants.context import role_required

bp = Blueprint("records", __name__)
BULK_LIMIT = 500


class ObjectConverter(BaseConverter):
    """``<object:otype>``: a registered object's URL slug <-> its ObjectType."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, *args, **kwargs)
        self.regex = "|".join(sorted((t.slug for t in all_types()), key=len, reverse=True))

    def to_python(self, value: str) -> ObjectType:
        return by_slug(value)

    def to_url(self, value) -> str:
        return value.slug if isinstance(value, ObjectType) else get(value).slug


def _tz() -> str:
    return tenant_settings().get("timezone", "UTC")


def record_or_404(otype: ObjectType, record_id: int, deleted: bool = False):
    return service.get_record(otype, record_id, deleted=deleted) or abort(404)


def record_url(otype: ObjectType | str, record_id: int) -> str:
    return url_for("tenant.records.show", otype=otype, record_id=record_id)


# -- lists ---------------------------------------------------------------------


def _saved_views(otype: ObjectType) -> list[SavedView]:
    stmt = (
        select(SavedView)
        .where(
            SavedView.object == otype.name,
            or_(SavedView.user_id == current_user.id, SavedView.shared.is_(True)),
        )
        .order_by(SavedView.name)
    )
    return list(session().execute(stmt).scalars())


def _list_args() -> MultiDict:
    """The list's own parameters (everything but paging), for links and saved views."""
    return MultiDict([(k, v) for k, v in request.args.items(multi=True) if k != "page" and v])


@bp.route("/<object:otype>/")
def index(otype: ObjectType):
    lq = listing.parse_args(otype, request.args, _tz())
    for problem in lq.problems:
        flash(problem, "error")
    records, count, capped = listing.page(otype, lq)
    names = Names(otype, records, otype.list_fields)
    filter_names = Names(otype, [], otype.filter_fields)
    args = _list_args()
    pages = max(1, -(-count // listing.PAGE_SIZE))
    return render_template(
        "records/list.html",
        otype=otype,
        records=records,
        names=names,
        filter_names=filter_names,
        lq=lq,
        count=count,
        capped=capped,
        pages=pages,
        query=urlencode(list(args.items(multi=True))),
        args=args,
        views=_saved_views(otype),
        members=service.member_names(),
        display=display,
    )


@bp.route("/<object:otype>/bulk", methods=["POST"])
def bulk(otype: ObjectType):
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()][:BULK_LIMIT]
    back = url_for(".index", otype=otype) + (
        "?" + request.form["query"] if request.form.get("query") else ""
    )
    if not ids:
        flash(_("Select at least one record first."), "error")
        return redirect(back)
    stmt = service.select_records(otype).where(otype.model.id.in_(ids))
    records = list(session().execute(stmt).scalars())
    action = request.form.get("action")
    if action == "assign":
        try:
            owner = service.validate(
                otype, {"owner_id": request.form.get("owner_id", "")}, partial=True
            )["owner_id"]
        except service.ValidationErrors as exc:
            flash(exc.errors.get("owner_id", str(exc)), "error")
            return redirect(back)
        if owner is None:
            flash(_("Choose the new owner."), "error")
            return redirect(back)
        from saas.modules.notifications.service import batched

        with batched():  # the new owner gets one notification for the lot, not one each
            n = service.assign(otype, records, owner, actor=current_user.id)
        flash(_("%(n)d records reassigned.", n=n), "success")
    elif action == "delete":
        for record in records:
            service.delete(otype, record, actor=current_user.id)
        flash(_("%(n)d records moved to the recycle bin.", n=len(records)), "success")
    else:
        flash(_("Choose what to do with the selected records."), "error")
    return redirect(back)


@bp.route("/<object:otype>/views", methods=["POST"])
def save_view(otype: ObjectType):
    name = (request.form.get("name") or "").strip()[:100]
    query = (request.form.get("query") or "")[:2000]
    if not name:
        flash(_("Give the view a name."), "error")
        return redirect(url_for(".index", otype=otype) + ("?" + query if query else ""))
    shared = request.form.get("shared") == "on" and g.role in {"owner", "admin"}
    view = SavedView(
        object=otype.name, name=name, user_id=current_user.id, shared=shared, query=query
    )
    session().add(view)
    flash(_("View “%(name)s” saved.", name=name), "success")
    return redirect(url_for(".index", otype=otype) + ("?" + query if query else ""))


@bp.route("/<object:otype>/views/<int:view_id>/delete", methods=["POST"])
def delete_view(otype: ObjectType, view_id: int):
    view = session().get(SavedView, view_id)
    if view is None or view.object != otype.name:
        abort(404)
    if view.user_id != current_user.id and not (view.shared and g.role in {"owner", "admin"}):
        abort(404)
    session().delete(view)
    flash(_("View deleted."), "success")
    return redirect(url_for(".index", otype=otype))


# -- records -----------------------------------------------------------------------


def _form_values(otype: ObjectType, record=None) -> dict:
    tz = _tz()
    if request.method == "POST":
        return _submitted(otype)
    values = {}
    for f in otype.form_fields:
        if record is not None:
            value = getattr(record, f.name)
        else:
            value = request.args.get(f.name, f.initial)
        values[f.name] = form_value(f, value, tz) if not isinstance(value, str) else value
    return values


def _submitted(otype: ObjectType) -> dict:
    """The form's values (an unticked checkbox and an empty multi-select send nothing)."""
    return {
        f.name: request.form.getlist(f.name)
        if f.type == "multichoice"
        else request.form.get(f.name, "")
        for f in otype.form_fields
    }


def _lookup_labels(otype: ObjectType, values: dict) -> dict:
    """'Name (#id)' for lookups given by id, as the lookup input shows them."""
    out = {}
    for f in otype.form_fields:
        if f.type == "lookup" and str(values.get(f.name, "")).isdigit():
            titles = service.titles(get(f.target), [int(values[f.name])])
            if titles:
                out[f.name] = f"{titles[int(values[f.name])]} (#{values[f.name]})"
    return out


def _render_form(otype, record, values, errors, status=200):
    values = {**values, **_lookup_labels(otype, values)}
    return render_template(
        "records/form.html",
        otype=otype,
        record=record,
        values=values,
        errors=errors,
        members=service.member_names(),
        next_url=_safe_next(),
    ), status


def _safe_next() -> str | None:
    target = request.values.get("next", "")
    prefix = f"/app/{g.tenant.slug}/"
    return target if target.startswith(prefix) and "//" not in target[1:] else None


@bp.route("/<object:otype>/new", methods=["GET", "POST"])
def new(otype: ObjectType):
    if not otype.creatable:
        abort(404)
    if request.method == "POST":
        try:
            record = service.create(otype, _submitted(otype), actor=current_user.id)
        except service.ValidationErrors as exc:
            return _render_form(otype, None, _form_values(otype), exc.errors, 400)
        flash(
            _("%(object)s “%(title)s” created.", object=otype.label, title=otype.title(record)),
            "success",
        )
        return redirect(_safe_next() or record_url(otype, record.id))
    return _render_form(otype, None, _form_values(otype), {})


@bp.route("/<object:otype>/<int:record_id>")
def show(otype: ObjectType, record_id: int):
    record = record_or_404(otype, record_id)
    names = Names(otype, [record])
    related = []
    for rel in otype.related:
        rtype = get(rel.object)
        stmt = (
            service.select_records(rtype)
            .where(getattr(rtype.model, rel.via) == record.id)
            .order_by(rtype.model.updated_at.desc())
            .limit(20)
        )
        rows = list(session().execute(stmt).scalars())
        related.append((rel, rtype, rows, Names(rtype, rows, rtype.list_fields)))
    return render_template(
        "records/show.html",
        otype=otype,
        record=record,
        names=names,
        related=related,
        timeline=timeline_items(otype, record),
        display=display,
        extra_template=otype.detail_template,
    )


def _change_value(f, value):
    """A checkbox or time from a timeline change (stored as JSON) as the pages show it."""
    from datetime import datetime

    from saas.i18n import moment

    if value is None or value == "":
        return value
    if f.type == "bool":
        return _("Yes") if value else _("No")
    try:
        return moment(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return value


def timeline_items(otype: ObjectType, record) -> list[dict]:
    """Timeline entries and activities of a record, newest first, ready to show."""
    users = service.member_names()
    items = []
    for entry in service.timeline(otype, record.id):
        changes = []
        for name, (old, new) in (entry.data.get("changes") or {}).items():
            f = otype.field(name)
            label = str(f.label) if f else name
            if f is not None and f.type == "choice":
                old, new = f.choice_label(old), f.choice_label(new)
            elif f is not None and f.type in {"bool", "datetime"}:
                old, new = _change_value(f, old), _change_value(f, new)
            changes.append((label, old, new))
        items.append(
            {
                "at": entry.at,
                "kind": entry.kind,
                "user": users.get(entry.user_id),
                "changes": changes,
                "data": entry.data,
            }
        )
    from saas.modules.activities.models import Activity

    activities = (
        session()
        .execute(
            service.select_records(get("activity"))
            .where(Activity.related_object == otype.name, Activity.related_id == record.id)
            .order_by(Activity.created_at.desc())
            .limit(100)
        )
        .scalars()
    )
    for activity in activities:
        items.append(
            {
                "at": activity.created_at,
                "kind": "activity",
                "activity": activity,
                "label": get("activity").field("kind").choice_label(activity.kind),
                "user": users.get(activity.owner_id),
                "changes": [],
                "data": {},
            }
        )
    items.sort(key=lambda i: i["at"], reverse=True)
    return items


@bp.route("/<object:otype>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(otype: ObjectType, record_id: int):
    record = record_or_404(otype, record_id)
    if request.method == "POST":
        try:
            service.update(otype, record, _submitted(otype), actor=current_user.id, partial=False)
        except service.ValidationErrors as exc:
            return _render_form(otype, record, _form_values(otype), exc.errors, 400)
        flash(_("Saved."), "success")
        return redirect(_safe_next() or record_url(otype, record.id))
    return _render_form(otype, record, _form_values(otype, record), {})


@bp.route("/<object:otype>/<int:record_id>/delete", methods=["POST"])
def delete(otype: ObjectType, record_id: int):
    record = record_or_404(otype, record_id)
    service.delete(otype, record, actor=current_user.id)
    flash(
        _(
            "“%(title)s” moved to the recycle bin. You can restore it for 30 days.",
            title=otype.title(record),
        ),
        "success",
    )
    return redirect(url_for(".index", otype=otype))


# -- recycle bin ---------------------------------------------------------------------


@bp.route("/trash/")
def trash():
    groups = []
    for otype in all_types():
        stmt = (
            service.select_records(otype, deleted=True)
            .order_by(otype.model.deleted_at.desc())
            .limit(100)
        )
        rows = list(session().execute(stmt).scalars())
        if rows:
            groups.append((otype, rows))
    return render_template("records/trash.html", groups=groups, retention=service.RETENTION)


@bp.route("/trash/<object:otype>/<int:record_id>/restore", methods=["POST"])
def restore(otype: ObjectType, record_id: int):
    record = record_or_404(otype, record_id, deleted=True)
    try:
        service.restore(otype, record, actor=current_user.id)
    except service.ValidationErrors as exc:
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for(".trash"))
    flash(_("“%(title)s” restored.", title=otype.title(record)), "success")
    return redirect(record_url(otype, record.id))


# -- search --------------------------------------------------------------------------


@bp.route("/search")
def search():
    q = (request.args.get("q") or "").strip()[:200]
    groups = []
    if q:
        for otype in all_types():
            if not otype.search_fields:
                continue
            clause = matches(otype.model.search, q)
            if clause is None:
                continue
            stmt = service.select_records(otype).where(clause).limit(10)
            rows = list(session().execute(stmt).scalars())
            if rows:
                groups.append((otype, rows))
    return render_template("records/search.html", q=q, groups=groups)


@bp.route("/lookup/<object:otype>")
def lookup(otype: ObjectType):
    """Records matching ``q`` for a lookup field's suggestions (JSON)."""
    q = (request.args.get("q") or "").strip()[:100]
    clause = matches(otype.model.search, q) if q else None
    if clause is None:
        return jsonify([])
    stmt = service.select_records(otype).where(clause).limit(10)
    rows = session().execute(stmt).scalars()
    return jsonify([{"id": r.id, "label": f"{otype.title(r)} (#{r.id})"} for r in rows])


@bp.route("/owners/transfer", methods=["GET", "POST"])
@role_required("admin")
def transfer():
    """Give everything one person owns to another: someone leaving, or who has left."""
    from saas.modules.teams.service import former_owners

    members, former = service.member_names(), former_owners()
    if request.method == "GET":
        return render_template("records/transfer.html", members=members, former=former)
    src, dst = request.form.get("from_user", ""), request.form.get("to_user", "")
    if (
        not (src.isdigit() and dst.isdigit())
        or (int(src) not in members and int(src) not in former)
        or int(dst) not in members
        or src == dst
    ):
        flash(
            _("Choose whose records to move, and a different person on your team to get them."),
            "error",
        )
        return render_template("records/transfer.html", members=members, former=former), 400
    counts = service.transfer(int(src), int(dst), actor=current_user.id)
    src_name = members.get(int(src)) or _("Former user #%(id)s", id=src)
    flash(
        _(
            "%(n)d records moved from %(a)s to %(b)s.",
            n=sum(counts.values()),
            a=src_name,
            b=members[int(dst)],
        ),
        "success",
    )
    return render_template(
        "records/transfer.html",
        members=members,
        former=[uid for uid in former if uid != int(src)],
        results=[(get(name), n) for name, n in counts.items() if n],
        moved=(src_name, members[int(dst)]),
    )
