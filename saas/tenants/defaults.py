"""What a new tenant starts with besides its settings: a sales pipeline and a price list."""

from __future__ import annotations

PIPELINE = "Sales"
STAGES = (  # name, probability %, kind
    ("Qualification", 10, "open"),
    ("Needs analysis", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
)
PRICE_LIST = "Standard"


def statements(schema: str) -> list[str]:
    """Triggers, and INSERTs of the default rows, for ``schema`` (a quoted schema name)."""
    from saas.modules.deals.totals import trigger_statements

    out = trigger_statements(schema)
    out += [
        f"INSERT INTO {schema}.pipelines (name, position, is_default) VALUES ('{PIPELINE}', 0, true)"
    ]
    for position, (name, probability, kind) in enumerate(STAGES):
        out.append(
            f"INSERT INTO {schema}.stages (pipeline_id, name, position, probability, kind)"
            f" SELECT id, '{name}', {position}, {probability}, '{kind}' FROM {schema}.pipelines"
            f" WHERE name = '{PIPELINE}'"
        )
    out.append(
        f"INSERT INTO {schema}.price_lists (name, currency, is_default) VALUES ('{PRICE_LIST}', 'USD', true)"
    )
    return out


# What a company signing up in another language starts with instead.
REGIONAL = {"zh": {"locale": "zh", "currency": "CNY", "timezone": "Asia/Shanghai"}}


def _translated_names() -> dict[str, str]:
    """The default names in the current language (literals, so extraction finds them)."""
    from flask_babel import gettext as _

    return {
        "Sales": _("Sales"),
        "Qualification": _("Qualification"),
        "Needs analysis": _("Needs analysis"),
        "Proposal": _("Proposal"),
        "Negotiation": _("Negotiation"),
        "Won": _("Won"),
        "Lost": _("Lost"),
        "Standard": _("Standard"),
    }


def localize(conn, schema: str, language: str) -> None:
    """Give a new tenant's defaults the language its owner signed up in: names of the
    pipeline, stages and price list, and the settings (language, currency, time zone).
    Runs in the sign-up transaction, on the freshly claimed schema (a quoted name)."""
    import json

    from flask_babel import force_locale
    from sqlalchemy import text

    settings = REGIONAL.get(language)
    if settings is None:
        return
    with force_locale(language):
        names = _translated_names()
    for table in ("pipelines", "stages", "price_lists"):
        for old, new in names.items():
            conn.execute(
                text(f"UPDATE {schema}.{table} SET name = :new WHERE name = :old"),
                {"old": old, "new": new},
            )
    for key, value in settings.items():
        conn.execute(
            text(
                f"INSERT INTO {schema}.settings (key, value) VALUES (:k, CAST(:v AS jsonb))"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ),
            {"k": key, "v": json.dumps(value)},
        )
