"""Accounts: users, sign-in, password reset and invitations. Flushes, never commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from saas.db import session
from saas.mail import queue_email
from saas.modules.accounts import throttle
from saas.modules.accounts.models import ROLE_LABELS, ROLES, Invitation, Membership, User
from saas.modules.accounts.passwords import hash_password, verify_password
from saas.tenants.models import Tenant

THROTTLED = _l("Too many failed attempts. Wait 15 minutes or reset your password.")
BAD_LOGIN = _l("The e-mail or password is not right. Check both and try again.")


def now() -> datetime:
    return datetime.now(UTC)


def user_by_email(email: str) -> User | None:
    return session().execute(select(User).where(User.email == email.lower())).scalar_one_or_none()


def create_user(name: str, email: str, password: str) -> User:
    user = User(name=name, email=email.lower(), password_hash=hash_password(password))
    session().add(user)
    session().flush()
    return user


def authenticate(email: str, password: str, address: str) -> tuple[User | None, str | None]:
    """The user for these credentials, or a sentence saying why not."""
    if throttle.blocked(email, address):
        return None, THROTTLED
    user = user_by_email(email)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        throttle.record_failure(email, address)
        return None, BAD_LOGIN
    throttle.reset(email)
    user.last_login_at = now()
    return user, None


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.session_version += 1  # signs out every other session


def memberships(user: User) -> list[tuple[Tenant, str]]:
    rows = session().execute(
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user.id, Tenant.status != "deleted")
        .order_by(Tenant.name)
    )
    return [(t, r) for t, r in rows]


# -- password reset ---------------------------------------------------------


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _fingerprint(user: User) -> str:
    # Changes with the password, so a link works once.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def send_password_reset(email: str) -> None:
    user = user_by_email(email)
    if user is None or not user.is_active:
        return  # same answer either way: no account enumeration
    token = _reset_serializer().dumps({"u": user.id, "f": _fingerprint(user)})
    link = current_app.config["BASE_URL"].rstrip("/") + url_for("accounts.reset", token=token)
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    queue_email(
        user.email,
        _("Reset your CRM password"),
        _(
            "Hello %(name)s,\n\nOpen this link to choose a new password:\n%(link)s\n\n"
            "It works once, for %(minutes)d minutes. If you did not ask for it, "
            "ignore this e-mail.",
            name=user.name,
            link=link,
            minutes=minutes,
        ),
    )


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _reset_serializer().loads(
            token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"]
        )
    except (SignatureExpired, BadSignature):
        return None
    user = session().get(User, data.get("u"))
    if user is None or not secrets.compare_digest(_fingerprint(user), str(data.get("f"))):
        return None
    return user


# -- invitations ------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(tenant: Tenant, email: str, role: str, inviter: User) -> Invitation:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    token = secrets.token_urlsafe(32)
    days = current_app.config["INVITATION_DAYS"]
    invitation = Invitation(
        tenant_id=tenant.id,
        email=email.lower(),
        role=role,
        token_hash=_token_hash(token),
        invited_by_id=inviter.id,
        expires_at=now() + timedelta(days=days),
    )
    session().add(invitation)
    session().flush()
    link = current_app.config["BASE_URL"].rstrip("/") + url_for("accounts.invitation", token=token)
    queue_email(
        invitation.email,
        _(
            "%(inviter)s invited you to %(company)s's CRM",
            inviter=inviter.name,
            company=tenant.name,
        ),
        _(
            "%(inviter)s invited you to join %(company)s as %(role)s.\n\n"
            "Accept the invitation here:\n%(link)s\n\nThe link works for %(days)d days.",
            inviter=inviter.name,
            company=tenant.name,
            role=ROLE_LABELS[role],
            link=link,
            days=days,
        ),
    )
    return invitation


def invitation_for_token(token: str) -> tuple[Invitation | None, str | None]:
    """The open invitation for ``token``, or a sentence saying why it cannot be used."""
    invitation = (
        session()
        .execute(select(Invitation).where(Invitation.token_hash == _token_hash(token)))
        .scalar_one_or_none()
    )
    if invitation is None:
        return None, _("This invitation link is not valid. Ask for a new invitation.")
    if invitation.accepted_at or invitation.revoked_at:
        return None, _("This invitation was already used or withdrawn. Ask for a new invitation.")
    if invitation.expires_at < now():
        return (
            None,
            _("This invitation has expired. Ask the person who invited you to send a new one."),
        )
    return invitation, None


def accept(invitation: Invitation, user: User) -> Membership:
    membership = (
        session()
        .execute(
            select(Membership).where(
                Membership.tenant_id == invitation.tenant_id, Membership.user_id == user.id
            )
        )
        .scalar_one_or_none()
    )
    if membership is None:
        membership = Membership(
            tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role
        )
        session().add(membership)
    invitation.accepted_at = now()
    session().flush()
    return membership
