"""Each user's choice, per kind, of how to be notified. Flushes, never commits.

Only choices that differ from the default are stored, so a new kind (or a new
user) needs no rows and behaves as before preferences existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from saas.db import session
from saas.modules.notifications.kinds import CHANNELS, DEFAULT_CHANNEL, KINDS, check
from saas.modules.notifications.models import NotificationPreference


def channels(user_ids: Iterable[int], kind: str) -> dict[int, str]:
    """The channel each of ``user_ids`` chose for ``kind`` (the default if none)."""
    ids = list(user_ids)
    chosen = dict(
        session()
        .execute(
            select(NotificationPreference.user_id, NotificationPreference.channel).where(
                NotificationPreference.kind == kind, NotificationPreference.user_id.in_(ids)
            )
        )
        .all()
    )
    return {uid: chosen.get(uid, DEFAULT_CHANNEL) for uid in ids}


def for_user(user_id: int) -> dict[str, str]:
    """The user's channel for every kind, in the order of the kinds."""
    chosen = dict(
        session()
        .execute(
            select(NotificationPreference.kind, NotificationPreference.channel).where(
                NotificationPreference.user_id == user_id
            )
        )
        .all()
    )
    return {kind: chosen.get(kind, DEFAULT_CHANNEL) for kind in KINDS}


def save(user_id: int, choices: Mapping[str, str]) -> None:
    """Set the user's channel for each kind in ``choices`` (ValueError for a bad one)."""
    for kind, channel in choices.items():
        check(kind)
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
    table = NotificationPreference
    for kind, channel in choices.items():
        if channel == DEFAULT_CHANNEL:
            session().execute(delete(table).where(table.user_id == user_id, table.kind == kind))
            continue
        stmt = insert(table).values(user_id=user_id, kind=kind, channel=channel)
        session().execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id", "kind"], set_={"channel": stmt.excluded.channel}
            )
        )
