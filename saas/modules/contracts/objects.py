"""The contract and licence object types."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from saas.modules.contracts import service
from saas.modules.contracts.models import Contract, Licence
from saas.modules.deals.objects import CURRENCIES
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, Related, register, standard_fields

CONTRACT_STATUSES = (
    ("draft", _l("Draft")), ("active", _l("Active")), ("expired", _l("Expired")),
    ("terminated", _l("Terminated")), ("renewed", _l("Renewed")),
)  # fmt: skip
LICENCE_STATUSES = (
    ("active", _l("Active")), ("suspended", _l("Suspended")), ("expired", _l("Expired")),
    ("revoked", _l("Revoked")),
)  # fmt: skip

contract = register(
    ObjectType(
        name="contract",
        model=Contract,
        label=_l("Contract"),
        plural=_l("Contracts"),
        slug="contracts",
        title=lambda c: f"{c.number} {c.name}".strip() if c.number else c.name,
        search_fields=("name", "number"),
        before_write=service.contract_before_write,
        after_write=service.contract_after_write,
        detail_template="contracts/_contract.html",
        actions_template="contracts/_contract_actions.html",
        default_sort="end_date",
        standard=(
            Field("name", _l("Name"), required=True, in_list=True),
            Field("number", _l("Number"), max_length=30, editable=False, in_list=True),
            Field(
                "account_id", _l("Account"), "lookup", target="account", in_list=True, filter=True
            ),
            Field("contact_id", _l("Contact"), "lookup", target="contact"),
            Field(
                "status",
                _l("Status"),
                "choice",
                choices=CONTRACT_STATUSES,
                in_list=True,
                filter=True,
                default="draft",
            ),
            Field("start_date", _l("Start"), "date", in_list=True, filter=True),
            Field("end_date", _l("End"), "date", in_list=True, filter=True),
            Field("value", _l("Value"), "currency", in_list=True),
            Field("currency", _l("Currency"), "choice", choices=CURRENCIES),
            Field(
                "renewal_notice_days",
                _l("Renewal reminder (days before end)"),
                "integer",
                minimum=0,
                maximum=365,
                default=30,
            ),
            Field("renewal_reminded_at", _l("Renewal reminder sent"), "datetime", editable=False),
            Field("terms", _l("Terms"), "longtext", max_length=20000, section="more"),
            *standard_fields(),
        ),
        related=(Related("licence", "contract_id", _l("Licences")),),
    )
)

licence = register(
    ObjectType(
        name="licence",
        model=Licence,
        label=_l("Licence"),
        plural=_l("Licences"),
        slug="licences",
        title=lambda lic: lic.key,
        search_fields=("key",),
        before_write=service.licence_before_write,
        detail_template="contracts/_licence.html",
        default_sort="expires_on",
        standard=(
            Field("key", _l("Licence key"), max_length=64, editable=False, in_list=True),
            Field(
                "account_id",
                _l("Customer"),
                "lookup",
                target="account",
                required=True,
                in_list=True,
                filter=True,
            ),
            Field(
                "product_id",
                _l("Product"),
                "lookup",
                target="product",
                required=True,
                in_list=True,
                filter=True,
            ),
            Field("contract_id", _l("Contract"), "lookup", target="contract", filter=True),
            Field(
                "seats", _l("Seats"), "integer", required=True, minimum=1, in_list=True, default=1
            ),
            Field("expires_on", _l("Expires"), "date", in_list=True, filter=True),
            Field(
                "status",
                _l("Status"),
                "choice",
                choices=LICENCE_STATUSES,
                in_list=True,
                filter=True,
                default="active",
                editable=False,  # suspend / revoke / extend are actions, on the timeline
            ),
            Field("notes", _l("Notes"), "longtext", max_length=10000),
            *standard_fields(),
        ),
    )
)
