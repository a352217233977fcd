"""Sales teams (admin): create, rename, delete, members, round-robin for new leads."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from saas.modules.records.service import ValidationErrors, member_names
from saas.modules.teams import service
from saas.tenants.context import role_required

bp = Blueprint("teams", __name__, url_prefix="/teams")


def _team_or_404(team_id: int):
    return service.get_team(team_id) or abort(404)


@bp.route("/", methods=["GET", "POST"])
@role_required("admin")
def index():
    errors = {}
    if request.method == "POST":
        try:
            team = service.create_team(
                request.form.get("name"),
                actor=current_user.id,
                round_robin=request.form.get("round_robin") == "on",
            )
        except ValidationErrors as exc:
            errors = exc.errors
        else:
            flash(_("Team “%(name)s” created. Now add its members.", name=team.name), "success")
            return redirect(url_for(".show", team_id=team.id))
    return render_template(
        "teams/index.html",
        teams=service.teams(),
        memberships=service.memberships(),
        members=member_names(),
        errors=errors,
        name=request.form.get("name", ""),
    ), (400 if errors else 200)


@bp.route("/<int:team_id>")
@role_required("admin")
def show(team_id: int, errors: dict | None = None, status: int = 200):
    team = _team_or_404(team_id)
    members = member_names()
    in_team = service.member_ids(team.id)
    return render_template(
        "teams/show.html",
        team=team,
        in_team=in_team,
        members=members,
        candidates={uid: name for uid, name in members.items() if uid not in in_team},
        errors=errors or {},
    ), status


@bp.route("/<int:team_id>/rename", methods=["POST"])
@role_required("admin")
def rename(team_id: int):
    team = _team_or_404(team_id)
    try:
        service.rename_team(team, request.form.get("name"), actor=current_user.id)
    except ValidationErrors as exc:
        return show(team_id, exc.errors, 400)
    flash(_("Team renamed."), "success")
    return redirect(url_for(".show", team_id=team.id))


@bp.route("/<int:team_id>/round-robin", methods=["POST"])
@role_required("admin")
def round_robin(team_id: int):
    team = _team_or_404(team_id)
    on = request.form.get("round_robin") == "on"
    service.set_round_robin(team, on, actor=current_user.id)
    if on:
        flash(_("New leads without an owner now go to this team's members in turn."), "success")
    else:
        flash(_("Round-robin is off for this team."), "success")
    return redirect(url_for(".show", team_id=team.id))


@bp.route("/<int:team_id>/members", methods=["POST"])
@role_required("admin")
def add_member(team_id: int):
    team = _team_or_404(team_id)
    try:
        service.add_member(team, request.form.get("user_id"), actor=current_user.id)
    except ValidationErrors as exc:
        return show(team_id, exc.errors, 400)
    flash(_("Added to the team."), "success")
    return redirect(url_for(".show", team_id=team.id))


@bp.route("/<int:team_id>/members/<int:user_id>/remove", methods=["POST"])
@role_required("admin")
def remove_member(team_id: int, user_id: int):
    team = _team_or_404(team_id)
    if not service.remove_member(team, user_id, actor=current_user.id):
        abort(404)
    flash(_("Removed from the team."), "success")
    return redirect(url_for(".show", team_id=team.id))


@bp.route("/<int:team_id>/delete", methods=["POST"])
@role_required("admin")
def delete(team_id: int):
    team = _team_or_404(team_id)
    name = team.name
    service.delete_team(team, actor=current_user.id)
    flash(_("Team “%(name)s” deleted. Its members and their records stay.", name=name), "success")
    return redirect(url_for(".index"))
