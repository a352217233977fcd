"""Notifications: create them exactly once per event, as each user prefers; count, list,
mark read; collect a bulk write's into summaries (:func:`batched`).

Services flush, never commit. A notification's ``url`` is stored relative to the
tenant's root (``/deals/42``), so it survives a change of the tenant's address.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from saas.db import current_tenant, session
from saas.jobs import enqueue
from saas.modules.accounts.models import Membership
from saas.modules.notifications import kinds, preferences
from saas.modules.notifications.models import Notification

log = logging.getLogger(__name__)
TITLE_MAX, URL_MAX, KEY_MAX = 300, 500, 200


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

    ``kind`` must be one of :data:`kinds.KINDS` (ValueError otherwise). Users who are not
    members are ignored; each user's preference for the kind decides the rest: nothing
    ("off"), in the app only, in the app and e-mailed at once, or in the app and in the
    next daily digest. ``email=False`` never e-mails. With a ``key``, a user already
    notified with that key is skipped (the database decides, so two processes cannot both
    notify). E-mails are sent by a job enqueued after the commit.

    Inside :func:`batched` nothing is created yet (returns 0): see there.
    """
    kinds.check(kind)
    if key is not None and len(key) > KEY_MAX:
        raise ValueError(f"key is longer than {KEY_MAX} characters: {key!r}")
    if kind in _muted.get():
        return 0
    ids = _ids(user_ids)
    if not ids:
        return 0
    batch = _batch.get()
    if batch is not None:
        if batch.tenant != current_tenant():
            # A batch's summaries are written in its own tenant: never mix two.
            raise RuntimeError("notify() for another tenant inside batched()")
        batch.add(ids, _Pending(kind, title, body or "", url or "", key, email))
        return 0
    return _create(ids, kind, title, body, url, key, email)


def _ids(user_ids: Iterable[int | None]) -> list[int]:
    return list(dict.fromkeys(int(u) for u in user_ids if u is not None))


def _create(
    user_ids: list[int], kind: str, title: str, body: str, url: str, key: str | None, email: bool
) -> int:
    members = _members(user_ids)
    if not members:
        return 0
    # Titles are built from record names: cut rather than lose the write that notifies.
    title = title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"
    path = tenant_path(url)
    # E-mails leave through the app's job queue; a bare script writing records without
    # an application (every web request, job and command has one) keeps them in the app
    # rather than failing the write that notifies.
    can_mail = has_app_context()
    if not can_mail:
        log.warning("no application context: %s notifications stay in the app only", kind)
    rows = []
    for uid, channel in preferences.channels(members, kind).items():
        if channel == "off":
            continue
        if channel == "email" and not can_mail:
            channel = "in_app"
        rows.append(
            {
                "user_id": uid,
                "kind": kind,
                "title": title,
                "body": body or "",
                "url": path,
                "key": key,
                "channel": channel if email else "in_app",
            }
        )
    if not rows:
        return 0
    stmt = insert(Notification).values(rows)
    if key is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["user_id", "key"], index_where=Notification.key.is_not(None)
        )
    created = session().execute(stmt.returning(Notification.id, Notification.channel)).all()
    from saas.modules.notifications.jobs import send_notification_email

    for notification_id, channel in created:
        if channel == "email":
            enqueue(send_notification_email, notification_id)
    return len(created)


# -- many at once ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    kind: str
    title: str
    body: str
    url: str
    key: str | None
    email: bool


@dataclass
class _Group:
    """What a batch collected for one user and kind: the first few in full, the rest
    counted (an import's thousands are not kept in memory)."""

    first: list[_Pending] = field(default_factory=list)
    count: int = 0
    keys: set[str] = field(default_factory=set)
    unkeyed: bool = False
    urls: set[str] = field(default_factory=set)
    email: bool = False

    def add(self, item: _Pending) -> None:
        if item.key is not None:
            if item.key in self.keys:
                return  # the same event twice in one batch is one
            self.keys.add(item.key)
        else:
            self.unkeyed = True
        self.count += 1
        if len(self.first) < SUMMARY_LISTED:
            self.first.append(item)
        if len(self.urls) < 2:
            self.urls.add(item.url)
        self.email = self.email or item.email


@dataclass
class _Batch:
    tenant: object
    groups: dict[tuple[int, str], _Group] = field(default_factory=dict)

    def add(self, user_ids: list[int], item: _Pending) -> None:
        for uid in user_ids:
            self.groups.setdefault((uid, item.kind), _Group()).add(item)


_batch: ContextVar[_Batch | None] = ContextVar("notifications_batch", default=None)
_muted: ContextVar[frozenset[str]] = ContextVar("notifications_muted", default=frozenset())
SUMMARY_LISTED = 5  # titles named in a summary's body


@contextmanager
def batched() -> Iterator[None]:
    """Collect ``notify()`` calls (an import's thousands of writes) and, on a clean exit,
    give each user at most one notification per kind: the one collected, or a summary
    ("42 records were assigned to you") naming the first few. On an error nothing is
    created (the unit of work rolls back anyway). A nested ``batched()`` joins the outer.

    The summary's key is derived from the keys it summarises, so a batch that runs again
    with the same keys notifies nobody twice (unkeyed items make an unkeyed summary).
    """
    if _batch.get() is not None:
        yield
        return
    batch = _Batch(current_tenant())
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    for (uid, kind), group in batch.groups.items():
        if group.count == 1:
            one = group.first[0]
            _create([uid], kind, one.title, one.body, one.url, one.key, one.email)
        else:
            _create([uid], kind, *_summary(kind, group))


@contextmanager
def muted(*names: str) -> Iterator[None]:
    """No notifications of these kinds (all kinds if none is named) inside: for writes
    that are not news to anyone (demo data), or that notify in their own words (a
    renewal reminder's task)."""
    for name in names:
        kinds.check(name)
    token = _muted.set(_muted.get() | frozenset(names or kinds.KINDS))
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted(kind: str) -> bool:
    """Whether ``notify()`` would drop ``kind`` here (inside :func:`muted`)."""
    return kind in _muted.get()


def _summary(kind: str, group: _Group) -> tuple[str, str, str, str | None, bool]:
    """(title, body, url, key, email) of one notification standing for a group."""
    with force_locale(tenant_locale()):
        title = str(kinds.KINDS[kind].summary) % {"n": group.count}
        lines = [item.title for item in group.first]
        if group.count > len(group.first):
            lines.append(_("… and %(n)d more.", n=group.count - len(group.first)))
    key = None
    if not group.unkeyed:
        digest = hashlib.sha256("\n".join(sorted(group.keys)).encode()).hexdigest()
        key = f"batch:{kind}:{digest}"
    url = next(iter(group.urls)) if len(group.urls) == 1 else ""
    return title, "\n".join(lines), url, key, group.email


def tenant_locale() -> str:
    """The tenant's language, for text stored once and read by everyone (read once per
    unit of work: a batch asks for it thousands of times)."""
    info = session().info
    if "notifications.locale" not in info:
        from saas.modules.workspace.service import settings

        info["notifications.locale"] = settings().get("locale", "en")
    return info["notifications.locale"]


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
