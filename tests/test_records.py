"""What every CRM object does: create, change (on the timeline), find, filter, export,
delete to the recycle bin and restore; saved views and bulk actions."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from saas.db import db
from saas.modules.customers.models import Account, Contact
from saas.modules.records.export import neutralise
from saas.modules.records.search import lexemes, query_text
from tests.conftest import login, post, signup
from tests.factories import add_member, exported, make, tenant_ref, user_id


def _id_from(resp) -> int:
    return int(resp.headers["Location"].rstrip("/").split("/")[-1])


def test_account_and_contact_lifecycle_through_the_pages(client):
    slug, email = signup(client, name="Pat Owner")
    resp = post(
        client,
        f"/app/{slug}/accounts/new",
        {"name": "Northwind Traders", "industry": "wholesale", "website": "northwind.example"},
    )
    assert resp.status_code == 302
    account_id = _id_from(resp)
    resp = post(
        client,
        f"/app/{slug}/contacts/new",
        {
            "first_name": "Ana",
            "last_name": "Trujillo",
            "email": "Ana@Northwind.example",
            "account_id": "northwind traders",
        },
    )
    assert resp.status_code == 302
    contact_id = _id_from(resp)
    page = client.get(f"/app/{slug}/contacts/{contact_id}").get_data(as_text=True)
    assert "Ana Trujillo" in page and "ana@northwind.example" in page
    assert f"/accounts/{account_id}" in page  # the account is a link
    account_page = client.get(f"/app/{slug}/accounts/{account_id}").get_data(as_text=True)
    assert "Ana Trujillo" in account_page  # related list of contacts
    assert "https://northwind.example" in account_page

    resp = post(
        client,
        f"/app/{slug}/contacts/{contact_id}/edit",
        {
            "first_name": "Ana",
            "last_name": "Trujillo",
            "email": "ana@new.example",
            "account_id": f"Northwind Traders (#{account_id})",
            "title": "Buyer",
        },
    )
    assert resp.status_code == 302
    page = client.get(f"/app/{slug}/contacts/{contact_id}").get_data(as_text=True)
    # The timeline says who changed what, old -> new.
    assert "<del>ana@northwind.example</del>" in page and "<ins>ana@new.example</ins>" in page
    assert "by Pat Owner" in page and "Buyer" in page

    resp = post(client, f"/app/{slug}/contacts/{contact_id}/delete")
    assert resp.status_code == 302
    assert client.get(f"/app/{slug}/contacts/{contact_id}").status_code == 404
    assert "Trujillo" not in client.get(f"/app/{slug}/contacts/").get_data(as_text=True)
    trash = client.get(f"/app/{slug}/trash/").get_data(as_text=True)
    assert "Ana Trujillo" in trash
    resp = post(client, f"/app/{slug}/trash/contacts/{contact_id}/restore")
    assert resp.status_code == 302
    page = client.get(f"/app/{slug}/contacts/{contact_id}").get_data(as_text=True)
    assert "Restored" in page and "Moved to the recycle bin" in page
    assert "Trujillo" in client.get(f"/app/{slug}/contacts/").get_data(as_text=True)


def test_bad_input_is_explained_and_nothing_is_stored(client):
    slug, _ = signup(client)
    make(slug, "account", name="Twin Co")
    make(slug, "account", name="Twin Co")
    resp = post(
        client,
        f"/app/{slug}/contacts/new",
        {
            "last_name": "",
            "email": "not-an-email",
            "phone": "(--) / x",  # phone characters, but no digit
            "birthday": "31/02/2020",
            "account_id": "No Such Company",
        },
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Last name is required." in body
    assert "enter an e-mail address like name@example.com" in body
    assert "use digits, spaces and + ( ) - only, like +1 555 0100" in body
    assert "enter a date like 2026-03-31" in body
    assert "no Account named “No Such Company”" in body
    resp = post(client, f"/app/{slug}/contacts/new", {"last_name": "X", "account_id": "twin co"})
    assert resp.status_code == 400 and "several records are named" in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(Contact)).first() is None
    huge = "x" * 5000
    resp = post(client, f"/app/{slug}/accounts/new", {"name": huge})
    assert resp.status_code == 400 and "at most 200 characters" in resp.get_data(as_text=True)


def test_search_finds_words_by_prefix_and_chinese_by_characters(client):
    slug, _ = signup(client)
    make(slug, "contact", first_name="Wei", last_name="Zhang", email="wei.zhang@example.com")
    make(slug, "account", name="上海晨光贸易有限公司")
    make(slug, "account", name="Acme Tools")
    make(slug, "lead", last_name="王伟", company="北京远景科技")

    def found(q):
        return client.get(f"/app/{slug}/search", query_string={"q": q}).get_data(as_text=True)

    assert "Wei Zhang" in found("zha")  # a prefix
    assert "Wei Zhang" in found("ZHANG wei")  # words in any order, any case
    assert "Wei Zhang" in found("wei.zhang@example.com")  # a whole e-mail address
    assert "Acme Tools" in found("acm") and "Acme Tools" not in found("zha")
    assert "上海晨光贸易有限公司" in found("晨光")  # two characters inside a name
    assert "上海晨光贸易有限公司" in found("晨")  # one character
    assert "上海晨光贸易有限公司" in found("光贸易")
    assert "上海晨光贸易有限公司" not in found("光晨")  # characters out of order
    assert "王伟" in found("王伟") and "王伟" in found("远景")  # leads, by name and company
    assert "Nothing found" in found("zzzz")
    # The same search in a list narrows that list.
    page = client.get(f"/app/{slug}/accounts/", query_string={"q": "晨光"}).get_data(as_text=True)
    assert "上海晨光贸易有限公司" in page and "Acme Tools" not in page


def test_search_documents_and_queries():
    assert {"上", "海", "上海", "海晨", "晨光"} <= set(lexemes("上海晨光"))
    assert {"wei.zhang@example.com", "wei", "zhang", "example", "com"} <= set(
        lexemes("Wei.Zhang@Example.com")
    )
    assert query_text("Zhang 晨光") == "'晨光' & 'zhang':*"
    assert query_text("it's") == "'it':* & 's':*"  # quotes cannot break out of a lexeme
    assert query_text("!!! ***") is None


def test_lists_filter_sort_and_explain_bad_parameters(client):
    slug, email = signup(client)
    me = user_id(email)
    make(slug, "account", me, name="Alpha Foods", lifecycle_stage="customer", industry="food")
    make(slug, "account", me, name="Beta Retail", lifecycle_stage="prospect", industry="retail")
    make(slug, "account", None, name="Gamma Unowned", lifecycle_stage="customer")

    def names(query):
        page = client.get(f"/app/{slug}/accounts/", query_string=query).get_data(as_text=True)
        return re.findall(r">(Alpha Foods|Beta Retail|Gamma Unowned)</a>", page)

    assert names({"lifecycle_stage": "customer"}) == ["Alpha Foods", "Gamma Unowned"]
    assert names({"lifecycle_stage": "customer", "owner_id": "me"}) == ["Alpha Foods"]
    assert names({"owner_id": "none"}) == ["Gamma Unowned"]
    assert names({"sort": "-name"}) == ["Gamma Unowned", "Beta Retail", "Alpha Foods"]
    today = datetime.now(UTC).date()
    assert len(names({"created_at__from": today.isoformat()})) == 3
    assert names({"created_at__to": (today - timedelta(days=1)).isoformat()}) == []
    resp = client.get(
        f"/app/{slug}/accounts/",
        query_string={
            "sort": "password",
            "industry": "bogus",
            "page": "x",
            "created_at__from": "yesterday",
        },
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Cannot sort by password." in body and "Ignored the filter on Industry" in body
    assert "enter a date like 2026-03-31" in body
    assert client.get(f"/app/{slug}/accounts/99999999").status_code == 404
    assert client.get(f"/app/{slug}/accounts/99999999999999999999").status_code == 404
    assert client.get(f"/app/{slug}/lookup/accounts", query_string={"q": "alp"}).json == [
        {"id": 1, "label": "Alpha Foods (#1)"}
    ]


def test_csv_export_honours_filters_and_neutralises_formulas(client, run_jobs):
    slug, _ = signup(client)
    make(
        slug,
        "contact",
        last_name='=HYPERLINK("http://evil")',
        first_name="+1",
        city="Paris",
        description="@SUM(A1)",
    )
    make(slug, "contact", last_name="-2", city="Paris")
    make(slug, "contact", last_name="Elsewhere", city="Rome", country="Italy")
    resp = exported(client, run_jobs, slug, "contact", "q=paris")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    header, data = rows[0], rows[1:]
    assert header[:3] == ["id", "First name", "Last name"]
    assert len(data) == 2  # only what the list shows
    cells = [cell for row in data for cell in row]
    assert '\'=HYPERLINK("http://evil")' in cells and "'+1" in cells and "'-2" in cells
    assert "'@SUM(A1)" in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert neutralise("\tcmd") == "'\tcmd" and neutralise("plain") == "plain"


def test_saved_views_are_personal_unless_an_admin_shares_them(client, make_client):
    slug, owner_email = signup(client)
    member = make_client()
    member_email, _ = add_member(slug, "member")
    login(member, member_email)
    post(
        member,
        f"/app/{slug}/accounts/views",
        {"name": "My prospects", "query": "lifecycle_stage=prospect"},
    )
    post(
        client,
        f"/app/{slug}/accounts/views",
        {"name": "Customers (team)", "query": "lifecycle_stage=customer", "shared": "on"},
    )
    member_page = member.get(f"/app/{slug}/accounts/").get_data(as_text=True)
    owner_page = client.get(f"/app/{slug}/accounts/").get_data(as_text=True)
    assert "My prospects" in member_page and "Customers (team)" in member_page
    assert "My prospects" not in owner_page and "Customers (team)" in owner_page
    assert "?lifecycle_stage=customer" in member_page
    # A member cannot delete the shared view.
    view_id = re.search(
        r"/views/(\d+)/delete\" class=\"inline\">[^<]*<input[^>]*>"
        r"<button class=\"link\" type=\"submit\" aria-label=\"Delete view Customers",
        owner_page,
    )
    shared_id = view_id.group(1) if view_id else re.findall(r"/views/(\d+)/delete", owner_page)[0]
    assert post(member, f"/app/{slug}/accounts/views/{shared_id}/delete").status_code == 404


def test_bulk_assign_and_delete(client):
    slug, email = signup(client, name="Pat Owner")
    ids = [make(slug, "lead", user_id(email), last_name=f"Bulk{i}") for i in range(3)]
    resp = post(
        client, f"/app/{slug}/leads/bulk", {"ids": [str(i) for i in ids[:2]], "action": "delete"}
    )
    assert resp.status_code == 302
    page = client.get(f"/app/{slug}/leads/").get_data(as_text=True)
    assert "Bulk0" not in page and "Bulk1" not in page and "Bulk2" in page
    resp = post(
        client,
        f"/app/{slug}/leads/bulk",
        {"action": "assign", "owner_id": "999999", "ids": [str(ids[2])]},
    )
    assert resp.status_code == 302
    assert "choose someone on your team" in client.get(f"/app/{slug}/leads/").get_data(as_text=True)
    resp = post(client, f"/app/{slug}/leads/bulk", {"action": "delete"})
    assert "Select at least one record" in client.get(resp.headers["Location"]).get_data(
        as_text=True
    )


def test_recycle_bin_keeps_records_30_days_then_the_daily_job_removes_them(app, client, run_jobs):
    from saas.modules.records.jobs import purge_recycle_bins

    slug, _ = signup(client)
    old = make(slug, "account", name="Old Deleted")
    recent = make(slug, "account", name="Recently Deleted")
    for record_id in (old, recent):
        post(client, f"/app/{slug}/accounts/{record_id}/delete")
    with db.scope(tenant_ref(slug)) as s:
        s.execute(
            update(Account)
            .where(Account.id == old)
            .values(deleted_at=datetime.now(UTC) - timedelta(days=31))
        )
        s.execute(
            update(Account)
            .where(Account.id == recent)
            .values(deleted_at=datetime.now(UTC) - timedelta(days=29))
        )
    with app.app_context():
        assert purge_recycle_bins() >= 1
    run_jobs()
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(Account, old) is None
        assert s.get(Account, recent) is not None
    assert post(client, f"/app/{slug}/trash/accounts/{old}/restore").status_code == 404
    assert post(client, f"/app/{slug}/trash/accounts/{recent}/restore").status_code == 302


def test_readonly_members_read_but_cannot_write(client, make_client):
    slug, _ = signup(client)
    account = make(slug, "account", name="Readable Co")
    reader = make_client()
    reader_email, _ = add_member(slug, "readonly")
    login(reader, reader_email)
    assert "Readable Co" in reader.get(f"/app/{slug}/accounts/{account}").get_data(as_text=True)
    assert post(reader, f"/app/{slug}/accounts/new", {"name": "Nope"}).status_code == 403
    assert post(reader, f"/app/{slug}/accounts/{account}/delete").status_code == 403
    assert post(reader, f"/app/{slug}/exports/", {"object": "account"}).status_code == 302


def test_every_object_has_its_pages(client):
    """List, new, record and edit pages of every object render for a member (exports of
    every object: tests/test_exports.py)."""
    from saas.modules.records.registry import all_types
    from tests.factories import one_of_each

    slug, email = signup(client)
    ids = one_of_each(slug, user_id(email))
    for otype in all_types():
        base = f"/app/{slug}/{otype.slug}"
        urls = [
            f"{base}/",
            f"{base}/{ids[otype.name]}",
            f"{base}/{ids[otype.name]}/edit",
        ]
        if otype.creatable:
            urls.append(f"{base}/new")
        for url in urls:
            resp = client.get(url)
            assert resp.status_code == 200, (url, resp.status_code)
        page = client.get(f"{base}/{ids[otype.name]}").get_data(as_text=True)
        assert "Timeline" in page and "Created" in page


def test_optional_choices_left_empty_keep_a_value(client):
    """A deal saved with no currency gets the company's currency, and clearing it on
    edit keeps the one it has, instead of failing."""
    from saas.modules.deals.models import Deal
    from saas.modules.workspace.service import update_settings

    slug, email = signup(client)
    with db.scope(tenant_ref(slug)):
        update_settings(user_id(email), currency="EUR")
    resp = post(client, f"/app/{slug}/deals/new", {"name": "No currency", "currency": ""})
    assert resp.status_code == 302
    deal_id = _id_from(resp)
    resp = post(
        client,
        f"/app/{slug}/deals/{deal_id}/edit",
        {"name": "No currency", "currency": "", "stage_id": ""},
    )
    assert resp.status_code in (302, 400)
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(Deal, deal_id).currency == "EUR"


def test_restore_refuses_when_a_live_record_took_its_place(client):
    slug, email = signup(client)
    first = make(slug, "product", name="Seat licence", code="SEAT-1")
    post(client, f"/app/{slug}/products/{first}/delete")
    make(slug, "product", name="Seat licence v2", code="SEAT-1")
    resp = post(client, f"/app/{slug}/trash/products/{first}/restore")
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Another record now has the same unique values" in page
    assert "Seat licence" in page  # still in the recycle bin


def test_nul_characters_get_a_clear_error_and_store_nothing(client):
    """PostgreSQL text cannot hold NUL bytes: any form or address with one is refused
    with a sentence, never a server error."""
    slug, _ = signup(client)
    resp = post(client, f"/app/{slug}/accounts/new", {"name": "Bad\x00Name"})
    assert resp.status_code == 400 and "invisible NUL character" in resp.get_data(as_text=True)
    assert client.get(f"/app/{slug}/search?q=a%00b").status_code == 400
    assert client.get(f"/app/{slug}/deals/board?q=%00").status_code == 400
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(Account)).first() is None
