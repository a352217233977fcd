"""Products, price lists, quotes with line items, quote to order, order status and returns."""

import re
from decimal import Decimal

from sqlalchemy import select

from saas.db import db, session
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.sales import orders, service, totals
from saas.modules.sales.models import Order, OrderLine, PriceList, Quote, QuoteLine
from tests.conftest import login, post, signup
from tests.factories import add_member, make, tenant_ref, user_id

D = Decimal


def _page(client, url) -> str:
    return client.get(url, follow_redirects=True).get_data(as_text=True)


def _id_from(resp) -> int:
    return int(resp.headers["Location"].rstrip("/").split("#")[0].split("/")[-1])


def _quote(slug) -> Quote:
    with db.scope(tenant_ref(slug)):
        return session().execute(select(Quote).order_by(Quote.id.desc()).limit(1)).scalar_one()


def _load(slug, model, record_id):
    with db.scope(tenant_ref(slug)) as s:
        record = s.get(model, record_id)
        s.expunge(record)
        return record


def _lines(slug, model, parent: str, parent_id: int) -> list:
    with db.scope(tenant_ref(slug)) as s:
        rows = list(
            s.execute(
                select(model).where(getattr(model, parent) == parent_id).order_by(model.position)
            ).scalars()
        )
        s.expunge_all()
        return rows


# -- totals ------------------------------------------------------------------------------


def test_line_math_rounds_each_line_half_up_to_cents():
    line = totals.line_amounts(D("3"), D("19.99"), D("10"), D("8.25"))
    # 3 × 19.99 = 59.97; −10 % = 53.973 -> 53.97; tax 8.25 % of 53.97 = 4.452525 -> 4.45
    assert (line.gross, line.discount, line.net, line.tax, line.total) == (
        D("59.97"),
        D("6.00"),
        D("53.97"),
        D("4.45"),
        D("58.42"),
    )
    # Half a cent rounds up, not to even: 0.125 -> 0.13 (banker's rounding would give 0.12).
    assert totals.line_amounts(D("1"), D("0.125") * 2, D("50"), D("0")).net == D("0.13")
    assert totals.line_amounts(D("1"), D("10.00"), D("0"), D("1.25")).tax == D("0.13")
    doc = totals.document_totals(
        [
            line,
            totals.line_amounts(D("2.5"), D("4.00"), D("0"), D("20")),  # 10.00 + 2.00
            totals.line_amounts(D("1"), D("100"), D("100"), D("20")),  # free: 0 + 0
        ]
    )
    assert doc.subtotal == D("59.97") + D("10.00") + D("100.00")
    assert doc.discount_total == D("6.00") + D("100.00")
    assert doc.tax_total == D("4.45") + D("2.00")
    assert doc.total == D("58.42") + D("12.00")
    assert doc.total == doc.subtotal - doc.discount_total + doc.tax_total


# -- quote lines through the pages ----------------------------------------------------------


