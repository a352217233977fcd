"""Validation rules: an admin writes declarative rules in the browser; every write path
(form create and edit, the kanban move, trusted service calls as imports and workflows
make them) is refused with the rule's message and stores nothing; bad rules are refused
with a sentence; only that company's admins manage them and only its records obey."""

from __future__ import annotations

from sqlalchemy import func, select

from saas.db import db
from saas.modules.customization import meta, validation
from saas.modules.customization.models import ValidationRule
from saas.modules.deals.models import Deal, Stage, StageChange
from saas.modules.records import service
from saas.modules.records.registry import get
from tests.conftest import login, post, signup
from tests.factories import add_member, make, tenant_ref, user_id
from tests.test_layouts import add_custom_field

JSON = {"Accept": "application/json"}
WIN_MESSAGE = "Enter the amount before you win the deal."


def add_rule(client, slug, object_slug, name, conditions, message, field="", match="all"):
    data = {"name": name, "match": match, "message": message, "field": field, "active": "on"}
    for i, condition in enumerate(conditions):
        for key, value in condition.items():
            data[f"cond-{i}-{key}"] = value
    return post(client, f"/app/{slug}/customize/{object_slug}/rules/new", data)


def amount_before_winning(client, slug):
    """'Required if': the amount is empty AND the deal is won."""
    resp = add_rule(
        client,
        slug,
        "deals",
        "Amount before winning",
        [
            {"field": "amount", "op": "is_empty"},
            {"field": "status", "op": "equals", "value": "Won"},
        ],
        WIN_MESSAGE,
        field="amount",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)


def stages(slug) -> dict[str, int]:
    with db.scope(tenant_ref(slug)) as s:
        return dict(s.execute(select(Stage.name, Stage.id)).all())


def deal(slug, deal_id) -> Deal:
    with db.scope(tenant_ref(slug)) as s:
        found = s.get(Deal, deal_id)
        s.expunge(found)
        return found


def deal_count(slug, name=None) -> int:
    with db.scope(tenant_ref(slug)) as s:
        stmt = select(func.count()).select_from(Deal)
        return s.execute(stmt.where(Deal.name == name) if name else stmt).scalar()


def rule_names(slug) -> list[str]:
    with db.scope(tenant_ref(slug)) as s:
        stmt = select(ValidationRule.name).order_by(ValidationRule.position, ValidationRule.id)
        return list(s.execute(stmt).scalars())


def errors_of(slug, object_name, **raw) -> dict:
    """What a create from raw values (as the API and imports send them) is told; {} if saved."""
    try:
        with db.scope(tenant_ref(slug)):
            service.create(get(object_name), raw)
    except service.ValidationErrors as exc:
        return exc.errors
    return {}


def test_a_rule_refuses_form_create_and_edit_with_its_message_next_to_the_field(client):
    slug, _ = signup(client)
    won = stages(slug)["Won"]
    amount_before_winning(client, slug)

    resp = post(
        client,
        f"/app/{slug}/deals/new",
        {"name": "Tailspin renewal", "stage_id": str(won), "currency": "USD"},
    )
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert f'<p class="error" id="f-amount-error">{WIN_MESSAGE}</p>' in page
    assert deal_count(slug, "Tailspin renewal") == 0

    # An open deal needs no amount; a won one with an amount is fine.
    data = {
        "name": "Tailspin renewal",
        "stage_id": str(stages(slug)["Proposal"]),
        "currency": "USD",
    }
    assert post(client, f"/app/{slug}/deals/new", data).status_code == 302
    data = {"name": "Tailspin won", "stage_id": str(won), "currency": "USD", "amount": "900"}
    resp = post(client, f"/app/{slug}/deals/new", data)
    assert resp.status_code == 302
    won_id = int(resp.headers["Location"].rsplit("/", 1)[1])

    # Editing the won deal to clear its amount is refused, and nothing changes.
    resp = post(client, f"/app/{slug}/deals/{won_id}/edit", {**data, "amount": ""})
    assert resp.status_code == 400
    assert WIN_MESSAGE in resp.get_data(as_text=True)
    assert deal(slug, won_id).amount == 900


