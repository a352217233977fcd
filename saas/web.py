"""Request plumbing: the unit of work per request, security headers, errors, blueprints."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from saas.db import session
from saas.extensions import csrf, login_manager
from saas.modules.accounts.models import ROLE_LABELS, User
from saas.modules.api import problems
from saas.modules.api.blueprint import http_problem

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    login_manager.login_view = "accounts.login"
    # Lazy, and turned into text by localize_callback in the visitor's language.
    login_manager.login_message = _l("Sign in to continue.")
    login_manager.localize_callback = str
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        uid, _, version = user_id.partition(":")
        if not uid.isdigit() or not version.isdigit():
            return None
        user = session().execute(select(User).where(User.id == int(uid))).scalar_one_or_none()
        if user is None or user.session_version != int(version):
            return None
        return user

    app.after_request(_security_headers)
    app.before_request(_reject_nul_characters)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return render_template("errors/csrf.html", reason=exc.description), 400

    @app.errorhandler(404)
    def _not_found(exc):
        if _is_api():
            return problems.response(http_problem(exc))
        return render_template("errors/not_found.html"), 404

    @app.errorhandler(405)
    def _not_allowed(exc):
        if _is_api():
            return problems.response(http_problem(exc))
        return render_template("errors/not_found.html"), 405

    @app.errorhandler(500)
    def _server_error(exc):
        if _is_api():
            detail = "Something went wrong on our side; nothing was changed. Retry later."
            return problems.response(problems.Problem("server-error", detail))
        return render_template("errors/server_error.html"), 500

    from saas.modules.records.service import ValidationErrors

    @app.errorhandler(ValidationErrors)
    def _refused(exc):
        """A write a page did not expect to be refused (a validation rule or a required
        field on a one-click action): the reason, 400, and nothing of it is kept."""
        return render_template(
            "errors/bad_request.html", reason=" ".join(exc.errors.values()), back=request.referrer
        ), 400

    from saas.tenants import context

    app.jinja_env.globals.update(can=context.can, role_labels=ROLE_LABELS, getattr=getattr)

    from saas import models  # noqa: F401  (registers the object types for the URL converter)
    from saas.modules.accounts.views import bp as accounts_bp
    from saas.modules.api import (  # noqa: F401  (API endpoints)
        actions,
        bulk,
        imports,
        openapi,
        records,
    )
    from saas.modules.api.blueprint import bp as api_bp
    from saas.modules.api.docs import problems_bp
    from saas.modules.records.views import ObjectConverter
    from saas.modules.records.views import bp as records_bp
    from saas.modules.workspace.views import bp as workspace_bp
    from saas.modules.workspace.views import team_bp
    from saas.tenants.views import bp as tenants_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(tenants_bp)
    app.url_map.converters["object"] = ObjectConverter
    csrf.exempt(api_bp)  # API calls carry a key, never a browser's cookie
    from saas.modules.api import auth_cache

    auth_cache.install(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(problems_bp)  # public: the `type` of every API error points here
    app.register_blueprint(
        context.make_blueprint(workspace_bp, team_bp, *module_blueprints(), records_bp)
    )
    if app.config["ENV_NAME"] == "development":
        from saas.devtools import bp as dev_bp

        app.register_blueprint(dev_bp)


def module_blueprints() -> list:
    """The CRM modules' own pages (kanban, conversion, calendar...), before the generic ones."""
    from saas.modules.activities.views import bp as activities
    from saas.modules.api.docs import bp as api_docs
    from saas.modules.api.views import bp as api_keys
    from saas.modules.contracts.views import bp as contracts
    from saas.modules.customization.layout_views import bp as layouts
    from saas.modules.customization.views import bp as customization
    from saas.modules.deals.views import bp as deals
    from saas.modules.exports.views import bp as exports
    from saas.modules.imports.views import bp as imports
    from saas.modules.leads.views import bp as leads
    from saas.modules.notifications.views import bp as notifications
    from saas.modules.sales.views import bp as sales
    from saas.modules.teams.views import bp as teams
    from saas.modules.webhooks.views import bp as webhooks
    from saas.modules.workflows.views import bp as workflows

    return [
        activities,
        api_docs,
        api_keys,
        contracts,
        customization,
        deals,
        exports,
        imports,
        layouts,
        leads,
        notifications,
        sales,
        teams,
        webhooks,
        workflows,
    ]


def _is_api() -> bool:
    return request.path.startswith("/api/")


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _reject_nul_characters():
    """PostgreSQL text cannot hold NUL; say so before anything tries to store one."""
    values = list(request.args.values())
    if request.mimetype in FORM_TYPES:  # the only bodies werkzeug parses into a form
        values.extend(request.form.values())
    if any("\x00" in v for v in values):
        from flask_babel import gettext as _

        reason = _(
            "The address or a form field contains an invisible NUL character. "
            "Remove it (retype the text) and try again."
        )
        if _is_api():
            return problems.response(problems.Problem("bad-request", reason))
        return render_template("errors/bad_request.html", reason=reason), 400
    return None


SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def _security_headers(response):
    """Each header the response does not set itself (names read once: werkzeug's
    ``setdefault`` scans the list each time)."""
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}
    wanted = list(SECURITY_HEADERS)
    if request.is_secure or current_app.config["SESSION_COOKIE_SECURE"]:
        wanted.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))
    if request.path.startswith("/app/") or request.endpoint in {
        "accounts.reset",
        "accounts.invitation",
    }:
        wanted.append(("Cache-Control", "no-store"))
    for name, value in wanted:
        if name.lower() not in present:
            headers.add(name, value)
    return response