def test_quote_lines_price_from_product_and_price_list_and_totals(client):
    slug, email = signup(client)
    actor = user_id(email)
    widget = make(slug, "product", actor, name="Widget", unit_price="100", tax_rate="20")
    gadget = make(slug, "product", actor, name="Gadget", unit_price="50", tax_rate="10")
    # The default price list ("Standard") has a special price for the widget.
    page = _page(client, f"/app/{slug}/price-lists/")
    standard = int(re.search(r"/price-lists/(\d+)\">Standard<", page).group(1))
    resp = post(
        client,
        f"/app/{slug}/price-lists/{standard}",
        {f"price_{widget}": "80", f"price_{gadget}": ""},
    )
    assert resp.status_code == 302
    assert "1 prices changed" in _page(client, f"/app/{slug}/price-lists/{standard}")

    resp = post(client, f"/app/{slug}/quotes/new", {"subject": "Spring order"})
    assert resp.status_code == 302
    quote_id = _id_from(resp)
    quote = _load(slug, Quote, quote_id)
    assert quote.number == f"Q-{quote_id:05d}" and quote.price_list_id == standard

    url = f"/app/{slug}/quotes/{quote_id}/lines"
    assert (
        post(client, url, {"product_id": widget, "quantity": "3", "discount_pct": "10"}).status_code
        == 302
    )
    post(client, url, {"product_id": gadget, "quantity": "2"})
    post(client, url, {"description": "Installation", "quantity": "1.5", "unit_price": "33.33"})
    lines = _lines(slug, QuoteLine, "quote_id", quote_id)
    assert [(ln.description, ln.unit_price, ln.tax_pct) for ln in lines] == [
        ("Widget", D("80.00"), D("20.000")),  # price list price, product's tax rate
        ("Gadget", D("50.00"), D("10.000")),  # not on the list: list price
        ("Installation", D("33.33"), D("0.000")),
    ]
    # 3 × 80 −10 % = 216.00 + 43.20 tax; 2 × 50 = 100 + 10; 1.5 × 33.33 = 49.995 -> 50.00
    assert [ln.total for ln in lines] == [D("259.20"), D("110.00"), D("50.00")]
    quote = _load(slug, Quote, quote_id)
    assert (quote.subtotal, quote.discount_total, quote.tax_total, quote.total) == (
        D("390.00"),
        D("24.00"),
        D("53.20"),
        D("419.20"),
    )
    page = _page(client, f"/app/{slug}/quotes/{quote_id}")
    assert "$419.20" in page and "$390.00" in page and "Line added" in page

    # Edit a line, then remove one: totals follow, each change on the timeline.
    first = lines[0].id
    post(client, f"{url}/{first}", {"description": "Widget XL", "quantity": "1", "unit_price": "80",
                                     "discount_pct": "", "tax_pct": "20"})  # fmt: skip
    post(client, f"{url}/{lines[2].id}/delete")
    quote = _load(slug, Quote, quote_id)
    assert quote.total == D("96.00") + D("110.00")
    page = _page(client, f"/app/{slug}/quotes/{quote_id}")
    assert "Widget XL" in page and "Installation" not in page.split("Timeline")[0]
    assert "Line changed" in page and "Line removed" in page


def test_quote_in_another_currency_shows_its_currency(client):
    slug, email = signup(client)
    product = make(slug, "product", user_id(email), name="Licence", unit_price="1000")
    quote_id = make(slug, "quote", user_id(email), currency="EUR")
    post(client, f"/app/{slug}/quotes/{quote_id}/lines", {"product_id": product})
    assert "€1,000.00" in _page(client, f"/app/{slug}/quotes/{quote_id}")
    # Without a currency, a quote is in the tenant's currency.
    from saas.modules.workspace.service import update_settings

    with db.scope(tenant_ref(slug)):
        update_settings(user_id(email), currency="GBP")
    resp = post(client, f"/app/{slug}/quotes/new", {"subject": "In pounds"})
    assert _load(slug, Quote, _id_from(resp)).currency == "GBP"


def test_bad_line_values_are_messages_and_change_nothing(client):
    slug, email = signup(client)
    quote_id = make(slug, "quote", user_id(email))
    url = f"/app/{slug}/quotes/{quote_id}/lines"
    cases = [
        ({"description": "A", "quantity": "-2", "unit_price": "5"}, "Quantity: use more than 0"),
        ({"description": "A", "quantity": "0", "unit_price": "5"}, "Quantity: use more than 0"),
        ({"description": "A", "quantity": "1", "unit_price": "5", "discount_pct": "150"},
         "Discount (%): use 100 or less"),
        ({"description": "A", "quantity": "lots", "unit_price": "5"}, "Quantity: enter a number"),
        ({"description": "A", "quantity": "1", "unit_price": "5", "tax_pct": "NaN"}, "Tax (%): enter a number"),
        ({"description": "A", "quantity": "1"}, "Unit price is required"),
        ({"quantity": "1", "unit_price": "5"}, "Description is required"),
        ({"product_id": "999999"}, "Product: choose an active product"),
        ({"description": "A", "quantity": "999999999", "unit_price": "99999999999"}, "too large"),
    ]  # fmt: skip
    for data, message in cases:
        resp = post(client, url, data)
        assert resp.status_code == 302, data
        assert message in _page(client, resp.headers["Location"]), data
    assert _lines(slug, QuoteLine, "quote_id", quote_id) == []
    post(client, url, {"description": "Ok", "quantity": "2", "unit_price": "5"})
    (line,) = _lines(slug, QuoteLine, "quote_id", quote_id)
    resp = post(
        client, f"{url}/{line.id}", {"description": "Ok", "quantity": "-1", "unit_price": "5"}
    )
    assert "Quantity: use more than 0" in _page(client, resp.headers["Location"])
    assert _lines(slug, QuoteLine, "quote_id", quote_id)[0].quantity == D("2")
    assert _load(slug, Quote, quote_id).total == D("10.00")
    # Someone else's line id (or a missing one) is a message, not a 500.
    resp = post(client, f"{url}/999999", {"quantity": "1"})
    assert resp.status_code == 302


