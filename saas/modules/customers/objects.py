"""The account and contact object types."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from saas.modules.customers.models import Account, Contact
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, Related, register, standard_fields

INDUSTRIES = (
    ("software", _l("Software")), ("manufacturing", _l("Manufacturing")),
    ("retail", _l("Retail")), ("wholesale", _l("Wholesale")), ("services", _l("Services")),
    ("finance", _l("Finance")), ("healthcare", _l("Healthcare")),
    ("education", _l("Education")), ("logistics", _l("Logistics")),
    ("construction", _l("Construction")), ("food", _l("Food & beverage")),
    ("other", _l("Other")),
)  # fmt: skip
SIZES = (
    ("1-10", "1–10"), ("11-50", "11–50"), ("51-200", "51–200"),
    ("201-1000", "201–1,000"), ("1000+", "1,000+"),
)  # fmt: skip
LIFECYCLE = (
    ("prospect", _l("Prospect")), ("customer", _l("Customer")), ("partner", _l("Partner")),
    ("former", _l("Former customer")),
)  # fmt: skip


def domain_of(website: str | None) -> str | None:
    if not website:
        return None
    host = (urlsplit(website if "://" in website else "https://" + website).hostname or "").lower()
    return host.removeprefix("www.") or None


def _account_before_write(record, values, is_new) -> None:
    if "website" in values:
        values["domain"] = domain_of(values["website"])


def _contact_title(c: Contact) -> str:
    return c.full_name


account = register(
    ObjectType(
        name="account",
        model=Account,
        label=_l("Account"),
        plural=_l("Accounts"),
        slug="accounts",
        title=lambda a: a.name,
        search_fields=("name", "website", "phone", "city", "region", "country"),
        default_sort="name",
        before_write=_account_before_write,
        standard=(
            Field("name", _l("Name"), required=True, in_list=True),
            Field(
                "industry", _l("Industry"), "choice", choices=INDUSTRIES, in_list=True, filter=True
            ),
            Field("size", _l("Size"), "choice", choices=SIZES, filter=True),
            Field("region", _l("Region"), in_list=True, filter=True, max_length=100),
            Field(
                "lifecycle_stage",
                _l("Lifecycle stage"),
                "choice",
                choices=LIFECYCLE,
                in_list=True,
                filter=True,
            ),
            Field("key_account", _l("Key account"), "bool", filter=True),
            Field("parent_id", _l("Parent account"), "lookup", target="account"),
            Field("website", _l("Website"), "url"),
            Field("phone", _l("Phone"), "phone", max_length=50),
            Field("street", _l("Street"), section="address"),
            Field("city", _l("City"), section="address", max_length=100, in_list=True),
            Field("state", _l("State / province"), section="address", max_length=100),
            Field("postal_code", _l("Postal code"), section="address", max_length=20),
            Field("country", _l("Country"), section="address", max_length=100, filter=True),
            Field("description", _l("Description"), "longtext", max_length=10000, section="more"),
            *standard_fields(),
        ),
        related=(
            Related("contact", "account_id", _l("Contacts")),
            Related("deal", "account_id", _l("Deals")),
            Related("quote", "account_id", _l("Quotes")),
            Related("order", "account_id", _l("Orders")),
            Related("contract", "account_id", _l("Contracts")),
            Related("licence", "account_id", _l("Licences")),
            Related("account", "parent_id", _l("Subsidiaries")),
        ),
    )
)

contact = register(
    ObjectType(
        name="contact",
        model=Contact,
        label=_l("Contact"),
        plural=_l("Contacts"),
        title_fields=("first_name", "last_name"),
        slug="contacts",
        title=_contact_title,
        search_fields=("last_name", "first_name", "email", "phone", "mobile", "title", "city"),
        default_sort="last_name",
        standard=(
            Field("first_name", _l("First name"), max_length=100, in_list=True),
            Field("last_name", _l("Last name"), required=True, max_length=100, in_list=True),
            Field(
                "account_id", _l("Account"), "lookup", target="account", in_list=True, filter=True
            ),
            Field("title", _l("Job title"), max_length=100),
            Field("email", _l("E-mail"), "email", max_length=254, in_list=True),
            Field("phone", _l("Phone"), "phone", max_length=50, in_list=True),
            Field("mobile", _l("Mobile"), "phone", max_length=50),
            Field("birthday", _l("Birthday"), "date", filter=True, section="care"),
            Field("customer_since", _l("Customer since"), "date", filter=True, section="care"),
            Field("city", _l("City"), max_length=100, section="address"),
            Field("country", _l("Country"), max_length=100, section="address", filter=True),
            Field("description", _l("Description"), "longtext", max_length=10000, section="more"),
            *standard_fields(),
        ),
        related=(
            Related("deal", "contact_id", _l("Deals")),
            Related("quote", "contact_id", _l("Quotes")),
        ),
    )
)
