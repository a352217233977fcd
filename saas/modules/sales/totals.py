"""Line and document totals of quotes and orders, in ``Decimal``.

Each line is rounded half-up to cents on its own (net first, then tax on the
rounded net), and a document adds up its rounded lines: the printed lines
always add up to the printed total, which is what customers check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    gross: Decimal  # quantity × unit price, before the discount
    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class DocumentTotals:
    subtotal: Decimal  # the lines before discounts
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal


def line_amounts(quantity, unit_price, discount_pct=0, tax_pct=0) -> LineAmounts:
    """net = qty × price × (1 − discount %), tax = net × tax %, each rounded to cents."""
    quantity, unit_price = Decimal(quantity), Decimal(unit_price)
    discount_pct, tax_pct = Decimal(discount_pct or 0), Decimal(tax_pct or 0)
    gross = cents(quantity * unit_price)
    net = cents(quantity * unit_price * (1 - discount_pct / HUNDRED))
    tax = cents(net * tax_pct / HUNDRED)
    return LineAmounts(gross=gross, discount=gross - net, net=net, tax=tax, total=net + tax)


def document_totals(lines: Iterable[LineAmounts]) -> DocumentTotals:
    subtotal = discount = tax = total = ZERO
    for line in lines:
        subtotal += line.gross
        discount += line.discount
        tax += line.tax
        total += line.total
    return DocumentTotals(subtotal=subtotal, discount_total=discount, tax_total=tax, total=total)


def apply(line) -> LineAmounts:
    """Compute a line row's amounts from its quantity, price, discount and tax; store them."""
    amounts = line_amounts(line.quantity, line.unit_price, line.discount_pct, line.tax_pct)
    line.net, line.tax, line.total = amounts.net, amounts.tax, amounts.total
    return amounts