def test_readonly_member_sees_lines_but_cannot_change_them(client, make_client):
    slug, email = signup(client)
    quote_id = make(slug, "quote", user_id(email))
    post(client, f"/app/{slug}/quotes/{quote_id}/lines", {"description": "Seen", "quantity": "1", "unit_price": "5"})  # fmt: skip
    reader_email, _ = add_member(slug, "readonly")
    reader = make_client()
    login(reader, reader_email)
    page = _page(reader, f"/app/{slug}/quotes/{quote_id}")
    assert "Seen" in page and "Add a line" not in page
    resp = post(reader, f"/app/{slug}/quotes/{quote_id}/lines", {"description": "X", "quantity": "1", "unit_price": "1"})  # fmt: skip
    assert resp.status_code == 403
    assert post(reader, f"/app/{slug}/quotes/{quote_id}/order").status_code == 403


def test_price_lists_admin_edits_members_read(client, make_client):
    slug, email = signup(client)
    make(slug, "product", user_id(email), name="Thing", unit_price="10")
    resp = post(client, f"/app/{slug}/price-lists/", {"name": "Partners", "currency": "EUR"})
    assert resp.status_code == 302
    partners = _id_from(resp)
    resp = post(client, f"/app/{slug}/price-lists/", {"name": "partners", "currency": "EUR"})
    assert "already a price list named" in _page(client, resp.headers["Location"])
    resp = post(client, f"/app/{slug}/price-lists/{partners}", {"price_1": "-5"})
    assert "Price: use 0 or more" in _page(client, resp.headers["Location"])
    post(client, f"/app/{slug}/price-lists/{partners}/default")
    with db.scope(tenant_ref(slug)):
        defaults = session().execute(select(PriceList.name).where(PriceList.is_default)).all()
        assert defaults == [("Partners",)]
    quote_id = make(slug, "quote", user_id(email))
    quote = _load(slug, Quote, quote_id)
    assert quote.price_list_id == partners
    # The quote form offers the price lists.
    form = _page(client, f"/app/{slug}/quotes/{quote_id}/edit")
    assert 'name="price_list_id"' in form and "Partners" in form and "Standard" in form

    member_email, _ = add_member(slug, "member")
    member = make_client()
    login(member, member_email)
    assert "Partners" in _page(member, f"/app/{slug}/price-lists/")
    assert "Save prices" not in _page(member, f"/app/{slug}/price-lists/{partners}")
    assert post(member, f"/app/{slug}/price-lists/{partners}", {"price_1": "1"}).status_code == 403
    assert (
        post(member, f"/app/{slug}/price-lists/", {"name": "Mine", "currency": "USD"}).status_code
        == 403
    )
    assert client.get(f"/app/{slug}/price-lists/999999").status_code == 404


# -- quote to order, order status, returns ------------------------------------------------


def _quote_with_lines(client, slug, email) -> int:
    quote_id = make(slug, "quote", user_id(email), subject="Big deal")
    url = f"/app/{slug}/quotes/{quote_id}/lines"
    post(
        client, url, {"description": "Boxes", "quantity": "4", "unit_price": "25", "tax_pct": "10"}
    )
    post(
        client,
        url,
        {"description": "Bags", "quantity": "3", "unit_price": "10", "discount_pct": "10"},
    )
    return quote_id


