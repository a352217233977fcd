"""Layouts: an admin arranges an object's record page (sections, field order) and its list
columns in the browser; lists, forms and record pages follow; reset brings the defaults
back; bad input is refused with nothing saved; only admins of that company may do it."""

from __future__ import annotations

import re

from sqlalchemy import select

from saas.db import db
from saas.modules.customization.models import Layout
from saas.modules.records.registry import get
from tests.conftest import login, post, signup
from tests.factories import add_member, make, tenant_ref


def add_custom_field(slug, object_name, label, type_="text") -> str:
    """A custom field (definition and real column) as the fields admin adds it."""
    from saas.modules.customization import service as fields

    with db.scope(tenant_ref(slug)):
        return fields.add_field(get(object_name), {"label": label, "type": type_}).name


def layout_row(slug, object_name):
    with db.scope(tenant_ref(slug)) as s:
        row = s.get(Layout, object_name)
        return None if row is None else (row.sections, row.fields, row.columns)


def list_header(client, slug, object_slug="contacts") -> list[str]:
    page = client.get(f"/app/{slug}/{object_slug}/").get_data(as_text=True)
    head = page[page.index("<thead>") : page.index("</thead>")]
    cells = re.findall(r'<th scope="col">(.*?)</th>', head, re.S)
    return [re.sub(r"<[^>]+>|[▲▼]", "", c).strip() for c in cells if "sr-only" not in c]


def form_inputs(client, url) -> list[str]:
    """The names of a record form's inputs, in page order."""
    page = client.get(url).get_data(as_text=True)
    form = page[page.index('class="card record-form"') :]
    names = re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', form)
    return [n for n in names if n not in {"csrf_token", "next"}]


def test_list_columns_follow_the_saved_layout_and_reset_restores_the_defaults(client):
    slug, _ = signup(client)
    make(slug, "contact", first_name="Ada", last_name="Lovelace", email="ada@example.com")
    default = list_header(client, slug)
    assert default[:2] == ["First name", "Last name"]

    url = f"/app/{slug}/customize/contacts/layout"
    page = client.get(url)
    assert page.status_code == 200 and "Layout of Contacts" in page.get_data(as_text=True)
    resp = post(
        client,
        url,
        {
            "column": ["email", "last_name", "city"],
            "column_pos-email": "1",
            "column_pos-last_name": "2",
            "column_pos-city": "3",
        },
    )
    assert resp.status_code == 302
    assert list_header(client, slug) == ["E-mail", "Last name", "City"]
    listing = client.get(f"/app/{slug}/contacts/").get_data(as_text=True)
    assert "ada@example.com" in listing and "Lovelace" in listing
    assert layout_row(slug, "contact")[2] == ["email", "last_name", "city"]

    # The ▲/▼ buttons work without a script: they submit the form with the move.
    resp = post(client, url, {"column": ["email", "last_name", "city"], "move": "column:city:up"})
    assert resp.status_code == 302
    assert list_header(client, slug) == ["E-mail", "City", "Last name"]

    resp = post(client, f"{url}/reset")
    assert resp.status_code == 302
    assert layout_row(slug, "contact") is None
    assert list_header(client, slug) == default


def test_field_order_drives_the_new_and_edit_forms(client):
    slug, _ = signup(client)
    contact = make(slug, "contact", last_name="Hopper")
    before = form_inputs(client, f"/app/{slug}/contacts/new")
    assert before.index("first_name") < before.index("email")
    count = len(get("contact").standard)

    url = f"/app/{slug}/customize/contacts/layout"
    # E-mail typed to position 1 goes first; first name moves to the end.
    resp = post(client, url, {"field_pos-email": "1", "field_pos-first_name": str(count + 5)})
    assert resp.status_code == 302
    for form_url in (f"/app/{slug}/contacts/new", f"/app/{slug}/contacts/{contact}/edit"):
        names = form_inputs(client, form_url)
        assert names[0] == "email", form_url
        assert names[-1] == "first_name", form_url
        assert sorted(names) == sorted(before)
    # The editor shows the saved order.
    editor = client.get(url).get_data(as_text=True)
    assert editor.index('name="field_pos-email"') < editor.index('name="field_pos-last_name"')


def test_sections_are_renamed_added_and_hold_their_fields_on_the_record_page(client):
    slug, _ = signup(client)
    contact = make(slug, "contact", last_name="Hamilton", city="Boston", email="mh@example.com")
    url = f"/app/{slug}/customize/contacts/layout"
    resp = post(client, url, {"sec_label-details": "Basics", "new_section": "Where"})
    assert resp.status_code == 302
    sections = layout_row(slug, "contact")[0]
    assert ["custom_1", "Where"] in sections and ["details", "Basics"] in sections
    resp = post(client, url, {"field_section-city": "custom_1"})
    assert resp.status_code == 302
    assert ["city", "custom_1"] in layout_row(slug, "contact")[1]

    page = client.get(f"/app/{slug}/contacts/{contact}").get_data(as_text=True)
    card = page[page.index('data-section="custom_1"') :]
    card = card[: card.index("</div>")]
    assert "Where" in card and "Boston" in card and "mh@example.com" not in card
    assert "Basics" in page

    # Removing a section of one's own puts its fields back in the first section.
    resp = post(client, url, {"sec_remove-custom_1": "on"})
    assert resp.status_code == 302
    assert ["city", "details"] in layout_row(slug, "contact")[1]
    assert "custom_1" not in {key for key, _label in layout_row(slug, "contact")[0]}


