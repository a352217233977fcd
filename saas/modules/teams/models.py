"""Teams of a tenant's users (tenant schema; user ids point at public.users)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantBase


class Team(TenantBase):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # New leads without an owner go to the members of this team in turn.
    round_robin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    last_assigned_id: Mapped[int | None] = mapped_column(BigInteger)


class TeamMember(TenantBase):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
