"""Tenant settings, the tenant's event log and team management. Flushes, never commits."""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import func, select

from saas.db import current_tenant, session
from saas.modules.accounts.models import Invitation, Membership, User, role_at_least
from saas.modules.workspace.models import DEFAULT_SETTINGS, Event, Setting

CURRENCIES = ("USD", "EUR", "GBP", "CNY", "JPY", "CAD", "AUD", "CHF", "INR", "SGD", "HKD")
TIMEZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York",
    "America/Chicago", "America/Los_Angeles", "Asia/Shanghai", "Asia/Tokyo", "Asia/Singapore",
    "Australia/Sydney",
)  # fmt: skip


class TeamError(ValueError):
    """A sentence for the admin about why the change cannot be made."""


def _tenant_id() -> uuid.UUID:
    """Memberships live in the public schema: they are the one place keyed by tenant id."""
    return uuid.UUID(current_tenant().id)


def record(action: str, user_id: int | None = None, **data) -> None:
    session().add(Event(action=action, user_id=user_id, data=data))


def settings() -> dict:
    values = dict(DEFAULT_SETTINGS)
    values.update({s.key: s.value for s in session().execute(select(Setting)).scalars()})
    return values


def update_settings(user_id: int, **values) -> None:
    for key, value in values.items():
        row = session().get(Setting, key)
        if row is None:
            session().add(Setting(key=key, value=value))
        elif row.value != value:
            row.value = value
    record("settings.updated", user_id, **values)


def recent_events(limit: int = 50) -> list[Event]:
    return list(session().execute(select(Event).order_by(Event.id.desc()).limit(limit)).scalars())


def members() -> list[tuple[Membership, User]]:
    rows = session().execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == _tenant_id())
        .order_by(User.name)
    )
    return [(m, u) for m, u in rows]


def membership(member_id: int) -> Membership | None:
    """A membership of the current tenant only."""
    return (
        session()
        .execute(
            select(Membership).where(
                Membership.id == member_id, Membership.tenant_id == _tenant_id()
            )
        )
        .scalar_one_or_none()
    )


def pending_invitations() -> list[Invitation]:
    return list(
        session()
        .execute(
            select(Invitation)
            .where(
                Invitation.tenant_id == _tenant_id(),
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > func.now(),
            )
            .order_by(Invitation.created_at.desc())
        )
        .scalars()
    )


def invitation(invitation_id: int) -> Invitation | None:
    return (
        session()
        .execute(
            select(Invitation).where(
                Invitation.id == invitation_id, Invitation.tenant_id == _tenant_id()
            )
        )
        .scalar_one_or_none()
    )


def _owners() -> int:
    return (
        session()
        .execute(
            select(func.count())
            .select_from(Membership)
            .where(Membership.tenant_id == _tenant_id(), Membership.role == "owner")
        )
        .scalar_one()
    )


def check_can_grant(actor_role: str, role: str) -> None:
    if role == "owner" and actor_role != "owner":
        raise TeamError(_("Only an owner can make someone an owner."))
    if not role_at_least(actor_role, "admin"):
        raise TeamError(_("Only admins can manage the team."))


def change_role(actor_role: str, target: Membership, role: str) -> None:
    check_can_grant(actor_role, role)
    if target.role == "owner" and actor_role != "owner":
        raise TeamError(_("Only an owner can change another owner's role."))
    if target.role == "owner" and role != "owner" and _owners() == 1:
        raise TeamError(_("A company needs at least one owner. Make someone else owner first."))
    target.role = role


def remove(actor_role: str, target: Membership) -> None:
    if target.role == "owner" and actor_role != "owner":
        raise TeamError(_("Only an owner can remove an owner."))
    if target.role == "owner" and _owners() == 1:
        raise TeamError(_("A company needs at least one owner. Make someone else owner first."))
    session().delete(target)


def member_address(user_id: int | None) -> tuple[str, str] | None:
    """E-mail and name of a user, if they are still on this tenant's team."""
    if user_id is None:
        return None
    row = (
        session()
        .execute(
            select(User.email, User.name)
            .join(Membership, Membership.user_id == User.id)
            .where(User.id == user_id, Membership.tenant_id == _tenant_id())
        )
        .first()
    )
    return (row.email, row.name) if row else None
