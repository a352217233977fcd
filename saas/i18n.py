"""Language, time zone and number / money / date formats (Flask-Babel).

The language is the user's choice for this browser session, else the tenant's
setting, else the browser's preference. Time zone, currency and date format
come from the tenant's settings.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel, format_currency, format_decimal, get_locale
from flask_babel import format_date as babel_date
from flask_babel import format_datetime as babel_datetime

from saas.db import current_tenant

LANGUAGES = {"en": "English", "zh": "简体中文"}
DATE_FORMATS = {
    "YYYY-MM-DD": ("yyyy-MM-dd", "2026-03-31"),
    "DD/MM/YYYY": ("dd/MM/yyyy", "31/03/2026"),
    "MM/DD/YYYY": ("MM/dd/yyyy", "03/31/2026"),
    "DD.MM.YYYY": ("dd.MM.yyyy", "31.03.2026"),
    "YYYY年M月D日": ("yyyy年M月d日", "2026年3月31日"),
}
babel = Babel()


def tenant_settings() -> dict:
    """The current tenant's settings, read once per request (defaults outside a tenant)."""
    from saas.modules.workspace.models import DEFAULT_SETTINGS

    if "tenant_settings" not in g:
        if current_tenant() is None:
            return dict(DEFAULT_SETTINGS)
        from saas.modules.workspace.service import settings

        g.tenant_settings = settings()
    return g.tenant_settings


def _locale() -> str:
    # Jobs and commands have no request (no session, no browser): the tenant decides.
    if has_request_context() and g.get("locale"):  # an API call: its Accept-Language
        return g.locale
    chosen = session.get("lang") if has_request_context() else None
    if chosen in LANGUAGES:
        return chosen
    if current_tenant() is not None:
        return tenant_settings().get("locale", "en")
    if not has_request_context():
        return "en"
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def _timezone() -> str:
    return tenant_settings().get("timezone", "UTC")


def money(value, currency: str | None = None) -> str:
    if value is None or value == "":
        return ""
    return format_currency(Decimal(value), currency or tenant_settings().get("currency", "USD"))


def number(value, places: int | None = None) -> str:
    if value is None or value == "":
        return ""
    if places is not None:
        value = Decimal(value).quantize(Decimal(1).scaleb(-places))
    return format_decimal(value)


def day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    pattern = DATE_FORMATS.get(tenant_settings().get("date_format"), DATE_FORMATS["YYYY-MM-DD"])
    return babel_date(value, pattern[0])


def moment(value: datetime | None) -> str:
    """A date and time in the tenant's time zone and date format."""
    if value is None:
        return ""
    pattern = DATE_FORMATS.get(tenant_settings().get("date_format"), DATE_FORMATS["YYYY-MM-DD"])
    return babel_datetime(value, pattern[0] + " HH:mm")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=_locale, timezone_selector=_timezone)
    app.jinja_env.filters.update(money=money, number=number, day=day, moment=moment)
    app.jinja_env.globals.update(languages=LANGUAGES, get_locale=get_locale)
