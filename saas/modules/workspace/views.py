"""The tenant's home, settings and team pages (``/app/<slug>/…``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from saas.modules.accounts import service as accounts
from saas.modules.accounts.forms import InviteForm, RoleForm
from saas.modules.workspace import service
from saas.modules.workspace.forms import SettingsForm
from saas.tenants.context import role_required
from saas.tenants.service import audit

bp = Blueprint("workspace", __name__)
team_bp = Blueprint("team", __name__, url_prefix="/team")


@bp.route("/")
def dashboard():
    """A salesperson's day: due tasks, meetings, open deals, new leads, recent changes."""
    from saas.i18n import tenant_settings
    from saas.modules.activities.objects import KINDS
    from saas.modules.records.service import member_names
    from saas.modules.workspace.home import COUNT_CAP, my_day

    return render_template(
        "workspace/dashboard.html",
        day=my_day(current_user.id, tenant_settings().get("timezone", "UTC")),
        members=len(member_names()),
        kinds={key: str(label) for key, label in KINDS},
        count_cap=COUNT_CAP,
    )


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings():
    from saas.modules.records.access import visibility_settings

    current = service.settings()
    form = SettingsForm(
        data={
            "company": g.tenant_row.name,
            **current,
            **SettingsForm.visibility_data(visibility_settings()),
        }
    )
    if form.validate_on_submit():
        g.tenant_row.name = form.company.data
        service.update_settings(
            current_user.id,
            currency=form.currency.data,
            timezone=form.timezone.data,
            locale=form.locale.data,
            date_format=form.date_format.data,
            birthday_reminders=bool(form.birthday_reminders.data),
            visibility=form.visibility(),
        )
        flash(_("Settings saved."), "success")
        return redirect(url_for(".settings"))
    status = 400 if request.method == "POST" else 200
    return render_template("workspace/settings.html", form=form), status


@bp.route("/activity")
@role_required("admin")
def activity():
    return render_template("workspace/activity.html", events=service.recent_events(200))


@team_bp.route("/")
def members():
    return render_template(
        "workspace/team.html",
        members=service.members(),
        invitations=service.pending_invitations(),
        invite_form=InviteForm(),
        role_form=RoleForm(),
    )


@team_bp.route("/invite", methods=["POST"])
@role_required("admin")
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            service.check_can_grant(g.role, form.role.data)
        except service.TeamError as exc:
            form.role.errors.append(str(exc))
        else:
            accounts.invite(g.tenant_row, form.email.data, form.role.data, current_user)
            service.record(
                "team.invited", current_user.id, email=form.email.data, role=form.role.data
            )
            audit("invitation.sent", g.tenant_row.id, current_user.id, email=form.email.data)
            flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            return redirect(url_for(".members"))
    return render_template(
        "workspace/team.html",
        members=service.members(),
        invitations=service.pending_invitations(),
        invite_form=form,
        role_form=RoleForm(),
    ), 400


@team_bp.route("/<int:member_id>/role", methods=["POST"])
@role_required("admin")
def change_role(member_id: int):
    target = service.membership(member_id) or abort(404)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the listed roles."), "error")
        return redirect(url_for(".members")), 303
    try:
        service.change_role(g.role, target, form.role.data)
    except service.TeamError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".members")), 303
    service.record("team.role_changed", current_user.id, member=member_id, role=form.role.data)
    flash(_("Role changed."), "success")
    return redirect(url_for(".members"))


@team_bp.route("/<int:member_id>/remove", methods=["POST"])
@role_required("admin")
def remove(member_id: int):
    target = service.membership(member_id) or abort(404)
    try:
        service.remove(g.role, target)
    except service.TeamError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".members")), 303
    service.record("team.removed", current_user.id, member=member_id)
    flash(_("Removed from the team."), "success")
    return redirect(url_for(".members"))


@team_bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke(invitation_id: int):
    invitation = service.invitation(invitation_id) or abort(404)
    invitation.revoked_at = accounts.now()
    service.record("team.invitation_revoked", current_user.id, email=invitation.email)
    flash(_("Invitation to %(email)s withdrawn.", email=invitation.email), "success")
    return redirect(url_for(".members"))
