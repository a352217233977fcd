"""Who is looking: the viewer of a request or job, and which records they may see.

Visibility is set per role in the tenant's settings: ``own`` (records they
own), ``team`` (records owned by anyone in one of their teams) or ``all``.
Jobs and the platform run as the system viewer, who sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import or_, select

from saas.modules.teams.models import TeamMember

SCOPES = ("own", "team", "all")
DEFAULT_VISIBILITY = {"owner": "all", "admin": "all", "member": "all", "readonly": "all"}


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    role: str
    scope: str = "all"

    @property
    def is_system(self) -> bool:
        return self.user_id is None


SYSTEM = Viewer(None, "owner", "all")


def visibility_settings() -> dict:
    from saas.modules.workspace.service import settings

    configured = settings().get("visibility") or {}
    return {role: configured.get(role, scope) for role, scope in DEFAULT_VISIBILITY.items()}


def current_viewer() -> Viewer:
    """The viewer of this request (cached), or the system viewer outside requests."""
    if not has_request_context():
        return SYSTEM
    viewer = g.get("viewer")
    if viewer is None:
        from flask_login import current_user

        role = g.get("role")
        if role is None or not current_user.is_authenticated:
            return SYSTEM
        viewer = Viewer(current_user.id, role, visibility_settings().get(role, "all"))
        g.viewer = viewer
    return viewer


def visible_clause(model, viewer: Viewer | None = None):
    """A WHERE clause limiting ``model`` rows to what ``viewer`` may see (None: all)."""
    viewer = viewer or current_viewer()
    if viewer.scope == "all" or viewer.is_system:
        return None
    if viewer.scope == "own":
        return model.owner_id == viewer.user_id
    my_teams = select(TeamMember.team_id).where(TeamMember.user_id == viewer.user_id)
    teammates = select(TeamMember.user_id).where(TeamMember.team_id.in_(my_teams))
    return or_(model.owner_id == viewer.user_id, model.owner_id.in_(teammates))
