"""Price lists: named sets of product prices a quote can use; one is the default
for new quotes. Admins change them; every change is in the tenant's event log.
Flushes, never commits."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from saas.db import session
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.service import ValidationErrors
from saas.modules.sales.models import PriceList, PriceListItem, Product


def price_lists(active_only: bool = False) -> list[PriceList]:
    stmt = select(PriceList).order_by(PriceList.is_default.desc(), PriceList.name)
    if active_only:
        stmt = stmt.where(PriceList.active.is_(True))
    return list(session().execute(stmt).scalars())


def price_list_options() -> list[tuple[int, str]]:
    """(id, name) of the price lists, for the quote form and its display. Retired
    lists stay listed (marked) so quotes that use them still show and save."""
    return [
        (p.id, p.name if p.active else _("%(name)s (inactive)", name=p.name)) for p in price_lists()
    ]


def default_price_list() -> PriceList | None:
    stmt = select(PriceList).where(PriceList.is_default.is_(True), PriceList.active.is_(True))
    return session().execute(stmt.limit(1)).scalar_one_or_none()


def price_for(price_list_id: int | None, product: Product) -> Decimal:
    """The product's price on the price list, else its list price."""
    if price_list_id is not None:
        price = (
            session()
            .execute(
                select(PriceListItem.price).where(
                    PriceListItem.price_list_id == price_list_id,
                    PriceListItem.product_id == product.id,
                )
            )
            .scalar_one_or_none()
        )
        if price is not None:
            return price
    return product.unit_price


def price_counts() -> dict[int, int]:
    """Price list id -> how many products it prices."""
    stmt = select(PriceListItem.price_list_id, func.count()).group_by(PriceListItem.price_list_id)
    return dict(session().execute(stmt).all())


PRICE_LIST_NAME = Field("name", _l("Name"), required=True, max_length=100)
PRICE = Field("price", _l("Price"), "currency", minimum=Decimal(0))


def _audit(action: str, actor: int | None, **data) -> None:
    from saas.modules.workspace.service import record

    record(action, actor, **data)


def create_price_list(name, currency, *, actor: int | None = None) -> PriceList:
    try:
        name = parse(PRICE_LIST_NAME, name)
    except FieldError as exc:
        raise ValidationErrors({"name": exc}) from None
    from saas.modules.deals.objects import CURRENCIES

    if currency not in dict(CURRENCIES):
        raise ValidationErrors({"currency": _l("Currency: choose one from the list.")})
    taken = select(PriceList.id).where(func.lower(PriceList.name) == name.lower())
    if session().execute(taken).first() is not None:
        raise ValidationErrors(
            {"name": _l("There is already a price list named “%(name)s”.", name=name)}
        )
    price_list = PriceList(name=name, currency=currency, is_default=False, active=True)
    try:
        with session().begin_nested():  # a concurrent twin: the unique name decides
            session().add(price_list)
    except IntegrityError:
        raise ValidationErrors(
            {"name": _l("There is already a price list named “%(name)s”.", name=name)}
        ) from None
    _audit("price_list.created", actor, name=name)
    return price_list


def make_default(price_list: PriceList, *, actor: int | None = None) -> None:
    """The price list new quotes start with (one at a time)."""
    for other in price_lists():
        other.is_default = other.id == price_list.id
    price_list.active = True
    session().flush()
    _audit("price_list.default", actor, name=price_list.name)


def set_active(price_list: PriceList, active: bool, *, actor: int | None = None) -> None:
    if not active and price_list.is_default:
        raise ValidationErrors({"active": _l("Make another price list the default first.")})
    price_list.active = active
    session().flush()
    _audit("price_list.active" if active else "price_list.inactive", actor, name=price_list.name)


def prices(price_list: PriceList) -> dict[int, Decimal]:
    """Product id -> price on this list."""
    stmt = select(PriceListItem.product_id, PriceListItem.price).where(
        PriceListItem.price_list_id == price_list.id
    )
    return dict(session().execute(stmt).all())


def set_prices(price_list: PriceList, raw: Mapping[int, object], *, actor=None) -> int:
    """Set (or, when empty, remove) the list's price of each product id in ``raw``;
    checks every value first and changes nothing if one is wrong. Returns the count."""
    parsed, errors = {}, {}
    for product_id, value in raw.items():
        try:
            parsed[product_id] = parse(PRICE, value)
        except FieldError as exc:
            errors[f"price_{product_id}"] = exc
    if errors:
        raise ValidationErrors(errors)
    known = set(session().execute(select(Product.id).where(Product.id.in_(list(parsed)))).scalars())
    current = {
        item.product_id: item
        for item in session()
        .execute(select(PriceListItem).where(PriceListItem.price_list_id == price_list.id))
        .scalars()
    }
    changed = 0
    for product_id, price in parsed.items():
        item = current.get(product_id)
        if product_id not in known or (item is None and price is None):
            continue
        if price is None:
            session().delete(item)
        elif item is None:
            session().add(
                PriceListItem(price_list_id=price_list.id, product_id=product_id, price=price)
            )
        elif item.price != price:
            item.price = price
        else:
            continue
        changed += 1
    session().flush()
    if changed:
        _audit("price_list.prices", actor, name=price_list.name, changed=changed)
    return changed