def test_a_kanban_move_and_trusted_service_writes_meet_the_rules(client):
    slug, email = signup(client)
    me = user_id(email)
    ids = stages(slug)
    amount_before_winning(client, slug)
    deal_id = make(slug, "deal", me, name="Litware pilot")  # open, no amount

    resp = post(client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": ids["Won"]}, headers=JSON)
    assert resp.status_code == 400
    assert resp.get_json() == {"ok": False, "error": WIN_MESSAGE}
    resp = post(client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": ids["Won"]})
    assert resp.status_code == 400 and WIN_MESSAGE in resp.get_data(as_text=True)
    stored = deal(slug, deal_id)
    assert (stored.stage_id, stored.status) == (ids["Qualification"], "open")
    with db.scope(tenant_ref(slug)) as s:
        history = s.execute(select(StageChange).where(StageChange.deal_id == deal_id)).all()
        assert len(history) == 1  # only its creation

    # Imports and workflow field updates write through the service with parsed values.
    with db.scope(tenant_ref(slug)):
        otype = get("deal")
        try:
            service.create(otype, {"name": "Imported", "stage_id": ids["Won"]}, trusted=True)
            raise AssertionError("the trusted create was not refused")
        except service.ValidationErrors as exc:
            assert exc.errors == {"amount": WIN_MESSAGE}
        record = service.get_record(otype, deal_id)
        try:
            service.update(otype, record, {"stage_id": ids["Won"]}, actor=me, trusted=True)
            raise AssertionError("the trusted update was not refused")
        except service.ValidationErrors as exc:
            assert exc.errors == {"amount": WIN_MESSAGE}
    assert deal_count(slug, "Imported") == 0
    assert deal(slug, deal_id).stage_id == ids["Qualification"]

    # With an amount the same move goes through.
    with db.scope(tenant_ref(slug)):
        otype = get("deal")
        service.update(otype, service.get_record(otype, deal_id), {"amount": "500"}, actor=me)
    resp = post(client, f"/app/{slug}/deals/{deal_id}/move", {"stage_id": ids["Won"]}, headers=JSON)
    assert resp.status_code == 200 and deal(slug, deal_id).status == "won"


def test_operators_compare_values_other_fields_patterns_and_dates(client):
    slug, email = signup(client)
    rules = [
        ("Runs a day", [{"field": "end_date", "op": "less_or_equal", "other": "start_date"}],
         "A contract ends after the day it starts.", "end_date", "all"),
        ("Big contracts", [{"field": "value", "op": "greater", "value": "1,000,000"}],
         "Contracts above a million need the board.", "", "all"),
        ("Named", [{"field": "name", "op": "contains", "value": "DRAFT"},
                   {"field": "name", "op": "not_matches", "value": r"^[A-Z]{2}-[0-9]{4}.*$"}],
         "Give it a reference like AB-1234, not a draft name.", "name", "any"),
    ]  # fmt: skip
    for name, conditions, message, field, match in rules:
        resp = add_rule(client, slug, "contracts", name, conditions, message, field, match)
        assert resp.status_code == 302, resp.get_data(as_text=True)

    ok = {"name": "AB-1234 Support", "start_date": "2026-01-01", "end_date": "2026-12-31"}
    assert errors_of(slug, "contract", **ok) == {}
    assert errors_of(slug, "contract", **(ok | {"end_date": "2026-01-01"})) == {
        "end_date": "A contract ends after the day it starts."
    }
    assert errors_of(slug, "contract", **(ok | {"end_date": ""})) == {}  # empty: no order
    assert errors_of(slug, "contract", **(ok | {"value": "2000000"})) == {
        "__all__": "Contracts above a million need the board."
    }
    assert errors_of(slug, "contract", **(ok | {"value": "1000000"})) == {}
    named = {"name": "Give it a reference like AB-1234, not a draft name."}
    assert errors_of(slug, "contract", **(ok | {"name": "Support deal"})) == named
    assert errors_of(slug, "contract", **(ok | {"name": "AB-1234 draft"})) == named  # any, no case
    # Several failing rules: every message at once.
    assert errors_of(slug, "contract", **(ok | {"name": "x", "value": "5000000"})) == {
        **named,
        "__all__": "Contracts above a million need the board.",
    }

    # Dates against today; picklists by label; checkboxes; multi-value "contains".
    resp = add_rule(
        client,
        slug,
        "deals",
        "Close in the future",
        [{"field": "close_date", "op": "less", "value": "today"}],
        "The expected close date is in the past.",
        "close_date",
    )
    assert resp.status_code == 302
    stage = stages(slug)["Qualification"]
    assert errors_of(slug, "deal", name="D", stage_id=stage, close_date="2001-01-01") == {
        "close_date": "The expected close date is in the past."
    }
    assert errors_of(slug, "deal", name="D", stage_id=stage, close_date="2999-01-01") == {}
    resp = add_rule(
        client,
        slug,
        "accounts",
        "Key accounts have a size",
        [
            {"field": "key_account", "op": "equals", "value": "yes"},
            {"field": "size", "op": "is_empty"},
        ],
        "Key accounts need a size.",
        "size",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert errors_of(slug, "account", name="A", key_account="on") == {
        "size": "Key accounts need a size."
    }
    assert errors_of(slug, "account", name="A", key_account="") == {}

    # Records and people by name; the rule's page shows them as the admin typed them.
    blocked = make(slug, "account", name="Blocked Corp")
    resp = add_rule(
        client,
        slug,
        "deals",
        "Blocked customer",
        [
            {"field": "account_id", "op": "equals", "value": "Blocked Corp"},
            {"field": "owner_id", "op": "equals", "value": "Pat Owner"},
        ],
        "Pat no longer sells to Blocked Corp.",
        "account_id",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        rule = s.execute(select(ValidationRule).where(ValidationRule.name == "Blocked customer"))
        rule = rule.scalar_one()
        assert rule.condition["conditions"][0]["value"] == str(blocked)
    form = client.get(f"/app/{slug}/customize/deals/rules/{rule.id}").get_data(as_text=True)
    assert f'value="Blocked Corp (#{blocked})"' in form
    me = user_id(email)
    assert errors_of(slug, "deal", name="D", stage_id=stage, account_id=blocked, owner_id=me) == {
        "account_id": "Pat no longer sells to Blocked Corp."
    }
    assert errors_of(slug, "deal", name="D", stage_id=stage, account_id=blocked) == {}


def test_a_rule_on_what_the_save_changes(client):
    slug, _ = signup(client)
    ids = stages(slug)
    form = client.get(f"/app/{slug}/customize/deals/rules/new").get_data(as_text=True)
    assert 'value="changed_from"' in form  # offered: every save is a change
    resp = add_rule(
        client,
        slug,
        "deals",
        "Won stays won",
        [{"field": "stage_id", "op": "changed_from", "value": "Won"}],
        "A won deal cannot be reopened.",
        "stage_id",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    won = make(slug, "deal", name="Done", stage_id=ids["Won"], amount="10")
    with db.scope(tenant_ref(slug)):
        otype = get("deal")
        record = service.get_record(otype, won)
        try:
            service.update(otype, record, {"stage_id": ids["Qualification"]})
        except service.ValidationErrors as exc:
            refused = exc.errors
    assert refused == {"stage_id": "A won deal cannot be reopened."}
    assert deal_stage(slug, won) == ids["Won"]
    # Other changes of a won deal, and winning a deal, go through.
    with db.scope(tenant_ref(slug)):
        otype = get("deal")
        service.update(otype, service.get_record(otype, won), {"name": "Done well"})
    assert errors_of(slug, "deal", name="New", stage_id=ids["Won"], amount="5") == {}


def deal_stage(slug, deal_id) -> int:
    with db.scope(tenant_ref(slug)) as s:
        return s.get(Deal, deal_id).stage_id


def test_a_rule_on_a_custom_field_and_a_rule_whose_field_is_gone(client):
    slug, _ = signup(client)
    po = add_custom_field(slug, "deal", "PO number")
    resp = add_rule(
        client,
        slug,
        "deals",
        "PO format",
        [{"field": po, "op": "not_matches", "value": "PO-[0-9]{4}"}],
        "A PO number looks like PO-1234.",
        po,
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    stage = str(stages(slug)["Qualification"])
    data = {"name": "Adatum", "stage_id": stage, "currency": "USD", po: "1234"}
    resp = post(client, f"/app/{slug}/deals/new", data)
    assert resp.status_code == 400
    assert f'id="f-{po}-error">A PO number looks like PO-1234.</p>' in resp.get_data(as_text=True)
    assert post(client, f"/app/{slug}/deals/new", data | {po: "PO-1234"}).status_code == 302
    assert post(client, f"/app/{slug}/deals/new", data | {po: ""}).status_code == 302  # empty: ok

    # Before the field is deleted, the fields page can say which rules name it.
    with db.scope(tenant_ref(slug)):
        assert [r.name for r in validation.rules_using(get("deal"), po)] == ["PO format"]
        assert validation.rules_using(get("deal"), "amount") == []

    # A rule naming a field that no longer exists is not enforced, and the list says so.
    with db.scope(tenant_ref(slug)) as s:
        condition = {"match": "all", "conditions": [{"field": "cf_gone", "op": "is_empty"}]}
        s.add(ValidationRule(object="deal", name="Old rule", condition=condition, message="Gone"))
        meta.changed()
    assert (
        post(
            client, f"/app/{slug}/deals/new", data | {"name": "Still fine", po: "PO-1234"}
        ).status_code
        == 302
    )
    page = client.get(f"/app/{slug}/customize/deals/rules").get_data(as_text=True)
    assert "Old rule" in page and "Not enforced" in page


def test_bad_rules_are_refused_with_a_sentence_next_to_the_input(client):
    slug, _ = signup(client)
    good = [{"field": "amount", "op": "greater", "value": "100"}]
    cases = [
        ([{"field": "nope", "op": "is_empty"}], {}, "cond-0-field", "Choose a field from the list."),
        ([{"field": "amount", "op": "greater", "value": "lots"}], {}, "cond-0-value",
         "Amount: enter a number like 1250.50."),
        ([{"field": "close_date", "op": "less", "value": "soon"}], {}, "cond-0-value",
         "Expected close: enter a date like 2026-03-31."),
        ([{"field": "currency", "op": "equals", "value": "Doubloons"}], {}, "cond-0-value",
         "Currency: choose one of"),
        ([{"field": "name", "op": "not_matches", "value": "(["}], {}, "cond-0-value",
         "That is not a valid pattern"),
        ([{"field": "name", "op": "not_matches", "value": r"(\w+\s?)+$"}], {}, "cond-0-value",
         "A repetition inside a repetition"),
        ([{"field": "name", "op": "greater", "value": "x"}], {}, "cond-0-op",
         "Choose what to check about Name."),
        ([{"field": "amount", "op": "less", "other": "name"}], {}, "cond-0-other",
         "Choose a field Amount can be compared with."),
        ([{"field": "amount", "op": "less", "value": ""}], {}, "cond-0-value",
         "Enter the value to compare with, or choose another field."),
        ([], {}, "conditions", "Add at least one condition."),
        (good, {"message": ""}, "message", "Write the message the user sees"),
        (good, {"name": ""}, "name", "Give the rule a name."),
        (good, {"field": "nope"}, "field", "Choose a field from the list."),
        (good, {"match": "most"}, "match", "Choose “all” or “any”."),
    ]  # fmt: skip
    for conditions, extra, key, sentence in cases:
        data = {"name": "R", "match": "all", "message": "M", "field": ""} | extra
        for i, condition in enumerate(conditions):
            data |= {f"cond-{i}-{k}": v for k, v in condition.items()}
        resp = post(client, f"/app/{slug}/customize/deals/rules/new", data)
        assert resp.status_code == 400, (key, sentence)
        page = resp.get_data(as_text=True)
        assert f'id="{key}-error">{sentence}' in page, (key, sentence)
        assert "Nothing was saved" in page
        assert rule_names(slug) == []

    # Editing keeps the rule unchanged when the change is bad.
    amount_before_winning(client, slug)
    with db.scope(tenant_ref(slug)) as s:
        rule_id = s.execute(select(ValidationRule.id)).scalar_one()
    url = f"/app/{slug}/customize/deals/rules/{rule_id}"
    form = client.get(url).get_data(as_text=True)
    assert 'value="Won"' in form and WIN_MESSAGE in form  # the stored key shown as its label
    resp = post(client, url, {"name": "Renamed", "message": "", "cond-0-field": "amount",
                              "cond-0-op": "is_empty"})  # fmt: skip
    assert resp.status_code == 400
    assert rule_names(slug) == ["Amount before winning"]
    assert client.get(f"/app/{slug}/customize/deals/rules/424242").status_code == 404


def test_admins_order_switch_off_and_delete_rules(client):
    slug, _ = signup(client)
    amount_before_winning(client, slug)
    resp = add_rule(
        client,
        slug,
        "deals",
        "Named",
        [{"field": "name", "op": "contains", "value": "test"}],
        "No tests.",
    )
    assert resp.status_code == 302
    assert rule_names(slug) == ["Amount before winning", "Named"]
    with db.scope(tenant_ref(slug)) as s:
        ids = dict(s.execute(select(ValidationRule.name, ValidationRule.id)).all())
    base = f"/app/{slug}/customize/deals/rules"
    page = client.get(base).get_data(as_text=True)
    assert "Amount is empty and Status equals “Won”" in page and "Name contains “test”" in page

    assert post(client, f"{base}/{ids['Named']}/move", {"direction": "up"}).status_code == 302
    assert rule_names(slug) == ["Named", "Amount before winning"]

    stage = stages(slug)["Qualification"]
    assert errors_of(slug, "deal", name="A test", stage_id=stage) == {"__all__": "No tests."}
    assert post(client, f"{base}/{ids['Named']}/toggle").status_code == 302
    assert "is off" in client.get(base).get_data(as_text=True)
    assert errors_of(slug, "deal", name="A test", stage_id=stage) == {}
    assert post(client, f"{base}/{ids['Named']}/toggle").status_code == 302
    assert errors_of(slug, "deal", name="A test", stage_id=stage) == {"__all__": "No tests."}

    assert post(client, f"{base}/{ids['Named']}/delete").status_code == 302
    assert rule_names(slug) == ["Amount before winning"]
    assert errors_of(slug, "deal", name="A test", stage_id=stage) == {}
    assert post(client, f"{base}/{ids['Named']}/delete").status_code == 404


def test_only_admins_manage_rules_and_rules_stay_in_their_company(client, make_client):
    slug, _ = signup(client)
    amount_before_winning(client, slug)
    with db.scope(tenant_ref(slug)) as s:
        rule_id = s.execute(select(ValidationRule.id)).scalar_one()
    base = f"/app/{slug}/customize/deals/rules"

    member_email, _ = add_member(slug, "member")
    member = make_client()
    login(member, member_email)
    assert member.get(base).status_code == 403
    assert member.get(f"{base}/new").status_code == 403
    assert (
        add_rule(
            member, slug, "deals", "Sneaky", [{"field": "name", "op": "is_empty"}], "M"
        ).status_code
        == 403
    )
    for action in ("toggle", "delete", "move"):
        assert post(member, f"{base}/{rule_id}/{action}").status_code == 403
    assert rule_names(slug) == ["Amount before winning"]

    other = make_client()
    other_slug, other_email = signup(other)
    assert other.get(base).status_code == 404
    assert other.get(f"{base}/{rule_id}").status_code == 404
    assert post(other, f"{base}/{rule_id}/delete").status_code == 404
    own = f"/app/{other_slug}/customize/deals/rules"
    assert other.get(own).status_code == 200
    assert other.get(f"{own}/{rule_id}").status_code == 404  # the id is the first company's
    assert post(other, f"{own}/{rule_id}/toggle").status_code == 404
    # The first company's rule does not bind the other's deals.
    won = str(stages(other_slug)["Won"])
    data = {"name": "No amount, won", "stage_id": won, "currency": "USD"}
    assert post(other, f"/app/{other_slug}/deals/new", data).status_code == 302
    assert rule_names(slug) == ["Amount before winning"] and rule_names(other_slug) == []
