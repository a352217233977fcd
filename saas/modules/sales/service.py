"""Quotes and orders: numbers, price lists, line items and totals. Flushes, never commits.

Line rows are not records of their own: every change to them goes through the
functions here, which lock the document, store the line and document totals
and put the change on the document's timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from saas.db import session
from saas.i18n import tenant_settings
from saas.modules.records import service as records
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.registry import get
from saas.modules.records.service import ValidationErrors
from saas.modules.sales import totals
from saas.modules.sales.models import (
    OrderLine,
    Product,
    Quote,
    QuoteLine,
)
from saas.modules.sales.pricing import default_price_list, price_for

MAX_LINES = 500
LINE_PRICING = ("quantity", "unit_price", "discount_pct", "tax_pct")
MAX_AMOUNT = Decimal(10) ** 12  # MONEY is Numeric(14, 2)
LINE_FIELDS = (
    Field("description", _l("Description"), required=True, max_length=500),
    Field(
        "quantity",
        _l("Quantity"),
        "number",
        required=True,
        places=3,
        maximum=Decimal(999_999_999),
    ),
    Field("unit_price", _l("Unit price"), "currency", required=True, minimum=Decimal(0)),
    Field(
        "discount_pct",
        _l("Discount (%)"),
        "percent",
        places=3,
        minimum=Decimal(0),
        maximum=Decimal(100),
    ),
    Field("tax_pct", _l("Tax (%)"), "percent", places=3, minimum=Decimal(0), maximum=Decimal(100)),
)


def numbered(prefix: str):
    """An after-write hook giving a new document the number ``<prefix>-00042``."""

    def after_write(doc, changes: dict, is_new: bool, actor: int | None) -> None:
        if is_new and not doc.number:
            doc.number = f"{prefix}-{doc.id:05d}"
            session().flush()

    return after_write


def _settings() -> dict:
    if has_request_context():
        return tenant_settings()
    from saas.modules.workspace.service import settings

    return settings()


def _default_currency() -> str:
    return _settings().get("currency") or "USD"


def today() -> date:
    """Today in the tenant's time zone."""
    return datetime.now(ZoneInfo(_settings().get("timezone") or "UTC")).date()


def keep_currency(record, values: dict, is_new: bool) -> None:
    """A currency left empty in a form keeps the record's (new: the tenant's): the
    column cannot be empty, and money without a currency means nothing."""
    if "currency" in values and not values["currency"]:
        values["currency"] = record.currency or _default_currency()
    if is_new and not values.get("currency"):
        values["currency"] = _default_currency()


def product_before_write(product, values: dict, is_new: bool) -> None:
    keep_currency(product, values, is_new)


def document_before_write(doc, values: dict, is_new: bool) -> None:
    """Currency and price list default to the tenant's; a quote is "ordered" only by
    creating its order, and an ordered quote stays ordered."""
    if isinstance(doc, Quote) and is_new and values.get("price_list_id") is None:
        default = default_price_list()
        values["price_list_id"] = default.id if default else None
    keep_currency(doc, values, is_new)
    if isinstance(doc, Quote):
        order_id = values.get("order_id", doc.order_id)
        status = values.get("status", doc.status)
        if status == "ordered" and not order_id:
            raise ValidationErrors({"status": _l("Status: use “Create order” to order a quote.")})
        if order_id and status != "ordered":
            raise ValidationErrors(
                {"status": _l("Status: this quote has been ordered; its status stays Ordered.")}
            )


# -- line items ----------------------------------------------------------------------


def line_model(doc) -> type:
    return QuoteLine if isinstance(doc, Quote) else OrderLine


def lines(doc) -> list:
    model = line_model(doc)
    parent = model.quote_id if model is QuoteLine else model.order_id
    stmt = select(model).where(parent == doc.id).order_by(model.position, model.id)
    return list(session().execute(stmt).scalars())


def lines_editable(doc) -> bool:
    """Quotes until ordered; orders while they are drafts (after that, use returns)."""
    if isinstance(doc, Quote):
        return doc.status != "ordered"
    return doc.status == "draft"


def active_products() -> list[Product]:
    stmt = (
        records.select_records(get("product"))
        .where(Product.active.is_(True))
        .order_by(Product.name)
        .limit(1000)
    )
    return list(session().execute(stmt).scalars())


