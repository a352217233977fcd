"""Sign-in, sign-out, password reset and invitations (public pages)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from saas.db import session
from saas.modules.accounts import service
from saas.modules.accounts.forms import (
    AcceptInvitationForm,
    ForgotPasswordForm,
    LoginForm,
    ResetPasswordForm,
)
from saas.tenants.models import Tenant
from saas.tenants.service import audit

bp = Blueprint("accounts", __name__)


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user) -> str:
    """Where a signed-in user lands: their only tenant, or the tenant chooser."""
    tenants = service.memberships(user)
    if len(tenants) == 1:
        return url_for("tenant.workspace.dashboard", tenant_slug=tenants[0][0].slug)
    return url_for("tenants.choose")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user, error = service.authenticate(
            form.email.data, form.password.data, request.remote_addr or "unknown"
        )
        if user is not None:
            login_user(user, remember=form.remember.data)
            audit("user.login", user_id=user.id)
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        status = 429 if error == service.THROTTLED else 400
        audit("user.login_failed", email=form.email.data, throttled=status == 429)
        session().commit()  # keep the audit row although the response is an error
        return render_template("accounts/login.html", form=form, error=error), status
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        service.send_password_reset(form.email.data)
        flash(
            _("If an account uses that e-mail, we have sent it a link to choose a new password."),
            "info",
        )
        return redirect(url_for("accounts.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/forgot.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    user = service.user_for_reset_token(token)
    if user is None:
        return render_template("accounts/reset_invalid.html"), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        service.set_password(user, form.password.data)
        audit("user.password_reset", user_id=user.id)
        login_user(user)
        flash(_("Your password is changed and you are signed in."), "success")
        return redirect(home_for(user))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/reset.html", form=form, user=user), status


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    invite, problem = service.invitation_for_token(token)
    if invite is None:
        return render_template("accounts/invitation_invalid.html", problem=problem), 400
    tenant = session().get(Tenant, invite.tenant_id)
    if tenant is None or tenant.status != "active":
        problem = _("This company's CRM is not available any more.")
        return render_template("accounts/invitation_invalid.html", problem=problem), 400
    existing = service.user_by_email(invite.email)
    form = AcceptInvitationForm()

    if current_user.is_authenticated:
        if current_user.email != invite.email:
            return render_template(
                "accounts/invitation.html", invite=invite, tenant=tenant, wrong_user=True
            ), 403
        if request.method == "POST":
            service.accept(invite, current_user)
            audit("invitation.accepted", tenant.id, current_user.id)
            flash(_("Welcome to %(company)s.", company=tenant.name), "success")
            return redirect(url_for("tenant.workspace.dashboard", tenant_slug=tenant.slug))
        return render_template("accounts/invitation.html", invite=invite, tenant=tenant)

    if existing is not None:  # sign in first, then come back here
        return render_template(
            "accounts/invitation.html", invite=invite, tenant=tenant, needs_login=True
        )
    if form.validate_on_submit():
        user = service.create_user(form.name.data, invite.email, form.password.data)
        service.accept(invite, user)
        audit("invitation.accepted", tenant.id, user.id, new_user=True)
        login_user(user)
        flash(_("Welcome to %(company)s.", company=tenant.name), "success")
        return redirect(url_for("tenant.workspace.dashboard", tenant_slug=tenant.slug))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "accounts/invitation.html", invite=invite, tenant=tenant, form=form, new_user=True
    ), status