def test_quote_becomes_order_once_with_its_lines_and_totals(client):
    slug, email = signup(client)
    quote_id = _quote_with_lines(client, slug, email)
    resp = post(client, f"/app/{slug}/quotes/{quote_id}/order")
    assert resp.status_code == 302 and "/orders/" in resp.headers["Location"]
    order_id = _id_from(resp)
    quote, order = _load(slug, Quote, quote_id), _load(slug, Order, order_id)
    assert quote.status == "ordered" and quote.order_id == order_id
    assert order.quote_id == quote_id and order.number == f"SO-{order_id:05d}"
    assert order.subject == "Big deal" and order.status == "draft"
    assert (order.subtotal, order.discount_total, order.tax_total, order.total) == (
        quote.subtotal, quote.discount_total, quote.tax_total, quote.total,
    )  # fmt: skip
    assert order.total == D("110.00") + D("27.00")
    copied = _lines(slug, OrderLine, "order_id", order_id)
    assert [(ln.description, ln.quantity, ln.total) for ln in copied] == [
        ("Boxes", D("4.000"), D("110.00")),
        ("Bags", D("3.000"), D("27.00")),
    ]
    page = _page(client, f"/app/{slug}/orders/{order_id}")
    assert "Created from quote" in page and quote.number in page
    page = _page(client, f"/app/{slug}/quotes/{quote_id}")
    assert "Order created" in page and "View order" in page

    # Not twice; and its lines and status are frozen.
    resp = post(client, f"/app/{slug}/quotes/{quote_id}/order")
    assert "already been ordered" in _page(client, resp.headers["Location"])
    resp = post(client, f"/app/{slug}/quotes/{quote_id}/lines", {"description": "More", "quantity": "1", "unit_price": "1"})  # fmt: skip
    assert "This quote has been ordered" in _page(client, resp.headers["Location"])
    resp = post(
        client, f"/app/{slug}/quotes/{quote_id}/edit", {"subject": "Big deal", "status": "draft"}
    )
    assert resp.status_code == 400
    with db.scope(tenant_ref(slug)):
        assert session().execute(select(Order.id).where(Order.quote_id == quote_id)).all() == [
            (order_id,)
        ]


def test_empty_or_rejected_quote_cannot_be_ordered(client):
    slug, email = signup(client)
    empty = make(slug, "quote", user_id(email))
    resp = post(client, f"/app/{slug}/quotes/{empty}/order")
    assert "Add at least one line" in _page(client, resp.headers["Location"])
    rejected = _quote_with_lines(client, slug, email)
    with db.scope(tenant_ref(slug)):
        records.update(get("quote"), session().get(Quote, rejected), {"status": "rejected"})
    resp = post(client, f"/app/{slug}/quotes/{rejected}/order")
    assert "Only a draft, sent or accepted quote" in _page(client, resp.headers["Location"])
    # Choosing "ordered" by hand is refused: it takes an order.
    resp = post(client, f"/app/{slug}/quotes/{empty}/edit", {"subject": "x", "status": "ordered"})
    assert resp.status_code == 400 and "Create order" in resp.get_data(as_text=True)


def test_order_status_moves_forward_only(client):
    slug, email = signup(client)
    quote_id = _quote_with_lines(client, slug, email)
    order_id = _id_from(post(client, f"/app/{slug}/quotes/{quote_id}/order"))
    url = f"/app/{slug}/orders/{order_id}/status"

    def act(action, **data):
        resp = post(client, url, {"action": action, **data})
        assert resp.status_code == 302
        return _page(client, resp.headers["Location"])

    assert "Only a shipped order can be marked delivered" in act("deliver")
    assert "Only a confirmed order can be shipped" in act("ship")
    assert "Order status: Confirmed" in act("confirm")
    order = _load(slug, Order, order_id)
    assert order.status == "confirmed" and order.ordered_on is not None
    # A confirmed order's lines are fixed.
    resp = post(client, f"/app/{slug}/orders/{order_id}/lines", {"description": "x", "quantity": "1", "unit_price": "1"})  # fmt: skip
    assert "while the order is a draft" in _page(client, resp.headers["Location"])
    assert "enter a date" in act("ship", on="31/02/2026")
    assert "Order status: Shipped" in act("ship", on="2026-03-02")
    assert "cannot be before shipping" in act("deliver", on="2026-03-01")
    page = act("deliver", on="2026-03-05")
    assert "Order status: Delivered" in page
    assert "Only a draft or confirmed order can be cancelled" in act("cancel")
    assert "Choose what to do" in act("explode")
    order = _load(slug, Order, order_id)
    assert order.status == "delivered"
    assert str(order.shipped_on) == "2026-03-02" and str(order.delivered_on) == "2026-03-05"
    assert "Shipped" in page and "Delivered" in page  # timeline: status changes

    # The form cannot set the status.
    post(client, f"/app/{slug}/orders/{order_id}/edit", {"subject": "x", "status": "draft"})
    assert _load(slug, Order, order_id).status == "delivered"

    other = _id_from(
        post(client, f"/app/{slug}/quotes/{_quote_with_lines(client, slug, email)}/order")
    )
    post(client, f"/app/{slug}/orders/{other}/status", {"action": "cancel"})
    assert _load(slug, Order, other).status == "cancelled"
    resp = post(client, f"/app/{slug}/orders/{other}/status", {"action": "confirm"})
    assert "Only a draft order can be confirmed" in _page(client, resp.headers["Location"])


