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
