"""Public pages: landing, sign-up (a new tenant in one step), tenant chooser."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from saas.modules.accounts import service as accounts
from saas.tenants import service
from saas.tenants.forms import NewCompanyForm, SignupForm

bp = Blueprint("tenants", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("tenants.choose"))
    return render_template("tenants/index.html")


@bp.route("/healthz")
def healthz():
    return {"status": "ok"}


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("tenants.new_company"))
    form = SignupForm()
    if form.validate_on_submit():
        if accounts.user_by_email(form.email.data) is not None:
            form.email.errors.append(
                _(
                    "An account with this e-mail already exists. Sign in, then create "
                    "your company from the menu."
                )
            )
        else:
            try:
                user = accounts.create_user(form.name.data, form.email.data, form.password.data)
                tenant = service.create_tenant(form.company.data, user, language=_language())
            except service.TenantError as exc:
                form.company.errors.append(str(exc))
            else:
                login_user(user)
                flash(_("Welcome! %(company)s's CRM is ready.", company=tenant.name), "success")
                return redirect(url_for("tenant.workspace.dashboard", tenant_slug=tenant.slug))
    status = 400 if request.method == "POST" else 200
    return render_template("tenants/signup.html", form=form), status


@bp.route("/tenants")
@login_required
def choose():
    return render_template("tenants/choose.html", memberships=accounts.memberships(current_user))


@bp.route("/tenants/new", methods=["GET", "POST"])
@login_required
def new_company():
    form = NewCompanyForm()
    if form.validate_on_submit():
        try:
            tenant = service.create_tenant(form.company.data, current_user, language=_language())
        except service.TenantError as exc:
            form.company.errors.append(str(exc))
        else:
            flash(_("%(company)s's CRM is ready.", company=tenant.name), "success")
            return redirect(url_for("tenant.workspace.dashboard", tenant_slug=tenant.slug))
    status = 400 if request.method == "POST" else 200
    return render_template("tenants/new_company.html", form=form), status


@bp.route("/language", methods=["POST"])
def language():
    """The interface language for this browser session (over the company's default)."""
    from flask import session

    from saas.i18n import LANGUAGES

    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")


def _language() -> str:
    """The language the visitor sees the sign-up page in (their choice or browser)."""
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "en"
