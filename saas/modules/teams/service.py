"""Teams of the tenant's users, round-robin assignment of new leads, and the owners
of records who have left. Flushes, never commits.

Team memberships of someone who leaves the company are kept on purpose: their
records stay visible to their old teammates (``team`` visibility) until an
admin transfers them. Round-robin skips them.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, union

from saas.db import session
from saas.modules.records.registry import all_types
from saas.modules.records.service import ValidationErrors, member_names
from saas.modules.teams.models import Team, TeamMember
from saas.modules.workspace.service import record as log_event


def teams() -> list[Team]:
    return list(session().execute(select(Team).order_by(func.lower(Team.name))).scalars())


def get_team(team_id: int) -> Team | None:
    return session().get(Team, team_id) if 0 < team_id < 2**63 else None


def member_ids(team_id: int) -> list[int]:
    """User ids in the team (current tenant members or not), in round-robin order."""
    stmt = select(TeamMember.user_id).where(TeamMember.team_id == team_id)
    return sorted(session().execute(stmt).scalars())


def memberships() -> dict[int, list[int]]:
    """Team id -> user ids, for the list of teams."""
    found: dict[int, list[int]] = {}
    for team_id, user_id in session().execute(
        select(TeamMember.team_id, TeamMember.user_id).order_by(TeamMember.user_id)
    ):
        found.setdefault(team_id, []).append(user_id)
    return found


def _clean_name(raw, team_id: int | None = None) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise ValidationErrors({"name": _l("Give the team a name.")})
    if len(name) > 100:
        raise ValidationErrors({"name": _l("Use at most 100 characters.")})
    stmt = select(Team.id).where(func.lower(Team.name) == name.lower())
    if team_id is not None:
        stmt = stmt.where(Team.id != team_id)
    if session().execute(stmt.limit(1)).first():
        raise ValidationErrors({"name": _l("A team named “%(name)s” exists already.", name=name)})
    return name


def create_team(name, *, actor: int | None = None, round_robin: bool = False) -> Team:
    team = Team(name=_clean_name(name), round_robin=round_robin)
    session().add(team)
    session().flush()
    log_event("team.created", actor, team=team.name)
    return team


def rename_team(team: Team, name, *, actor: int | None = None) -> None:
    old, team.name = team.name, _clean_name(name, team.id)
    session().flush()
    log_event("team.renamed", actor, team=team.name, old=old)


def delete_team(team: Team, *, actor: int | None = None) -> None:
    log_event("team.deleted", actor, team=team.name)
    session().delete(team)  # members go with it (ON DELETE CASCADE)
    session().flush()


def set_round_robin(team: Team, on: bool, *, actor: int | None = None) -> None:
    team.round_robin = on
    session().flush()
    log_event("team.round_robin", actor, team=team.name, on=on)


def add_member(team: Team, user_id, *, actor: int | None = None) -> None:
    """Put a current member of the tenant in the team (no-op if already there)."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        user_id = None
    if user_id not in member_names():
        raise ValidationErrors({"user_id": _l("Choose someone on your team.")})
    if session().get(TeamMember, (team.id, user_id)) is None:
        session().add(TeamMember(team_id=team.id, user_id=user_id))
        session().flush()
        log_event("team.member_added", actor, team=team.name, user=user_id)


def remove_member(team: Team, user_id: int, *, actor: int | None = None) -> bool:
    row = session().get(TeamMember, (team.id, user_id))
    if row is None:
        return False
    session().delete(row)
    session().flush()
    log_event("team.member_removed", actor, team=team.name, user=user_id)
    return True


# -- round-robin ----------------------------------------------------------------------


def round_robin_team(creator: int | None) -> int | None:
    """The team whose turn-taking gets a new lead: the creator's own round-robin team,
    else the first round-robin team (oldest first); None if no team takes turns."""
    stmt = select(Team.id).where(Team.round_robin.is_(True)).order_by(Team.id)
    if creator is not None:
        mine = stmt.join(TeamMember, TeamMember.team_id == Team.id).where(
            TeamMember.user_id == creator
        )
        found = session().execute(mine.limit(1)).scalar()
        if found is not None:
            return found
    return session().execute(stmt.limit(1)).scalar()


def next_owner(team_id: int) -> int | None:
    """The next member of the team in turn (ordered by user id, after the last one
    given a lead), skipping people who left; None if nobody is left.

    The team row is locked until the transaction ends, so two leads created at the
    same time go to two different people.
    """
    team = (
        session()
        .execute(
            select(Team)
            .where(Team.id == team_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        .scalar_one_or_none()
    )
    if team is None or not team.round_robin:
        return None
    current = member_names()
    candidates = [uid for uid in member_ids(team_id) if uid in current]
    if not candidates:
        return None
    last = team.last_assigned_id
    chosen = next((uid for uid in candidates if last is None or uid > last), candidates[0])
    team.last_assigned_id = chosen
    session().flush()
    return chosen


def assign_round_robin(values: dict, creator: int | None) -> None:
    """Give a new record without an owner to the next member of a round-robin team."""
    if values.get("owner_id") is not None:
        return
    team_id = round_robin_team(creator)
    if team_id is not None:
        owner = next_owner(team_id)
        if owner is not None:
            values["owner_id"] = owner


# -- owners who left ------------------------------------------------------------------


def former_owners() -> list[int]:
    """Ids of people who own live records but are no longer members of the tenant."""
    current = list(member_names())
    selects = []
    for otype in all_types():
        if "owner_id" not in otype.by_name:
            continue
        model = otype.model
        stmt = select(model.owner_id).where(model.owner_id.is_not(None), model.deleted_at.is_(None))
        if current:
            stmt = stmt.where(model.owner_id.not_in(current))
        selects.append(stmt)
    if not selects:
        return []
    return sorted(session().execute(union(*selects)).scalars())
