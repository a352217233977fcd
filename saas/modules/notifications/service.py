"""Notifications: create them exactly once per event, count, list, mark read.

Services flush, never commit. A notification's ``url`` is stored relative to the
tenant's root (``/deals/42``), so it survives a change of the tenant's address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from saas.db import current_tenant, session
from saas.jobs import enqueue
from saas.modules.accounts.models import Membership
from saas.modules.notifications.models import Notification

TITLE_MAX, URL_MAX, KEY_MAX, KIND_MAX = 300, 500, 200, 40


def notify(
    user_ids: Iterable[int | None],
    *,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    key: str | None = None,
    email: bool = True,
) -> int:
    """Notify each member of the current tenant among ``user_ids``; returns how many were created.

    Users who are not members are ignored. With a ``key``, a user already notified with
    that key is skipped (the database decides, so two processes cannot both notify).
    E-mails are sent by a job enqueued after the commit, one per created notification.
    """
    if len(kind) > KIND_MAX:
        raise ValueError(f"kind is longer than {KIND_MAX} characters: {kind!r}")
    if key is not None and len(key) > KEY_MAX:
        raise ValueError(f"key is longer than {KEY_MAX} characters: {key!r}")
    members = _members(user_ids)
    if not members:
        return 0
    # Titles are built from record names: cut rather than lose the write that notifies.
    title = title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"
    path = tenant_path(url)
    rows = [
        {"user_id": uid, "kind": kind, "title": title, "body": body or "", "url": path, "key": key}
        for uid in members
    ]
    stmt = insert(Notification).values(rows)
    if key is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["user_id", "key"], index_where=Notification.key.is_not(None)
        )
    created = list(session().execute(stmt.returning(Notification.id)).scalars())
    if email:
        from saas.modules.notifications.jobs import send_notification_email

        for notification_id in created:
            enqueue(send_notification_email, notification_id)
    return len(created)


def _members(user_ids: Iterable[int | None]) -> list[int]:
    """The given users who belong to the current tenant, in the given order, once each."""
    wanted = list(dict.fromkeys(int(u) for u in user_ids if u is not None))
    if not wanted:
        return []
    found = set(
        session()
        .execute(
            select(Membership.user_id).where(
                Membership.tenant_id == uuid.UUID(current_tenant().id),
                Membership.user_id.in_(wanted),
            )
        )
        .scalars()
    )
    return [u for u in wanted if u in found]


def tenant_path(url: str | None) -> str:
    """``url`` as a path relative to the current tenant's root, or "" if it leads elsewhere.

    Accepts ``/deals/42`` or this tenant's full ``/app/<slug>/deals/42``.
    """
    if not url:
        return ""
    prefix = f"/app/{current_tenant().slug}"
    if url == prefix or url.startswith(prefix + "/"):
        url = url[len(prefix) :] or "/"
    elif url.startswith("/app/"):
        return ""  # another tenant's page
    return url if _safe_path(url) else ""


def _safe_path(path: str) -> bool:
    """A same-site path with nothing that could make a browser leave the site."""
    if not path.startswith("/") or path.startswith("//") or len(path) > URL_MAX:
        return False
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc and ".." not in parts.path.split("/")


def link(notification: Notification) -> str | None:
    """The full path of a notification's page in the current tenant, if it has a safe one."""
    if not notification.url or not _safe_path(notification.url):
        return None
    return f"/app/{current_tenant().slug}{notification.url}"


def unread_count(user_id: int, limit: int | None = None) -> int:
    """How many unread notifications ``user_id`` has here (counting at most ``limit``)."""
    unread = select(Notification.id).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if limit is not None:
        unread = unread.limit(limit)
    return session().execute(select(func.count()).select_from(unread.subquery())).scalar_one()


def recent(user_id: int, limit: int = 50) -> list[Notification]:
    """The user's newest notifications first."""
    stmt = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session().execute(stmt).scalars())


def get(user_id: int, notification_id: int) -> Notification | None:
    """One of the user's notifications; None for anyone else's."""
    stmt = select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id
    )
    return session().execute(stmt).scalar_one_or_none()


def mark_read(user_id: int, ids: Iterable[int]) -> int:
    """Mark these of the user's notifications read; returns how many were unread."""
    ids = [int(i) for i in ids]
    if not ids:
        return 0
    return _mark(user_id, Notification.id.in_(ids))


def mark_all_read(user_id: int) -> int:
    """Mark all the user's notifications read; returns how many were unread."""
    return _mark(user_id)


def _mark(user_id: int, *where) -> int:
    stmt = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None), *where)
        .values(read_at=func.now())
        .execution_options(synchronize_session="fetch")
    )
    return session().execute(stmt).rowcount