def _parse_line(raw: Mapping, defaults: Mapping) -> dict:
    """Parsed line values: what ``raw`` gives, else ``defaults``; all errors at once."""
    values, errors = {}, {}
    for f in LINE_FIELDS:
        given = raw.get(f.name)
        value = given if given not in (None, "") else defaults.get(f.name)
        try:
            values[f.name] = parse(f, value if value is not None else "")
        except FieldError as exc:
            errors[f.name] = exc
    if "quantity" not in errors and values["quantity"] <= 0:
        errors["quantity"] = _l("Quantity: use more than 0.")
    for name in ("discount_pct", "tax_pct"):
        if values.get(name) is None and name not in errors:
            values[name] = Decimal(0)
    if errors:
        raise ValidationErrors(errors)
    amounts = totals.line_amounts(**{k: values[k] for k in LINE_PRICING})
    if amounts.total >= MAX_AMOUNT or amounts.gross >= MAX_AMOUNT:
        raise ValidationErrors({"quantity": _l("The line total is too large.")})
    return values


def _product_defaults(doc, raw: Mapping) -> tuple[int | None, dict]:
    product_id = str(raw.get("product_id") or "").strip()
    if not product_id:
        return None, {"quantity": "1"}
    product = records.get_record(get("product"), product_id)
    if product is None or not product.active:
        raise ValidationErrors({"product_id": _l("Product: choose an active product.")})
    price_list_id = doc.price_list_id if isinstance(doc, Quote) else None
    if price_list_id is None:
        default = default_price_list()
        price_list_id = default.id if default else None
    return product.id, {
        "description": product.name,
        "quantity": "1",
        "unit_price": price_for(price_list_id, product),
        "tax_pct": product.tax_rate,
    }


def _lock(doc) -> None:
    """Serialise line changes of one document, so totals always add up its lines."""
    session().refresh(doc, with_for_update=True)


def _check_editable(doc) -> None:
    if not lines_editable(doc):
        if isinstance(doc, Quote):
            raise ValidationErrors({"lines": _l("This quote has been ordered: change the order.")})
        raise ValidationErrors(
            {"lines": _l("Lines can be changed while the order is a draft only.")}
        )


def add_line(doc, raw: Mapping, *, actor: int | None = None):
    """A new line on a quote or order, priced from the product unless given."""
    _lock(doc)
    _check_editable(doc)
    product_id, defaults = _product_defaults(doc, raw)
    values = _parse_line(raw, defaults)
    existing = lines(doc)
    if len(existing) >= MAX_LINES:
        raise ValidationErrors({"lines": _l("A document holds at most %(n)d lines.", n=MAX_LINES)})
    model = line_model(doc)
    line = model(product_id=product_id, position=len(existing), **values)
    setattr(line, "quote_id" if model is QuoteLine else "order_id", doc.id)
    totals.apply(line)
    session().add(line)
    session().flush()
    _store_totals(doc, [*existing, line], actor, "line_added", line.description)
    return line


def _line(doc, line_id) -> object:
    for line in lines(doc):
        if str(line.id) == str(line_id):
            return line
    raise ValidationErrors({"lines": _l("That line does not exist any more.")})


def update_line(doc, line_id, raw: Mapping, *, actor: int | None = None):
    """Change a line's description, quantity, price, discount or tax."""
    _lock(doc)
    _check_editable(doc)
    line = _line(doc, line_id)
    current = {f.name: getattr(line, f.name) for f in LINE_FIELDS}
    # A field sent empty is cleared (discount, tax) or refused (quantity, price).
    given = {f.name: raw[f.name] for f in LINE_FIELDS if f.name in raw}
    values = _parse_line(
        given, {k: v for k, v in current.items() if k not in given or k == "description"}
    )
    for name, value in values.items():
        setattr(line, name, value)
    totals.apply(line)
    session().flush()
    _store_totals(doc, lines(doc), actor, "line_changed", line.description)
    return line


def remove_line(doc, line_id, *, actor: int | None = None) -> None:
    _lock(doc)
    _check_editable(doc)
    line = _line(doc, line_id)
    session().delete(line)
    session().flush()
    _store_totals(doc, lines(doc), actor, "line_removed", line.description)


def set_totals(doc, rows: list) -> totals.DocumentTotals:
    """Store the document's totals from ``rows``, its lines."""
    result = totals.document_totals(
        totals.line_amounts(r.quantity, r.unit_price, r.discount_pct, r.tax_pct) for r in rows
    )
    if result.subtotal >= MAX_AMOUNT or result.total >= MAX_AMOUNT:
        raise ValidationErrors({"lines": _l("The document total is too large.")})
    doc.subtotal, doc.discount_total = result.subtotal, result.discount_total
    doc.tax_total, doc.total = result.tax_total, result.total
    return result


def _store_totals(doc, rows: list, actor, kind: str, text: str) -> None:
    result = set_totals(doc, rows)
    doc.updated_at = func.now()
    session().flush()
    records.note_event(doc, kind, actor, text=text, total=result.total)
