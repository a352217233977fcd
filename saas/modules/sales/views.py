"""Pages of the sales module beyond the generic record pages: line items of quotes
and orders, quote to order, order status and returns, price lists."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from saas.db import session
from saas.modules.deals.objects import CURRENCIES
from saas.modules.records.registry import get
from saas.modules.records.service import ValidationErrors
from saas.modules.records.views import record_or_404, record_url
from saas.modules.sales import orders, pricing, service
from saas.modules.sales.models import PriceList
from saas.tenants.context import role_required

bp = Blueprint("sales", __name__)
DOCS = {"quotes": "quote", "orders": "order"}


def attempt(fn, *args, **kwargs) -> tuple[bool, object]:
    """Run a service call in a savepoint: (True, its result), or on ValidationErrors
    (False, None) with its writes undone and the reasons flashed."""
    try:
        with session().begin_nested():
            return True, fn(*args, **kwargs)
    except ValidationErrors as exc:
        for message in exc.errors.values():
            flash(message, "error")
        return False, None


def _both(rule: str, **options):
    """Register a view for quotes and orders alike: ``/quotes/<id>…`` and ``/orders/<id>…``."""

    def decorate(view):
        for docs in DOCS:
            bp.add_url_rule(
                f"/{docs}/<int:doc_id>{rule}", view_func=view, defaults={"docs": docs}, **options
            )
        return view

    return decorate


def _document(docs: str, doc_id: int):
    otype = get(DOCS[docs])
    return otype, record_or_404(otype, doc_id)


@bp.app_template_filter("plain_number")
def plain_number(value) -> str:
    """A number as an input takes it back whatever the language: ``2.5``, not ``2,5``."""
    return "" if value is None else format(Decimal(value).normalize(), "f")


@bp.app_template_global()
def sales_panel(doc) -> dict:
    """What a quote's or order's page shows besides its fields: lines, returns, actions."""
    panel = {
        "docs": "quotes" if doc.__tablename__ == "quotes" else "orders",
        "lines": service.lines(doc),
        "editable": service.lines_editable(doc),
        "fields": {f.name: f for f in service.LINE_FIELDS},
    }
    if panel["editable"]:
        panel["products"] = service.active_products()
    if panel["docs"] == "orders":
        panel["returns"] = orders.returns(doc)
        panel["returnable"] = doc.status in orders.RETURNABLE
        panel["transitions"] = [
            a for a, (starts, *_) in orders.TRANSITIONS.items() if doc.status in starts
        ]
        panel["today"] = service.today()
    else:
        panel["can_order"] = orders.can_order(doc)
    return panel


# -- line items -------------------------------------------------------------------------


@_both("/lines", methods=["POST"])
def add_line(docs: str, doc_id: int):
    otype, doc = _document(docs, doc_id)
    if attempt(service.add_line, doc, request.form, actor=current_user.id)[0]:
        flash(_("Line added."), "success")
    return redirect(record_url(otype, doc.id) + "#lines")


@_both("/lines/<int:line_id>", methods=["POST"])
def update_line(docs: str, doc_id: int, line_id: int):
    otype, doc = _document(docs, doc_id)
    if attempt(service.update_line, doc, line_id, request.form, actor=current_user.id)[0]:
        flash(_("Line saved."), "success")
    return redirect(record_url(otype, doc.id) + "#lines")


@_both("/lines/<int:line_id>/delete", methods=["POST"])
def remove_line(docs: str, doc_id: int, line_id: int):
    otype, doc = _document(docs, doc_id)
    if attempt(service.remove_line, doc, line_id, actor=current_user.id)[0]:
        flash(_("Line removed."), "success")
    return redirect(record_url(otype, doc.id) + "#lines")


# -- quote to order, order status, returns ------------------------------------------------


@bp.route("/quotes/<int:quote_id>/order", methods=["POST"])
def create_order(quote_id: int):
    quote = record_or_404(get("quote"), quote_id)
    done, order = attempt(orders.create_order, quote, actor=current_user.id)
    if done:
        flash(_("Order %(number)s created from the quote.", number=order.number), "success")
        return redirect(record_url("order", order.id))
    return redirect(record_url("quote", quote.id))


@bp.route("/orders/<int:order_id>/status", methods=["POST"])
def order_status(order_id: int):
    order = record_or_404(get("order"), order_id)
    action = request.form.get("action", "")
    on = request.form.get("on")
    if attempt(orders.change_status, order, action, on=on, actor=current_user.id)[0]:
        status = get("order").field("status").choice_label(order.status)
        flash(_("Order status: %(status)s.", status=status), "success")
    return redirect(record_url("order", order.id))


@bp.route("/orders/<int:order_id>/returns", methods=["POST"])
def order_return(order_id: int):
    order = record_or_404(get("order"), order_id)
    if attempt(orders.record_return, order, request.form, actor=current_user.id)[0]:
        flash(_("Return recorded."), "success")
    return redirect(record_url("order", order.id) + "#returns")


# -- price lists ---------------------------------------------------------------------------


def _price_list_or_404(price_list_id: int) -> PriceList:
    return session().get(PriceList, price_list_id) or abort(404)


@bp.route("/price-lists/")
def price_lists():
    return render_template(
        "sales/price_lists.html",
        price_lists=pricing.price_lists(),
        counts=pricing.price_counts(),
        currencies=CURRENCIES,
    )


@bp.route("/price-lists/", methods=["POST"])
@role_required("admin")
def create_price_list():
    name, currency = request.form.get("name", ""), request.form.get("currency", "")
    done, made = attempt(pricing.create_price_list, name, currency, actor=current_user.id)
    if done:
        flash(_("Price list “%(name)s” created.", name=made.name), "success")
        return redirect(url_for(".price_list", price_list_id=made.id))
    return redirect(url_for(".price_lists"))


@bp.route("/price-lists/<int:price_list_id>")
def price_list(price_list_id: int):
    price_list = _price_list_or_404(price_list_id)
    products = service.active_products()
    return render_template(
        "sales/price_list.html",
        price_list=price_list,
        products=products,
        prices=pricing.prices(price_list),
    )


@bp.route("/price-lists/<int:price_list_id>", methods=["POST"])
@role_required("admin")
def set_prices(price_list_id: int):
    price_list = _price_list_or_404(price_list_id)
    raw = {
        int(key.removeprefix("price_")): value
        for key, value in request.form.items()
        if key.startswith("price_") and key.removeprefix("price_").isdigit()
    }
    done, changed = attempt(pricing.set_prices, price_list, raw, actor=current_user.id)
    if done:
        flash(_("%(n)d prices changed.", n=changed), "success")
    return redirect(url_for(".price_list", price_list_id=price_list.id))


@bp.route("/price-lists/<int:price_list_id>/default", methods=["POST"])
@role_required("admin")
def make_default(price_list_id: int):
    price_list = _price_list_or_404(price_list_id)
    if attempt(pricing.make_default, price_list, actor=current_user.id)[0]:
        flash(_("New quotes now use “%(name)s”.", name=price_list.name), "success")
    return redirect(url_for(".price_lists"))


@bp.route("/price-lists/<int:price_list_id>/active", methods=["POST"])
@role_required("admin")
def set_active(price_list_id: int):
    price_list = _price_list_or_404(price_list_id)
    active = request.form.get("active") == "1"
    if attempt(pricing.set_active, price_list, active, actor=current_user.id)[0]:
        flash(_("Saved."), "success")
    return redirect(url_for(".price_lists"))
