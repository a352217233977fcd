"""API keys: created, rotated and revoked by a tenant's admins, checked on each call.

A token reads ``crm_<prefix>_<secret>``. Only its SHA-256 is stored (a token is
random enough that a slow hash adds nothing); the prefix finds the row. Scopes
are ``{"*": "read" | "write"}`` or per object, ``{"contact": "write", ...}``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from saas.db import TenantRef, current_tenant, session
from saas.modules.accounts.models import Membership, User
from saas.modules.api.models import ApiKey
from saas.modules.records.registry import all_types
from saas.modules.records.service import ValidationErrors
from saas.tenants.models import Tenant

TOKEN_START = "crm_"
LEVELS = ("read", "write")
ROTATION_GRACE = timedelta(hours=24)  # a rotated key keeps working this long
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often
MAX_ID = 2**31  # ids are INTEGER: a larger number would be a database error, not "not found"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}"


def clean_scopes(raw: dict) -> dict:
    """``{object or "*": "read" | "write"}`` with known objects only; raises
    ValidationErrors naming what is wrong."""
    names = {t.name for t in all_types()} | {"*"}
    scopes = {k: v for k, v in (raw or {}).items() if v}
    bad = [k for k in scopes if k not in names]
    if bad:
        raise ValidationErrors({"scopes": _l("Unknown object: %(name)s.", name=", ".join(bad))})
    if any(v not in LEVELS for v in scopes.values()):
        raise ValidationErrors({"scopes": _l("A scope is either read or write.")})
    if not scopes:
        raise ValidationErrors({"scopes": _l("Give the key access to at least one object.")})
    return scopes


def _tenant_uuid() -> uuid.UUID:
    return uuid.UUID(current_tenant().id)


def create(
    name: str,
    scopes: dict,
    *,
    created_by: int | None,
    user_id: int | None = None,
    expires_at: datetime | None = None,
    replaces: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """A new key of the current tenant and its token (shown once, never again)."""
    name = (name or "").strip()
    errors = {}
    if not name or len(name) > 100:
        errors["name"] = _l("Name the key (at most 100 characters), e.g. “Web site forms”.")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        errors["expires_at"] = _l("Choose an expiry date in the future.")
    if user_id is not None and not _is_member(user_id):
        errors["user_id"] = _l("Choose someone on your team.")
    if errors:
        raise ValidationErrors(errors)
    scopes = clean_scopes(scopes)
    prefix, token = _new_token()
    key = ApiKey(
        tenant_id=_tenant_uuid(),
        name=name,
        prefix=prefix,
        token_hash=digest(token),
        scopes=scopes,
        user_id=user_id,
        created_by=created_by,
        expires_at=expires_at,
        replaces_id=replaces.id if replaces else None,
    )
    session().add(key)
    session().flush()
    return key, token


def _is_member(user_id: int) -> bool:
    if not 0 < user_id < MAX_ID:
        return False
    return (
        session()
        .execute(
            select(Membership.id).where(
                Membership.tenant_id == _tenant_uuid(), Membership.user_id == user_id
            )
        )
        .first()
        is not None
    )


def keys() -> list[ApiKey]:
    """The current tenant's keys, newest first (revoked ones too, for the record)."""
    stmt = select(ApiKey).where(ApiKey.tenant_id == _tenant_uuid()).order_by(ApiKey.id.desc())
    return list(session().execute(stmt).scalars())


def find(key_id) -> ApiKey | None:
    if not str(key_id).isdigit() or not 0 < int(key_id) < MAX_ID:
        return None
    stmt = select(ApiKey).where(ApiKey.tenant_id == _tenant_uuid(), ApiKey.id == int(key_id))
    return session().execute(stmt).scalar_one_or_none()


def revoke(key: ApiKey) -> None:
    """Stop the key now, also a rotated one still in its grace period (a leaked token)."""
    now = datetime.now(UTC)
    if key.revoked_at is None or key.revoked_at > now:
        key.revoked_at = now
        session().flush()


def rotate(key: ApiKey, *, created_by: int | None) -> tuple[ApiKey, str]:
    """A new token with the same name, scopes, user and expiry; the old one keeps
    working for a day so that integrations can switch without downtime."""
    if key.revoked_at is not None:
        raise ValidationErrors({"key": _l("A revoked key cannot be rotated; create a new one.")})
    if key.expires_at is not None and not _future(key.expires_at):
        # Its replacement would otherwise never expire.
        raise ValidationErrors({"key": _l("An expired key cannot be rotated; create a new one.")})
    new, token = create(
        key.name,
        key.scopes,
        created_by=created_by,
        user_id=key.user_id,
        expires_at=key.expires_at,
        replaces=key,
    )
    grace_end = datetime.now(UTC) + ROTATION_GRACE
    key.revoked_at = min(grace_end, key.expires_at) if key.expires_at else grace_end
    session().flush()
    return new, token


def _future(when: datetime | None) -> bool:
    return when is not None and when > datetime.now(UTC)


def state(key: ApiKey) -> str:
    """active, expiring (rotated, in its grace period), expired or revoked."""
    now = datetime.now(UTC)
    if key.revoked_at is not None:
        return "expiring" if key.revoked_at > now else "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


# -- authentication (before the request is bound to its tenant) --------------------


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key, its tenant, and the user and role it acts as."""

    key_id: int
    key_name: str
    tenant: TenantRef
    scopes: dict
    user_id: int | None
    role: str
    created_by: int | None = None
    stops_at: datetime | None = None  # expiry, or the end of a rotated key's grace period

    @property
    def acting_user(self) -> int | None:
        """Whom work the API starts (an import) is done for: the key's user, or whoever
        created the key."""
        return self.user_id if self.user_id is not None else self.created_by

    def allows(self, object_name: str, level: str) -> bool:
        granted = self.scopes.get(object_name) or self.scopes.get("*")
        return granted == "write" or (granted == "read" and level == "read")


def authenticate(token: str) -> Caller | None:
    """The caller of ``token``, or None when it is unknown, revoked, expired, of a
    deleted tenant, or bound to someone who has left the tenant."""
    parts = token.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != TOKEN_START or len(parts[1]) != 12:
        return None
    row = (
        session()
        .execute(
            select(ApiKey, Tenant)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKey.prefix == parts[1], Tenant.status != "deleted")
        )
        .first()
    )
    if row is None:
        return None
    key, tenant = row
    now = datetime.now(UTC)
    if not hmac.compare_digest(key.token_hash, digest(token)):
        return None
    if (key.revoked_at and key.revoked_at <= now) or (key.expires_at and key.expires_at <= now):
        return None
    role = "admin"
    if key.user_id is not None:
        member = (
            session()
            .execute(
                select(Membership.role)
                .join(User, User.id == Membership.user_id)
                .where(
                    Membership.tenant_id == tenant.id,
                    Membership.user_id == key.user_id,
                    User.is_active_user.is_(True),
                )
            )
            .scalar_one_or_none()
        )
        if member is None:
            return None
        role = member
    if key.last_used_at is None or now - key.last_used_at > USED_EVERY:
        touch(key.id)
    stops = [t for t in (key.expires_at, key.revoked_at) if t is not None]
    return Caller(
        key.id,
        key.name,
        tenant.ref(),
        dict(key.scopes),
        key.user_id,
        role,
        key.created_by,
        min(stops) if stops else None,
    )


def touch(key_id: int) -> None:
    """Note that the key is in use (the admin list's "last used")."""
    session().execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC))
    )
