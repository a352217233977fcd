"""The deal object type."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from saas.modules.deals import service
from saas.modules.deals.models import Deal
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, Related, register, standard_fields

CURRENCIES = tuple(
    (c, c) for c in ("USD", "EUR", "GBP", "CNY", "JPY", "CAD", "AUD", "CHF", "INR", "SGD", "HKD")
)
STATUSES = (("open", _l("Open")), ("won", _l("Won")), ("lost", _l("Lost")))
LOST_REASONS = (
    ("price", _l("Price")), ("competitor", _l("Chose a competitor")),
    ("no_budget", _l("No budget")), ("no_decision", _l("No decision")),
    ("timing", _l("Timing")), ("features", _l("Missing features")), ("other", _l("Other")),
)  # fmt: skip

deal = register(
    ObjectType(
        name="deal",
        model=Deal,
        label=_l("Deal"),
        plural=_l("Deals"),
        slug="deals",
        title=lambda d: d.name,
        search_fields=("name",),
        before_write=service.before_write,
        after_write=service.after_write,
        detail_template="deals/_detail.html",
        views=((_l("Board"), "tenant.deals.board"),),
        standard=(
            Field("name", _l("Name"), required=True, in_list=True),
            Field(
                "account_id", _l("Account"), "lookup", target="account", in_list=True, filter=True
            ),
            Field("contact_id", _l("Contact"), "lookup", target="contact"),
            # A stage id; the deals module checks it and derives pipeline, status, probability.
            Field(
                "stage_id",
                _l("Stage"),
                "integer",
                in_list=True,
                filter=True,
                options=service.stage_options,
                default=service.default_stage_id,  # the new-deal form starts there
            ),
            Field(
                "pipeline_id",
                _l("Pipeline"),
                "integer",
                editable=False,
                filter=True,
                options=service.pipeline_options,
            ),
            Field(
                "status",
                _l("Status"),
                "choice",
                choices=STATUSES,
                editable=False,
                in_list=True,
                filter=True,
            ),
            Field("amount", _l("Amount"), "currency", in_list=True, filter=True),
            Field("currency", _l("Currency"), "choice", choices=CURRENCIES),
            Field("probability", _l("Probability (%)"), "integer", minimum=0, maximum=100),
            Field("close_date", _l("Expected close"), "date", in_list=True, filter=True),
            Field("lost_reason", _l("Lost reason"), "choice", choices=LOST_REASONS, filter=True),
            Field("competitors", _l("Competitors"), "tags", max_length=100),
            Field("description", _l("Description"), "longtext", max_length=10000, section="more"),
            Field("closed_at", _l("Closed"), "datetime", editable=False, filter=True),
            *standard_fields(),
        ),
        related=(
            Related("quote", "deal_id", _l("Quotes")),
            Related("order", "deal_id", _l("Orders")),
        ),
    )
)