def test_returns_update_status_and_refunds(client):
    slug, email = signup(client)
    quote_id = _quote_with_lines(client, slug, email)
    order_id = _id_from(post(client, f"/app/{slug}/quotes/{quote_id}/order"))
    boxes, bags = _lines(slug, OrderLine, "order_id", order_id)
    returns = f"/app/{slug}/orders/{order_id}/returns"
    resp = post(client, returns, {"order_line_id": boxes.id, "quantity": "1"})
    assert "once the order has been delivered" in _page(client, resp.headers["Location"])
    for action in ("confirm", "ship", "deliver"):
        post(client, f"/app/{slug}/orders/{order_id}/status", {"action": action})

    # One box of four back: 1/4 of 110.00 (price incl. tax) is refunded by default.
    resp = post(client, returns, {"order_line_id": boxes.id, "quantity": "1", "reason": "Damaged"})
    page = _page(client, resp.headers["Location"])
    assert "Return recorded" in page and "Damaged" in page
    order = _load(slug, Order, order_id)
    assert order.status == "partially_returned" and order.refunded_total == D("27.50")

    for data, message in [
        ({"order_line_id": boxes.id, "quantity": "4"}, "at most 3 of this line"),
        ({"order_line_id": boxes.id, "quantity": "-1"}, "return more than 0"),
        ({"order_line_id": boxes.id, "quantity": "1", "refund": "500"}, "at most 82.50"),
        ({"order_line_id": "999999", "quantity": "1"}, "Choose the line"),
        ({"order_line_id": bags.id, "quantity": "x"}, "Quantity: enter a number"),
    ]:
        resp = post(client, returns, data)
        assert message in _page(client, resp.headers["Location"]), data
    assert _load(slug, Order, order_id).refunded_total == D("27.50")

    # The rest comes back (a custom refund for the bags): the order is returned.
    post(client, returns, {"order_line_id": boxes.id, "quantity": "3"})
    post(
        client,
        returns,
        {"order_line_id": bags.id, "quantity": "3", "refund": "20", "reason": "Late"},
    )
    order = _load(slug, Order, order_id)
    assert order.status == "returned"
    assert order.refunded_total == D("110.00") + D("20.00")  # the last boxes refund what is left
    returned = {
        ln.description: ln.returned_quantity for ln in _lines(slug, OrderLine, "order_id", order_id)
    }
    assert returned == {"Boxes": D("4.000"), "Bags": D("3.000")}
    page = _page(client, f"/app/{slug}/orders/{order_id}")
    assert "Return recorded" in page and "$130.00" in page and "Late" in page


def test_order_from_scratch_uses_default_price_list(client):
    slug, email = signup(client)
    actor = user_id(email)
    product = make(slug, "product", actor, name="Cable", unit_price="9.99")
    with db.scope(tenant_ref(slug)):
        standard = session().execute(select(PriceList).where(PriceList.is_default)).scalar_one()
        from saas.modules.sales import pricing

        pricing.set_prices(standard, {product: "7.50"})
    resp = post(client, f"/app/{slug}/orders/new", {"subject": "Walk-in"})
    order_id = _id_from(resp)
    post(client, f"/app/{slug}/orders/{order_id}/lines", {"product_id": product, "quantity": "2"})
    assert _load(slug, Order, order_id).total == D("15.00")


def test_service_refuses_ordering_twice_in_one_transaction(client):
    slug, email = signup(client)
    actor = user_id(email)
    quote_id = make(slug, "quote", actor)
    with db.scope(tenant_ref(slug)):
        quote = session().get(Quote, quote_id)
        service.add_line(
            quote, {"description": "A", "quantity": "1", "unit_price": "2"}, actor=actor
        )
        order = orders.create_order(quote, actor=actor)
        try:
            orders.create_order(quote, actor=actor)
            raise AssertionError("ordered twice")
        except records.ValidationErrors as exc:
            assert "already been ordered" in str(exc)
        assert order.total == D("2.00")
