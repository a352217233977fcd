"""Exports people ask for: start one, see it, its progress, cancel it, and the purge of
expired files. Services flush, never commit; the job writing the file is in ``jobs``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from werkzeug.datastructures import MultiDict

from saas import tracked
from saas.db import current_tenant, session
from saas.i18n import number
from saas.modules.accounts.models import Membership
from saas.modules.exports import files
from saas.modules.exports.models import ACTIVE, Export
from saas.modules.records import listing
from saas.modules.records.access import Viewer, visibility_settings
from saas.modules.records.registry import ObjectType

EXPIRY = timedelta(hours=24)  # a download link works this long after the file is ready
KEEP = timedelta(days=30)  # the row (not the file) stays on the page this long
STALE = timedelta(hours=6)  # an export "running" this long lost its worker for good
ADMINS = {"owner", "admin"}
QUERY_MAX = 2000


def list_query(otype: ObjectType, query: str, user_id: int) -> MultiDict:
    """A list's parameters without paging, "me" replaced by ``user_id``: the worker that
    writes the file later must read the same list the person saw."""
    args = MultiDict()
    users = {f.name for f in otype.filter_fields if f.type == "user"}
    for key, value in parse_qsl(query[:QUERY_MAX], max_num_fields=200):
        if key == "page" or value == "":
            continue
        args.add(key, str(user_id) if key in users and value == "me" else value)
    return args


def start(otype: ObjectType, args: MultiDict, fmt: str, user_id: int, locale: str) -> Export:
    """Ask a worker for the file of ``otype``'s list with ``args`` (see ``list_query``)."""
    if fmt not in files.FORMATS:
        raise ValueError(fmt)
    export = Export(
        user_id=user_id,
        object=otype.name,
        query=urlencode(list(args.items(multi=True)))[:QUERY_MAX],
        format=fmt,
        locale=locale,
    )
    session().add(export)
    session().flush()
    tracked.start("export", export.id)
    return export


def exports_of(user_id: int, role: str, limit: int = 100) -> list[Export]:
    """Newest first: everyone's for admins, one's own for everyone else."""
    stmt = select(Export).order_by(Export.id.desc()).limit(limit)
    if role not in ADMINS:
        stmt = stmt.where(Export.user_id == user_id)
    return list(session().execute(stmt).scalars())


def get(export_id: int, user_id: int, role: str) -> Export | None:
    """The export if this person may see it (their own, or anyone's for an admin)."""
    stmt = select(Export).where(Export.id == export_id)
    if role not in ADMINS:
        stmt = stmt.where(Export.user_id == user_id)
    return session().execute(stmt).scalar_one_or_none()


def expired(export: Export, now: datetime | None = None) -> bool:
    if export.status == "expired":
        return True
    return export.expires_at is not None and export.expires_at <= (now or datetime.now(UTC))


def cancel(export: Export) -> bool:
    """Stop an export that has not finished; the worker notices after its current batch."""
    stopped = (
        session()
        .execute(
            update(Export)
            .where(Export.id == export.id, Export.status.in_(ACTIVE))
            .values(status="cancelled", finished_at=func.now())
            .returning(Export.id)
        )
        .first()
    )
    if stopped is not None:
        files.drop(export.id)
        tracked.stop("export", export.id)
    return stopped is not None


def viewer_of(user_id: int) -> Viewer | None:
    """What ``user_id`` may see in this tenant now (None: no longer a member)."""
    role = (
        session()
        .execute(
            select(Membership.role).where(
                Membership.tenant_id == uuid.UUID(current_tenant().id),
                Membership.user_id == user_id,
            )
        )
        .scalar_one_or_none()
    )
    if role is None:
        return None
    return Viewer(user_id, role, visibility_settings().get(role, "all"))


def statement(export: Export, otype: ObjectType, viewer: Viewer, tz: str):
    lq = listing.parse_args(otype, MultiDict(parse_qsl(export.query)), tz)
    return listing.statement(otype, lq, viewer=viewer)


def progress(export: Export, now: datetime | None = None) -> dict:
    """The JSON ``static/progress.js`` polls (its contract is at the top of that file)."""
    now = now or datetime.now(UTC)
    rate = eta = None
    if export.status == "running" and export.started_at is not None and export.done:
        elapsed = (now - export.started_at).total_seconds()
        if elapsed > 0:
            rate = round(export.done / elapsed, 1)
            if export.total is not None and rate:
                eta = max(0, int((export.total - export.done) / rate))
    return {
        "status": export.status,
        "done": export.done,
        "total": export.total,
        "rate": rate,
        "eta_s": eta,
        "finished": export.status not in ACTIVE,
        "label": label(export, eta),
    }


def label(export: Export, eta: int | None = None) -> str:
    if export.status == "queued":
        return _("Waiting for a worker…")
    if export.status == "running":
        if export.total is None:
            return _("Counting the records…")
        text = _("%(done)s of %(total)s rows", done=number(export.done), total=number(export.total))
        if eta is not None:
            text += " · " + _("about %(minutes)s min left", minutes=number(max(1, -(-eta // 60))))
        return text
    if export.status == "finished":
        if expired(export):
            return _("Expired: export again to get a new file.")
        return _("Ready: %(rows)s rows", rows=number(export.done))
    if export.status == "expired":
        return _("Expired: export again to get a new file.")
    if export.status == "cancelled":
        return _("Cancelled.")
    return _("Failed: %(reason)s", reason=export.error or _("unknown error"))


def purge_expired(now: datetime | None = None) -> int:
    """Delete the files whose link has expired, give up on exports whose worker is gone,
    and forget old rows. Returns how many files were deleted."""
    now = now or datetime.now(UTC)
    gone = list(
        session()
        .execute(
            update(Export)
            .where(Export.status == "finished", Export.expires_at <= now)
            .values(status="expired", size=0)
            .returning(Export.id)
        )
        .scalars()
    )
    if gone:
        files.drop(*gone)
    stale = list(
        session()
        .execute(
            update(Export)
            .where(
                Export.status.in_(ACTIVE),
                func.coalesce(Export.started_at, Export.created_at) < now - STALE,
            )
            .values(status="failed", error=_("the worker stopped before the file was ready"))
            .returning(Export.id)
        )
        .scalars()
    )
    if stale:
        files.drop(*stale)
    old = select(Export.id).where(Export.created_at < now - KEEP, Export.status.not_in(ACTIVE))
    old_ids = list(session().execute(old).scalars())
    if old_ids:
        files.drop(*old_ids)
        session().execute(Export.__table__.delete().where(Export.id.in_(old_ids)))
    return len(gone)
