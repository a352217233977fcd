"""Quote to order, an order's status from draft to delivered, and returns.
Flushes, never commits.

The order's status and dates change only through here (the form does not offer
them), so an order never jumps from draft to delivered or back from cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from saas.db import session
from saas.modules.records import service as records
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.registry import get
from saas.modules.records.service import ValidationErrors
from saas.modules.sales import service, totals
from saas.modules.sales.models import OrderLine, OrderReturn

ORDERABLE = {"draft", "sent", "accepted"}
RETURNABLE = {"delivered", "partially_returned"}  # after delivery, so it stays on record
# action: (statuses it may start from, status it leads to, why not otherwise)
TRANSITIONS = {
    "confirm": ({"draft"}, "confirmed", _l("Only a draft order can be confirmed.")),
    "ship": ({"confirmed"}, "shipped", _l("Only a confirmed order can be shipped.")),
    "deliver": ({"shipped"}, "delivered", _l("Only a shipped order can be marked delivered.")),
    "cancel": (
        {"draft", "confirmed"},
        "cancelled",
        _l("Only a draft or confirmed order can be cancelled; record a return instead."),
    ),
}
DAY = Field("on", _l("Date"), "date")
RETURN_QUANTITY = Field("quantity", _l("Quantity"), "number", required=True, places=3)
REFUND = Field("refund", _l("Refund"), "currency", minimum=Decimal(0))
REASON = Field("reason", _l("Reason"), max_length=500)


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def can_order(quote) -> bool:
    return quote.order_id is None and quote.status in ORDERABLE


def create_order(quote, *, actor: int | None = None):
    """A new draft order with the quote's lines and totals; the quote becomes "ordered"."""
    session().refresh(quote, with_for_update=True)  # two clicks make one order
    if quote.order_id is not None:
        raise ValidationErrors({"quote": _l("This quote has already been ordered.")})
    if quote.status not in ORDERABLE:
        raise ValidationErrors(
            {"quote": _l("Only a draft, sent or accepted quote can be ordered.")}
        )
    quote_lines = service.lines(quote)
    if not quote_lines:
        raise ValidationErrors({"quote": _l("Add at least one line before ordering.")})
    order = records.create(
        get("order"),
        {
            "subject": quote.subject,
            "account_id": quote.account_id,
            "contact_id": quote.contact_id,
            "deal_id": quote.deal_id,
            "quote_id": quote.id,
            "currency": quote.currency,
            "notes": quote.notes,
            "owner_id": quote.owner_id or actor,
            "status": "draft",
        },
        actor=actor,
        trusted=True,
    )
    copied = []
    for ql in quote_lines:
        line = OrderLine(order_id=order.id, product_id=ql.product_id, position=ql.position)
        for name in ("description", "quantity", "unit_price", "discount_pct", "tax_pct"):
            setattr(line, name, getattr(ql, name))
        totals.apply(line)
        session().add(line)
        copied.append(line)
    service.set_totals(order, copied)
    quote.order_id = order.id
    records.update(get("quote"), quote, {"status": "ordered"}, actor=actor, trusted=True)
    records.note_event(quote, "ordered", actor, text=order.number, order_id=order.id)
    records.note_event(order, "from_quote", actor, text=quote.number, quote_id=quote.id)
    session().flush()
    return order


def change_status(order, action: str, *, on=None, actor: int | None = None) -> dict:
    """Confirm, ship (on a date), deliver (on a date) or cancel an order."""
    if action not in TRANSITIONS:
        raise ValidationErrors({"status": _l("Choose what to do with the order.")})
    session().refresh(order, with_for_update=True)
    starts, target, refusal = TRANSITIONS[action]
    if order.status not in starts:
        raise ValidationErrors({"status": refusal})
    try:
        day = parse(DAY, on) or service.today()
    except FieldError as exc:
        raise ValidationErrors({"on": exc}) from None
    values: dict = {"status": target}
    if action == "confirm":
        if not service.lines(order):
            raise ValidationErrors({"status": _l("Add at least one line before confirming.")})
        values["ordered_on"] = order.ordered_on or day
    elif action == "ship":
        values["shipped_on"] = day
    elif action == "deliver":
        if order.shipped_on and day < order.shipped_on:
            raise ValidationErrors({"on": _l("The delivery date cannot be before shipping.")})
        values["delivered_on"] = day
    return records.update(get("order"), order, values, actor=actor, trusted=True)


def returns(order) -> list[OrderReturn]:
    stmt = select(OrderReturn).where(OrderReturn.order_id == order.id).order_by(OrderReturn.id)
    return list(session().execute(stmt).scalars())


def refunded_by_line(order) -> dict[int, Decimal]:
    stmt = (
        select(OrderReturn.order_line_id, func.sum(OrderReturn.refund))
        .where(OrderReturn.order_id == order.id)
        .group_by(OrderReturn.order_line_id)
    )
    return dict(session().execute(stmt).all())


def default_refund(line, quantity: Decimal, refunded: Decimal) -> Decimal:
    """The line's price per unit, taxes and discount included, times ``quantity``;
    the last unit back refunds exactly what is left, so cents never go missing."""
    if quantity >= line.quantity - line.returned_quantity:
        return line.total - refunded
    return totals.cents(line.total / line.quantity * quantity)


def record_return(order, raw: Mapping, *, actor: int | None = None) -> OrderReturn:
    """Goods sent back against one line: quantity, reason and refund; updates the
    order's refunded total and status (partially returned or returned)."""
    session().refresh(order, with_for_update=True)
    if order.status not in RETURNABLE:
        raise ValidationErrors(
            {"status": _l("Returns can be recorded once the order has been delivered.")}
        )
    order_lines = service.lines(order)
    line = next((ln for ln in order_lines if str(ln.id) == str(raw.get("order_line_id"))), None)
    if line is None:
        raise ValidationErrors({"order_line_id": _l("Choose the line being returned.")})
    errors = {}
    values = {}
    for f in (RETURN_QUANTITY, REFUND, REASON):
        try:
            values[f.name] = parse(f, raw.get(f.name, ""))
        except FieldError as exc:
            errors[f.name] = exc
    if errors:
        raise ValidationErrors(errors)
    quantity, left = values["quantity"], line.quantity - line.returned_quantity
    if quantity <= 0 or quantity > left:
        raise ValidationErrors(
            {
                "quantity": _l(
                    "Quantity: return more than 0 and at most %(n)s of this line.", n=_qty(left)
                )
            }
        )
    refunded = refunded_by_line(order).get(line.id, Decimal(0))
    refund = values["refund"]
    if refund is None:
        refund = default_refund(line, quantity, refunded)
    if refund > line.total - refunded:
        raise ValidationErrors(
            {
                "refund": _l(
                    "Refund: at most %(n)s is left to refund on this line.", n=line.total - refunded
                )
            }
        )
    entry = OrderReturn(
        order_id=order.id,
        order_line_id=line.id,
        quantity=quantity,
        refund=refund,
        reason=values["reason"],
        user_id=actor,
    )
    session().add(entry)
    line.returned_quantity = line.returned_quantity + quantity
    everything_back = all(ln.returned_quantity >= ln.quantity for ln in order_lines)
    records.update(
        get("order"),
        order,
        {
            "status": "returned" if everything_back else "partially_returned",
            "refunded_total": order.refunded_total + refund,
        },
        actor=actor,
        trusted=True,
    )
    records.note_event(
        order,
        "returned",
        actor,
        text=f"{line.description} × {_qty(quantity)}",
        refund=refund,
        reason=values["reason"],
    )
    return entry
