"""The product, quote and order object types."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l

from saas.modules.deals.objects import CURRENCIES
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, Related, register, standard_fields
from saas.modules.sales.models import Order, Product, Quote
from saas.modules.sales.pricing import price_list_options
from saas.modules.sales.service import document_before_write, numbered, product_before_write

QUOTE_STATUSES = (
    ("draft", _l("Draft")), ("sent", _l("Sent")), ("accepted", _l("Accepted")),
    ("rejected", _l("Rejected")), ("expired", _l("Expired")), ("ordered", _l("Ordered")),
)  # fmt: skip
ORDER_STATUSES = (
    ("draft", _l("Draft")), ("confirmed", _l("Confirmed")), ("shipped", _l("Shipped")),
    ("delivered", _l("Delivered")), ("partially_returned", _l("Partially returned")),
    ("returned", _l("Returned")), ("cancelled", _l("Cancelled")),
)  # fmt: skip


def _document_title(doc) -> str:
    return " ".join(p for p in (doc.number, doc.subject) if p) or f"#{doc.id}"


def _parties() -> tuple[Field, ...]:
    """What quotes and orders both start with: their number, subject and customer."""
    return (
        Field("number", _l("Number"), max_length=30, editable=False, in_list=True),
        Field("subject", _l("Subject"), required=True, in_list=True),
        Field("account_id", _l("Account"), "lookup", target="account", in_list=True, filter=True),
        Field("contact_id", _l("Contact"), "lookup", target="contact"),
    )


def _totals() -> tuple[Field, ...]:
    return (
        Field("subtotal", _l("Subtotal"), "currency", editable=False),
        Field("discount_total", _l("Discount"), "currency", editable=False),
        Field("tax_total", _l("Tax"), "currency", editable=False),
        Field("total", _l("Total"), "currency", editable=False, in_list=True, filter=True),
    )


product = register(
    ObjectType(
        name="product",
        model=Product,
        label=_l("Product"),
        plural=_l("Products"),
        slug="products",
        before_write=product_before_write,
        title=lambda p: p.name,
        search_fields=("name", "code", "category"),
        default_sort="name",
        standard=(
            Field("name", _l("Name"), required=True, in_list=True),
            Field("code", _l("Product code"), max_length=60, in_list=True),
            Field("category", _l("Category"), max_length=100, in_list=True, filter=True),
            Field("unit", _l("Unit"), max_length=20),
            Field(
                "unit_price",
                _l("List price"),
                "currency",
                required=True,
                in_list=True,
                minimum=Decimal(0),
            ),
            Field("currency", _l("Currency"), "choice", choices=CURRENCIES),
            Field(
                "tax_rate",
                _l("Tax rate (%)"),
                "percent",
                minimum=Decimal(0),
                maximum=Decimal(100),
                places=3,
            ),
            Field("active", _l("Active"), "bool", in_list=True, filter=True, default=True),
            Field("description", _l("Description"), "longtext", max_length=10000),
            *standard_fields(),
        ),
        related=(Related("licence", "product_id", _l("Licences")),),
        views=((_l("Price lists"), "tenant.sales.price_lists"),),
    )
)

quote = register(
    ObjectType(
        name="quote",
        model=Quote,
        label=_l("Quote"),
        plural=_l("Quotes"),
        slug="quotes",
        before_write=document_before_write,
        after_write=numbered("Q"),
        detail_template="sales/_lines.html",
        actions_template="sales/_quote_actions.html",
        title=_document_title,
        search_fields=("number", "subject"),
        standard=(
            *_parties(),
            Field("deal_id", _l("Deal"), "lookup", target="deal"),
            Field(
                "status",
                _l("Status"),
                "choice",
                choices=QUOTE_STATUSES,
                in_list=True,
                filter=True,
                default="draft",
            ),
            Field("valid_until", _l("Valid until"), "date", in_list=True, filter=True),
            Field("currency", _l("Currency"), "choice", choices=CURRENCIES),
            Field(
                "price_list_id",
                _l("Price list"),
                "integer",
                filter=True,
                options=price_list_options,
                help=_l("New lines take their prices from this list."),
            ),
            Field("order_id", _l("Order"), "lookup", target="order", editable=False),
            *_totals(),
            Field("notes", _l("Terms and notes"), "longtext", max_length=20000),
            *standard_fields(),
        ),
    )
)

order = register(
    ObjectType(
        name="order",
        model=Order,
        label=_l("Order"),
        plural=_l("Orders"),
        slug="orders",
        before_write=document_before_write,
        after_write=numbered("SO"),
        detail_template="sales/_order.html",
        actions_template="sales/_order_actions.html",
        title=_document_title,
        search_fields=("number", "subject"),
        standard=(
            *_parties(),
            Field("quote_id", _l("Quote"), "lookup", target="quote", editable=False),
            Field(
                "status",
                _l("Status"),
                "choice",
                choices=ORDER_STATUSES,
                in_list=True,
                filter=True,
                default="draft",
                editable=False,  # changed by the order's actions, which keep it consistent
            ),
            Field("ordered_on", _l("Ordered on"), "date", in_list=True, filter=True),
            Field("shipped_on", _l("Shipped on"), "date", filter=True, editable=False),
            Field("delivered_on", _l("Delivered on"), "date", filter=True, editable=False),
            Field("currency", _l("Currency"), "choice", choices=CURRENCIES),
            *_totals(),
            Field("refunded_total", _l("Refunded"), "currency", editable=False),
            Field("notes", _l("Notes"), "longtext", max_length=20000),
            *standard_fields(),
        ),
    )
)