def test_sections_take_the_chosen_order_and_keep_translated_names(client):
    slug, _ = signup(client)
    contact = make(slug, "contact", last_name="Noether", city="Erlangen", birthday="1882-03-23")
    url = f"/app/{slug}/customize/contacts/layout"
    # Customer care first, then the rest.
    resp = post(client, url, {"sec_pos-care": "1"})
    assert resp.status_code == 302
    assert [k for k, _label in layout_row(slug, "contact")[0]][:2] == ["care", "details"]
    page = client.get(f"/app/{slug}/contacts/{contact}").get_data(as_text=True)
    assert page.index('data-section="care"') < page.index('data-section="address"')
    assert '<h2 class="h3">Customer care</h2>' in page and "None" not in page


def test_a_custom_field_is_placed_and_listed_like_a_standard_one(client):
    slug, _ = signup(client)
    name = add_custom_field(slug, "contact", "Loyalty tier")
    url = f"/app/{slug}/customize/contacts/layout"
    editor = client.get(url).get_data(as_text=True)
    assert f'name="field_pos-{name}"' in editor and f'value="{name}"' in editor
    resp = post(
        client,
        url,
        {
            "column": [name, "last_name"],
            f"column_pos-{name}": "1",
            f"field_pos-{name}": "1",
            f"field_section-{name}": "care",
        },
    )
    assert resp.status_code == 302
    assert list_header(client, slug) == ["Loyalty tier", "Last name"]
    assert form_inputs(client, f"/app/{slug}/contacts/new")[0] == name
    assert [name, "care"] in layout_row(slug, "contact")[1]

    # The fields page moves a field to another section without losing its place.
    from saas.modules.customization import layouts, meta

    with db.scope(tenant_ref(slug)):
        layouts.place(get("contact"), name, "more")
        meta.changed()
    fields = layout_row(slug, "contact")[1]
    assert fields[0] == [name, "more"] and len(fields) == len({n for n, _s in fields})


def test_bad_layout_input_is_refused_and_nothing_is_saved(client):
    slug, _ = signup(client)
    url = f"/app/{slug}/customize/contacts/layout"
    cases = [
        ({"field_pos-nonexistent": "1"}, "There is no field “nonexistent” on this object."),
        ({"field_section-email": "nowhere"}, "Choose a section from the list."),
        ({"column": ["email", "no_such_column"]}, "There is no column “no_such_column” to show."),
        ({"column": [], "column_pos-email": "1"}, "Choose at least one column."),
        ({"field_pos-email": "first"}, "Enter a position: a whole number from 1."),
        ({"sec": "made_up"}, "There is no section “made_up”; reload the page."),
        ({"new_section": "Details"}, "There is a section with this name already."),
        ({"new_section": "x" * 61}, "Use at most 60 characters."),
    ]
    for data, sentence in cases:
        data = {"column": ["last_name"], **data}
        resp = post(client, url, data)
        assert resp.status_code == 400, data
        page = resp.get_data(as_text=True)
        assert sentence in page, data
        assert "Nothing was saved" in page
        assert layout_row(slug, "contact") is None, data
    # A custom section cannot lose its name.
    assert post(client, url, {"column": ["last_name"], "new_section": "Billing"}).status_code == 302
    resp = post(client, url, {"column": ["last_name"], "sec_label-custom_1": " "})
    assert resp.status_code == 400 and "Give the section a name." in resp.get_data(as_text=True)
    assert ["custom_1", "Billing"] in layout_row(slug, "contact")[0]


def test_only_admins_arrange_layouts_and_each_company_has_its_own(client, make_client):
    slug, _ = signup(client)
    url = f"/app/{slug}/customize/contacts/layout"
    member_email, _ = add_member(slug, "member")
    member = make_client()
    login(member, member_email)
    assert member.get(url).status_code == 403
    assert post(member, url, {"column": ["email"]}).status_code == 403
    assert post(member, f"{url}/reset").status_code == 403
    assert layout_row(slug, "contact") is None

    admin_email, _ = add_member(slug, "admin")
    admin = make_client()
    login(admin, admin_email)
    assert post(admin, url, {"column": ["last_name", "email"]}).status_code == 302

    other = make_client()
    other_slug, _ = signup(other)
    assert other.get(url).status_code == 404
    assert post(other, url, {"column": ["city"]}).status_code == 404
    assert post(other, f"{url}/reset").status_code == 404
    assert layout_row(slug, "contact")[2] == ["last_name", "email"]
    # The other company's list keeps its own (default) columns.
    assert list_header(other, other_slug)[:2] == ["First name", "Last name"]
    assert layout_row(other_slug, "contact") is None
    with db.scope(tenant_ref(other_slug)) as s:
        assert s.execute(select(Layout)).first() is None
