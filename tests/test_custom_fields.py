"""Custom fields: real columns added by a tenant admin in the browser, and every surface
of the product honouring them (forms, record pages, lists, filters, sort, export,
search, the service write path), with the database enforcing required and unique."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select, text

from saas.db import db
from saas.modules.customers.models import Contact
from saas.modules.customization import meta
from saas.modules.customization.models import CustomField
from saas.modules.records import service
from saas.modules.records.registry import get
from tests.conftest import login, post, signup
from tests.factories import add_member, exported, make, tenant_ref


def add_field(client, slug, object_slug="contacts", **form):
    """Add a field through the admin page; returns (response, column name)."""
    form.setdefault("type", "text")
    resp = post(client, f"/app/{slug}/customize/{object_slug}/fields/new", form)
    with db.scope(tenant_ref(slug)) as s:
        name = s.execute(
            select(CustomField.name).where(CustomField.label == form.get("label", ""))
        ).scalar_one_or_none()
    return resp, name


def column_exists(slug, table, column) -> bool:
    schema = tenant_ref(slug).schema_name
    with db.scope() as s:
        return bool(
            s.execute(
                text(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = :s"
                    " AND table_name = :t AND column_name = :c"
                ),
                {"s": schema, "t": table, "c": column},
            ).first()
        )


def contact_value(slug, contact_id, column):
    with db.scope(tenant_ref(slug)):
        record = service.get_record(get("contact"), contact_id)
        return getattr(record, column)


def test_every_field_type_is_a_real_column_filled_by_the_form_and_shown_on_the_record(
    client, run_jobs
):
    slug, _email = signup(client)
    account = make(slug, "account", name="Wingtip Toys")
    specs = {
        "Nickname": {"type": "text", "max_length": "40"},
        "Background": {"type": "longtext"},
        "Shoe size": {"type": "number", "places": "1", "indexed": "on"},
        "Budget": {"type": "currency", "indexed": "on"},
        "Discount": {"type": "percent"},
        "First met": {"type": "date", "indexed": "on"},
        "Last call": {"type": "datetime"},
        "Newsletter": {"type": "bool", "indexed": "on"},
        "Tier": {"type": "choice", "choices": "Gold\nSilver\nBronze", "indexed": "on"},
        "Interests": {"type": "multichoice", "choices": "Golf\nSailing\nChess", "indexed": "on"},
        "Private mail": {"type": "email"},
        "Pager": {"type": "phone"},
        "Blog": {"type": "url"},
        "Referred by": {"type": "lookup", "target": "account"},
    }
    names = {}
    for label, spec in specs.items():
        resp, name = add_field(client, slug, label=label, **spec)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        assert column_exists(slug, "contacts", name)
        names[label] = name
    run_jobs()  # the indexes are built by a worker
    form = client.get(f"/app/{slug}/contacts/new").get_data(as_text=True)
    for label in specs:
        assert label in form
    values = {
        "last_name": "Mercer",
        names["Nickname"]: "Merc",
        names["Background"]: "Met at a trade fair.",
        names["Shoe size"]: "42.5",
        names["Budget"]: "12,500.00",
        names["Discount"]: "7.5",
        names["First met"]: "2026-03-04",
        names["Last call"]: "2026-03-05T14:30",
        names["Newsletter"]: "on",
        names["Tier"]: "gold",
        names["Interests"]: ["golf", "chess"],
        names["Private mail"]: "Merc@Example.com",
        names["Pager"]: "+1 555 0100",
        names["Blog"]: "merc.example.com",
        names["Referred by"]: f"Wingtip Toys (#{account})",
    }
    resp = post(client, f"/app/{slug}/contacts/new", values)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    contact_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/app/{slug}/contacts/{contact_id}").get_data(as_text=True)
    for shown in ("Merc", "Met at a trade fair.", "42.5", "12,500.00", "7.5 %", "Gold",
                  "Golf, Chess", "merc@example.com", "+1 555 0100",
                  "https://merc.example.com", "Wingtip Toys"):  # fmt: skip
        assert shown in page, shown
    assert contact_value(slug, contact_id, names["Interests"]) == ["golf", "chess"]
    assert contact_value(slug, contact_id, names["Newsletter"]) is True

    # Filters and sort on the indexed ones
    other = make(slug, "contact", last_name="Other", **{names["Tier"]: "bronze"})
    listing = client.get(f"/app/{slug}/contacts/?{names['Tier']}=gold").get_data(as_text=True)
    assert "Mercer" in listing and "Other</a>" not in listing
    listing = client.get(
        f"/app/{slug}/contacts/?{names['Budget']}__from=10000&{names['First met']}__to=2026-12-31"
    ).get_data(as_text=True)
    assert "Mercer" in listing and f"/contacts/{other}" not in listing
    listing = client.get(f"/app/{slug}/contacts/?{names['Interests']}=chess").get_data(as_text=True)
    assert "Mercer" in listing and f"/contacts/{other}" not in listing
    sorted_page = client.get(f"/app/{slug}/contacts/?sort=-{names['Tier']}").get_data(as_text=True)
    assert "Cannot sort" not in sorted_page
    assert sorted_page.index(f'/contacts/{contact_id}"') < sorted_page.index(
        f'/contacts/{other}"'
    )  # gold after bronze, descending
    unsorted = client.get(f"/app/{slug}/contacts/?sort={names['Background']}").get_data(
        as_text=True
    )
    assert "Cannot sort" in unsorted  # a long text has no index

    # Export carries every custom column
    csv_text = exported(client, run_jobs, slug, "contact").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    mercer = next(r for r in rows if r["Last name"] == "Mercer")
    assert mercer["Tier"] == "Gold" and mercer["Budget"] == "12500.00"
    assert mercer["Interests"] == "Golf, Chess" and mercer["Newsletter"] == "yes"
    assert mercer["First met"] == "2026-03-04"

    # Search finds custom text
    found = client.get(f"/app/{slug}/search?q=Merc").get_data(as_text=True)
    assert f"/contacts/{contact_id}" in found


def test_service_writes_and_validates_custom_values_like_the_form(client):
    slug, _email = signup(client)
    _resp, tier = add_field(client, slug, label="Tier", type="choice", choices="Gold\nSilver")
    _resp, size = add_field(client, slug, label="Seats", type="number", places="0")
    with db.scope(tenant_ref(slug)):
        otype = get("contact")
        record = service.create(otype, {"last_name": "Api", tier: "Silver", size: "12"})
        assert getattr(record, tier) == "silver" and getattr(record, size) == 12
        with pytest.raises(service.ValidationErrors) as exc:
            service.update(otype, record, {size: "twelve"})
        assert "enter a number" in exc.value.errors[size]
        changes = service.update(otype, record, {size: "14"})
        assert changes == {size: (12, 14)}
        record_id = record.id
    assert contact_value(slug, record_id, size) == 14
    page = client.get(f"/app/{slug}/contacts/{record_id}").get_data(as_text=True)
    assert "Seats" in page and "12" in page and "14" in page  # the change is on the timeline


def test_unique_field_is_enforced_by_the_database_and_reported_on_the_form(client):
    slug, _email = signup(client)
    resp, code = add_field(client, slug, label="Customer code", unique="on")
    assert resp.status_code == 302
    assert (
        post(client, f"/app/{slug}/contacts/new", {"last_name": "A", code: "C-1"}).status_code
        == 302
    )
    resp = post(client, f"/app/{slug}/contacts/new", {"last_name": "B", code: "C-1"})
    assert resp.status_code == 400
    assert "another record already has this value" in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(Contact).where(Contact.last_name == "B")).first() is None
        # The service refuses it too (the database does, inside a savepoint).
        with pytest.raises(service.ValidationErrors) as exc:
            service.create(get("contact"), {"last_name": "C", code: "C-1"}, trusted=True)
        assert code in exc.value.errors
        service.create(get("contact"), {"last_name": "D", code: "C-2"})  # the session goes on


def test_required_field_is_enforced_by_the_database_but_old_records_stay_writable(client):
    slug, email = signup(client)
    old = make(slug, "contact", last_name="Before")
    resp, vat = add_field(client, slug, label="VAT number", required="on")
    assert resp.status_code == 302
    resp = post(client, f"/app/{slug}/contacts/new", {"last_name": "NoVat"})
    assert resp.status_code == 400 and "VAT number is required" in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)):
        otype = get("contact")
        with pytest.raises(service.ValidationErrors) as exc:  # the trigger, not the form
            service.create(otype, {"last_name": "Raw"}, trusted=True)
        assert exc.value.errors == {vat: "VAT number is required."}
        record = service.get_record(otype, old)
        service.update(otype, record, {"city": "Oslo"})  # other fields of an old record
        with pytest.raises(service.ValidationErrors):
            service.update(otype, record, {vat: ""})
    assert contact_value(slug, old, "city") == "Oslo"


def test_adding_a_field_does_not_rewrite_the_table(client):
    slug, _email = signup(client)
    for i in range(50):
        make(slug, "contact", last_name=f"Row {i}")
    schema = tenant_ref(slug).schema_name

    def relfilenode():
        with db.scope() as s:
            return s.execute(
                text("SELECT relfilenode FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                {"t": f'"{schema}".contacts'},
            ).scalar_one()

    before = relfilenode()
    add_field(client, slug, label="Region code", default="EU")
    add_field(client, slug, label="Opted in", type="bool")
    assert relfilenode() == before
    with db.scope(tenant_ref(slug)) as s:
        name = s.execute(
            select(CustomField.name).where(CustomField.label == "Region code")
        ).scalar()
    assert contact_value(slug, make(slug, "contact", last_name="New"), name) == "EU"
    # A picklist's default given by its label is preselected on the form by its key.
    _resp, tier = add_field(client, slug, label="Tier", type="choice", choices="Gold\nSilver",
                            default="Silver")  # fmt: skip
    form = client.get(f"/app/{slug}/contacts/new").get_data(as_text=True)
    assert '<option value="silver" selected>Silver</option>' in form


def test_type_change_converts_or_refuses_with_the_number_of_bad_values(client):
    slug, _email = signup(client)
    _resp, size = add_field(client, slug, label="Headcount")
    for value in ("12", "1,250", "7"):
        make(slug, "contact", last_name=f"N{value}", **{size: value})
    bad = [make(slug, "contact", last_name=f"B{i}", **{size: "about ten"}) for i in range(2)]
    with db.scope(tenant_ref(slug)) as s:
        field_id = s.execute(select(CustomField.id).where(CustomField.name == size)).scalar()
    url = f"/app/{slug}/customize/contacts/fields/{field_id}/type"
    resp = post(client, url, {"type": "number"})
    assert resp.status_code == 400
    assert "2 values would not convert to Number" in resp.get_data(as_text=True)
    assert "about ten" in resp.get_data(as_text=True)
    assert contact_value(slug, bad[0], size) == "about ten"  # nothing changed
    with db.scope(tenant_ref(slug)):
        for record_id in bad:
            service.update(
                get("contact"), service.get_record(get("contact"), record_id), {size: ""}
            )
    resp = post(client, url, {"type": "number"})
    assert resp.status_code == 302
    with db.scope(tenant_ref(slug)) as s:
        values = sorted(
            s.execute(
                text(
                    f'SELECT {size} FROM "{tenant_ref(slug).schema_name}".contacts'
                    f" WHERE {size} IS NOT NULL"
                )
            ).scalars()  # fmt: skip
        )
    assert [int(v) for v in values] == [7, 12, 1250]
    # and to a picklist, with one value per distinct number
    resp = post(client, url, {"type": "choice"})
    assert resp.status_code == 302
    form = client.get(f"/app/{slug}/contacts/new").get_data(as_text=True)
    assert re.search(r"<option value=\"[a-z0-9_]+\" >1250</option>", form)


def test_picklist_values_are_renamed_reordered_retired_and_added(client):
    slug, _email = signup(client)
    _resp, tier = add_field(client, slug, label="Tier", type="choice", choices="Gold\nSilver")
    holder = make(slug, "contact", last_name="Holder", **{tier: "silver"})
    with db.scope(tenant_ref(slug)) as s:
        field_id = s.execute(select(CustomField.id).where(CustomField.name == tier)).scalar()
    resp = post(
        client,
        f"/app/{slug}/customize/contacts/fields/{field_id}",
        {
            "label": "Tier",
            "label_gold": "Platinum",
            "position_gold": "2",
            "label_silver": "Silver",
            "position_silver": "1",
            "retired_silver": "on",
            "choices": "Bronze",
            "indexed": "on",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    new_form = client.get(f"/app/{slug}/contacts/new").get_data(as_text=True)
    assert "Platinum" in new_form and "Bronze" in new_form and ">Silver<" not in new_form
    assert "Platinum" in client.get(
        f"/app/{slug}/contacts/{make(slug, 'contact', **{tier: 'gold'})}"
    ).get_data(as_text=True)  # noqa: E501
    edit = client.get(f"/app/{slug}/contacts/{holder}/edit").get_data(as_text=True)
    assert ">Silver<" in edit  # still offered to the record that has it
    resp = post(
        client, f"/app/{slug}/contacts/{holder}/edit", {"last_name": "Holder", tier: "silver"}
    )
    assert resp.status_code == 302
    resp = post(client, f"/app/{slug}/contacts/new", {"last_name": "New", tier: "silver"})
    assert resp.status_code == 400 and "choose one of Platinum, Bronze" in resp.get_data(
        as_text=True
    )
    # a filter on the retired value still finds its records
    assert "Holder" in client.get(f"/app/{slug}/contacts/?{tier}=silver").get_data(as_text=True)


def test_deleting_a_field_says_what_goes_and_drops_the_column(client):
    slug, _email = signup(client)
    _resp, note = add_field(client, slug, label="Old note", in_list="on")
    make(slug, "contact", last_name="Kept", **{note: "to go"})
    make(slug, "contact", last_name="Empty")
    with db.scope(tenant_ref(slug)) as s:
        field_id = s.execute(select(CustomField.id).where(CustomField.name == note)).scalar()
    url = f"/app/{slug}/customize/contacts/fields/{field_id}/delete"
    page = client.get(url).get_data(as_text=True)
    assert "1 record has a value in this field" in page
    assert post(client, url, {"confirm": "wrong"}).status_code == 400
    assert column_exists(slug, "contacts", note)
    assert post(client, url, {"confirm": note}).status_code == 302
    assert not column_exists(slug, "contacts", note)
    listing = client.get(f"/app/{slug}/contacts/").get_data(as_text=True)
    assert "Old note</" not in listing and "Kept" in listing


def test_field_limit_per_object_is_a_clear_message(client, monkeypatch):
    from saas.modules.customization import service as fields_service

    monkeypatch.setattr(fields_service, "MAX_FIELDS", 2)
    slug, _email = signup(client)
    assert add_field(client, slug, label="One")[0].status_code == 302
    assert add_field(client, slug, label="Two")[0].status_code == 302
    resp, name = add_field(client, slug, label="Three")
    assert resp.status_code == 400 and name is None
    assert "already has 2 custom fields, the most it can have" in resp.get_data(as_text=True)


def test_bad_field_definitions_get_sentences_not_errors(client):
    slug, _email = signup(client)
    cases = [
        ({"label": "", "type": "text"}, "Give the field a name"),
        ({"label": "X", "type": "nope"}, "Choose the type"),
        ({"label": "X", "type": "choice", "choices": ""}, "at least one value"),
        ({"label": "X", "type": "lookup", "target": "nothing"}, "Choose the kind of record"),
        ({"label": "X", "type": "number", "default": "abc"}, "Default value"),
        ({"label": "X", "type": "bool", "unique": "on"}, "can be unique"),
        ({"label": "X", "type": "text", "max_length": "99999"}, "from 1 to 2000"),
        ({"label": "X", "name": "9 bad", "type": "text"}, "API name"),
    ]
    for form, message in cases:
        resp, _name = add_field(client, slug, **form)
        assert resp.status_code == 400, form
        assert message in resp.get_data(as_text=True), form


def test_only_admins_shape_fields_and_one_tenant_never_sees_anothers(client, make_client):
    slug_a, _email = signup(client)
    _resp, secret = add_field(client, slug_a, label="Secret score", type="number", indexed="on")
    overview = client.get(f"/app/{slug_a}/customize/").get_data(as_text=True)
    assert re.search(r"Contacts</td>\s*<td class=\"num\">1 / 500</td>", overview)
    email, _uid = add_member(slug_a, "member")
    member = make_client()
    login(member, email)
    assert member.get(f"/app/{slug_a}/customize/").status_code == 403
    assert (
        post(member, f"/app/{slug_a}/customize/contacts/fields/new", {"label": "M"}).status_code
        == 403
    )

    other = make_client()
    slug_b, _email_b = signup(other)
    assert not column_exists(slug_b, "contacts", secret)
    assert "Secret score" not in other.get(f"/app/{slug_b}/contacts/new").get_data(as_text=True)
    with db.scope(tenant_ref(slug_a)) as s:
        field_id = s.execute(select(CustomField.id).where(CustomField.name == secret)).scalar()
    for url in (
        f"/app/{slug_b}/customize/contacts/fields/{field_id}",
        f"/app/{slug_b}/customize/contacts/fields/{field_id}/delete",
    ):
        assert other.get(url).status_code == 404
    assert (
        post(
            other, f"/app/{slug_b}/customize/contacts/fields/{field_id}/type", {"type": "text"}
        ).status_code
        == 404
    )  # noqa: E501
    # B's lists ignore A's column name, and A's pages are not B's
    assert other.get(f"/app/{slug_b}/contacts/?sort={secret}").status_code == 200
    assert other.get(f"/app/{slug_a}/customize/contacts/fields").status_code == 404
    with db.scope(tenant_ref(slug_b)), pytest.raises(service.ValidationErrors):
        service.validate(get("contact"), {secret: "1"}, partial=True)


def test_shape_cache_is_keyed_by_version_and_bounded(client, make_client, monkeypatch):
    slug, _email = signup(client)
    with db.scope(tenant_ref(slug)):
        assert [f.name for f in get("contact").custom_fields] == []
    _resp, name = add_field(client, slug, label="Fresh")
    ref = tenant_ref(slug)
    assert ref.meta_version >= 1
    with db.scope(ref):  # a process that cached the old shape reloads with the new version
        assert [f.name for f in get("contact").custom_fields] == [name]
    monkeypatch.setattr(meta, "MAX_TENANTS", 2)
    for _ in range(3):
        c = make_client()
        other, _e = signup(c)
        with db.scope(tenant_ref(other)):
            assert get("contact").custom_fields == ()
    assert meta.cached_tenants() <= 2


def test_a_required_custom_field_stops_a_lead_conversion_with_its_message(client):
    slug, _email = signup(client)
    add_field(client, slug, label="VAT number", required="on")
    lead = make(slug, "lead", last_name="Vat", company="Needs Vat Ltd")
    resp = post(client, f"/app/{slug}/leads/{lead}/convert", {"account": "new", "contact": "new"})
    assert resp.status_code == 400
    assert "VAT number is required." in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(Contact).where(Contact.last_name == "Vat")).first() is None


def test_a_one_click_action_a_rule_refuses_says_why_and_keeps_nothing(client):
    """Marking a task done is a write like any other: a rule that refuses it is a 400
    with its message, not an error page, and the task stays open."""
    from saas.modules.activities.models import Activity
    from saas.modules.customization import validation

    slug, email = signup(client)
    task = make(slug, "activity", subject="Call back", kind="task")
    with db.scope(tenant_ref(slug)):
        validation.save(
            get("activity"),
            None,
            {
                "name": "No closing without notes",
                "match": "all",
                "cond-0-field": "done",
                "cond-0-op": "equals",
                "cond-0-value": "yes",
                "cond-1-field": "body",
                "cond-1-op": "is_empty",
                "message": "Write what happened before closing the task.",
                "active": "on",
            },
        )
    resp = post(client, f"/app/{slug}/activities/{task}/done")
    assert resp.status_code == 400
    assert "Write what happened before closing the task." in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(Activity, task).done is False


def test_a_descending_sort_lists_values_first_then_empty_ones_across_pages(client, run_jobs):
    from werkzeug.datastructures import MultiDict

    from saas.modules.records import listing

    slug, _email = signup(client)
    _resp, score = add_field(client, slug, label="Score", type="number", places="0", indexed="on")
    run_jobs()
    ids = {v: make(slug, "contact", last_name=f"S{v}", **{score: str(v)}) for v in (3, 1, 2)}
    empty = [make(slug, "contact", last_name=f"E{i}") for i in range(3)]
    expected = [ids[3], ids[2], ids[1], *reversed(empty)]  # empty ones newest first
    with db.scope(tenant_ref(slug)) as s:
        otype = get("contact")
        seen = []
        for number in (1, 2, 3, 4):
            lq = listing.parse_args(otype, MultiDict({"sort": f"-{score}", "page": str(number)}))
            rows, count, _capped = listing.page(otype, lq, per_page=2)
            seen += [r.id for r in rows]
            assert count == 6
        assert seen == expected
        # the same order as the single statement the CSV export reads
        lq = listing.parse_args(otype, MultiDict({"sort": f"-{score}"}))
        exported = s.execute(listing.statement(otype, lq)).scalars().all()
        assert [r.id for r in exported] == expected


def test_an_api_name_taken_meanwhile_is_a_sentence_not_an_error(client, monkeypatch):
    """Two admins adding the same field at once: the second is told to choose another."""
    from saas.modules.customization import service as fields_service

    slug, _email = signup(client)
    assert add_field(client, slug, label="Region", name="region")[0].status_code == 302
    # As if the first one had not been committed when the second chose its name:
    monkeypatch.setattr(fields_service, "column_name", lambda label, otype, wanted="": "cf_region")
    resp, _name = add_field(client, slug, label="Region 2", name="region")
    assert resp.status_code == 400
    assert "already has a field named cf_region" in resp.get_data(as_text=True)


def test_a_big_tables_type_change_runs_on_a_worker_and_the_page_tells_the_outcome(
    client, run_jobs, monkeypatch
):
    from saas.modules.customization import convert

    monkeypatch.setattr(convert, "IN_REQUEST_ROWS", -1)  # every table counts as big
    slug, _email = signup(client)
    _resp, size = add_field(client, slug, label="Headcount")
    good = make(slug, "contact", last_name="Good", **{size: "1,250"})
    with db.scope(tenant_ref(slug)) as s:
        field_id = s.execute(select(CustomField.id).where(CustomField.name == size)).scalar()
    url = f"/app/{slug}/customize/contacts/fields/{field_id}"
    resp = post(client, f"{url}/type", {"type": "number"})
    assert resp.status_code == 302
    assert "in the background" in client.get(url).get_data(as_text=True)
    assert post(client, f"{url}/type", {"type": "date"}).status_code == 400  # one at a time
    run_jobs()
    assert "Converted to Number: 1 values." in client.get(url).get_data(as_text=True)
    assert contact_value(slug, good, size) == 1250

    make(slug, "contact", last_name="Bad", **{size: "7"})
    assert post(client, f"{url}/type", {"type": "date"}).status_code == 302
    run_jobs()
    page = client.get(url).get_data(as_text=True)
    assert "The change to Date was not made: 2 values would not convert to Date" in page
    assert contact_value(slug, good, size) == 1250  # nothing changed


def test_a_field_job_run_for_another_company_finds_nothing_there(client, make_client, run_jobs):
    """Jobs carry ids; run in company B's unit of work, A's field id reaches nothing."""
    from saas.modules.customization import jobs

    slug_a, _email = signup(client)
    _resp, score = add_field(client, slug_a, label="Score", type="number", indexed="on")
    slug_b, _email_b = signup(make_client())
    with db.scope(tenant_ref(slug_a)) as s:
        field_id = s.execute(select(CustomField.id).where(CustomField.name == score)).scalar()
    with db.scope(tenant_ref(slug_b)):
        assert jobs.build_index(field_id) == "nothing to do"
        assert jobs.convert_field(field_id) == "gone"
    with db.scope(tenant_ref(slug_a)) as s:
        assert s.get(CustomField, field_id).index_state == "building"  # untouched by B
    run_jobs()  # A's own job
    with db.scope(tenant_ref(slug_a)) as s:
        assert s.get(CustomField, field_id).index_state == "ready"
