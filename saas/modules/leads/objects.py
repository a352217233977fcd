"""The lead object type."""

from __future__ import annotations

from dataclasses import replace

from flask_babel import lazy_gettext as _l

from saas.modules.leads import service
from saas.modules.leads.models import Lead
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, register, standard_fields

SOURCES = (
    ("web", _l("Web site")), ("referral", _l("Referral")), ("event", _l("Event")),
    ("ads", _l("Advertising")), ("partner", _l("Partner")), ("cold_call", _l("Cold call")),
    ("email", _l("E-mail campaign")), ("other", _l("Other")),
)  # fmt: skip
STATUSES = (
    ("new", _l("New")), ("contacted", _l("Contacted")), ("qualified", _l("Qualified")),
    ("unqualified", _l("Unqualified")), ("converted", _l("Converted")),
)  # fmt: skip
RATINGS = (("hot", _l("Hot")), ("warm", _l("Warm")), ("cold", _l("Cold")))
OWNER_HELP = _l(
    "Leave empty to give the lead to the next member of a round-robin team "
    "(your own team first), or to yourself if no team takes turns."
)

lead = register(
    ObjectType(
        name="lead",
        model=Lead,
        label=_l("Lead"),
        plural=_l("Leads"),
        title_fields=("first_name", "last_name", "company"),
        slug="leads",
        title=lambda lead: lead.full_name + (f" ({lead.company})" if lead.company else ""),
        search_fields=("last_name", "first_name", "company", "email", "phone"),
        before_write=service.before_write,
        actions_template="leads/_actions.html",
        detail_template="leads/_converted.html",
        standard=(
            Field("first_name", _l("First name"), max_length=100, in_list=True),
            Field("last_name", _l("Last name"), required=True, max_length=100, in_list=True),
            Field("company", _l("Company"), in_list=True),
            Field("title", _l("Job title"), max_length=100),
            Field("email", _l("E-mail"), "email", max_length=254, in_list=True),
            Field("phone", _l("Phone"), "phone", max_length=50),
            Field("website", _l("Website"), "url"),
            Field("source", _l("Source"), "choice", choices=SOURCES, in_list=True, filter=True),
            Field(
                "status",
                _l("Status"),
                "choice",
                choices=STATUSES,
                in_list=True,
                filter=True,
                default="new",
            ),
            Field("rating", _l("Rating"), "choice", choices=RATINGS, in_list=True, filter=True),
            Field("description", _l("Description"), "longtext", max_length=10000, section="more"),
            Field(
                "account_id", _l("Converted to account"), "lookup", target="account", editable=False
            ),
            Field(
                "contact_id", _l("Converted to contact"), "lookup", target="contact", editable=False
            ),
            Field("deal_id", _l("Converted to deal"), "lookup", target="deal", editable=False),
            Field("converted_at", _l("Converted"), "datetime", editable=False, filter=True),
            Field("converted_by", _l("Converted by"), "user", editable=False),
            *(
                replace(f, help=OWNER_HELP) if f.name == "owner_id" else f
                for f in standard_fields()
            ),
        ),
    )
)
