"""Lead conversion: one step into account + contact + deal, reusing the account and
contact the company already has, keeping the lead's history, never twice."""

import re

import pytest
from sqlalchemy import func, select

from saas.db import db
from saas.modules.activities.models import Activity
from saas.modules.customers.models import Account, Contact
from saas.modules.deals.models import Deal, Stage
from saas.modules.leads import service as leads
from saas.modules.leads.models import Lead
from saas.modules.records import service as records
from saas.modules.records.models import TimelineEntry
from tests.conftest import login, post, signup
from tests.factories import add_member, make, tenant_ref, user_id


def _count(slug, model) -> int:
    with db.scope(tenant_ref(slug)) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _entries(slug, object_name, record_id, kind="converted") -> list[dict]:
    with db.scope(tenant_ref(slug)) as s:
        rows = s.execute(
            select(TimelineEntry.data).where(
                TimelineEntry.object == object_name,
                TimelineEntry.record_id == record_id,
                TimelineEntry.kind == kind,
            )
        )
        return [r for (r,) in rows]


def _convert(slug, lead_id, actor=None, **options):
    """Convert through the service, as the page does; returns the result's ids."""
    options.setdefault("create_deal", False)
    with db.scope(tenant_ref(slug)) as s:
        result = leads.convert(s.get(Lead, lead_id), actor=actor, **options)
        return {
            "account": result["account"].id,
            "contact": result["contact"].id,
            "deal": result["deal"].id if result["deal"] else None,
            "account_created": result["account_created"],
            "contact_created": result["contact_created"],
        }


def test_converting_a_lead_creates_account_contact_and_deal(client):
    slug, email = signup(client, name="Pat Owner")
    me = user_id(email)
    resp = post(
        client,
        f"/app/{slug}/leads/new",
        {
            "first_name": "Maria",
            "last_name": "Anders",
            "company": "Alfreds Futterkiste",
            "title": "Sales Representative",
            "email": "maria@alfreds.example",
            "phone": "+49 30 0074321",
            "website": "www.alfreds.example",
            "source": "web",
            "status": "qualified",
            "owner_id": str(me),
        },
    )
    lead_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    post(client, f"/app/{slug}/leads/{lead_id}/notes", {"body": "Wants 20 seats by March"})
    lead_page = client.get(f"/app/{slug}/leads/{lead_id}").get_data(as_text=True)
    assert f"/leads/{lead_id}/convert" in lead_page  # the Convert button

    form = client.get(f"/app/{slug}/leads/{lead_id}/convert").get_data(as_text=True)
    assert "Create a new account “Alfreds Futterkiste”" in form
    assert "Create a new contact “Maria Anders”" in form
    assert "Use existing" not in form  # nothing to match yet
    with db.scope(tenant_ref(slug)) as s:
        stage = s.execute(select(Stage).where(Stage.name == "Proposal")).scalar_one()
        stage_id, stage_probability = stage.id, stage.probability
    resp = post(
        client,
        f"/app/{slug}/leads/{lead_id}/convert",
        {
            "account": "new",
            "contact": "new",
            "create_deal": "on",
            "deal_name": "Alfreds: 20 seats",
            "deal_amount": "24,000",
            "stage_id": str(stage_id),
        },
    )
    assert resp.status_code == 302 and "/deals/" in resp.headers["Location"]
    deal_id = int(resp.headers["Location"].rsplit("/", 1)[1])

    with db.scope(tenant_ref(slug)) as s:
        lead = s.get(Lead, lead_id)
        account, contact, deal = (
            s.get(Account, lead.account_id),
            s.get(Contact, lead.contact_id),
            s.get(Deal, lead.deal_id),
        )
        assert lead.status == "converted" and lead.converted_by == me
        assert lead.converted_at is not None and deal.id == deal_id
        assert (account.name, account.domain, account.owner_id) == (
            "Alfreds Futterkiste",
            "alfreds.example",
            me,
        )
        assert (contact.first_name, contact.last_name, contact.email, contact.title) == (
            "Maria",
            "Anders",
            "maria@alfreds.example",
            "Sales Representative",
        )
        assert contact.account_id == account.id and contact.phone == "+49 30 0074321"
        assert (deal.name, str(deal.amount), deal.stage_id, deal.probability) == (
            "Alfreds: 20 seats",
            "24000.00",
            stage_id,
            stage_probability,
        )
        assert deal.account_id == account.id and deal.contact_id == contact.id
        # The lead's note moved on to the contact.
        note = s.execute(select(Activity).where(Activity.kind == "note")).scalar_one()
        assert (note.related_object, note.related_id) == ("contact", contact.id)
        account_id, contact_id = account.id, contact.id

    deal_page = client.get(f"/app/{slug}/deals/{deal_id}").get_data(as_text=True)
    assert "Created from lead" in deal_page and f"/leads/{lead_id}" in deal_page
    contact_page = client.get(f"/app/{slug}/contacts/{contact_id}").get_data(as_text=True)
    assert "Wants 20 seats by March" in contact_page and "Created from lead" in contact_page
    lead_page = client.get(f"/app/{slug}/leads/{lead_id}").get_data(as_text=True)
    assert f"/leads/{lead_id}/convert" not in lead_page  # no second conversion
    for url in (f"/accounts/{account_id}", f"/contacts/{contact_id}", f"/deals/{deal_id}"):
        assert url in lead_page
    assert "Converted by" in lead_page and "Pat Owner" in lead_page
    assert "continue on the contact’s timeline" in lead_page
    [entry] = _entries(slug, "lead", lead_id)
    assert entry["account_created"] and entry["contact_created"] and entry["deal_id"] == deal_id


def test_conversion_reuses_the_account_with_the_same_name_and_the_contact_with_the_email(
    client,
):
    slug, email = signup(client)
    me = user_id(email)
    account = make(slug, "account", me, name="Island Trading")
    contact = make(slug, "contact", me, last_name="Ashworth", email="helen@island.example")
    lead = make(
        slug,
        "lead",
        me,
        last_name="Ashworth",
        company="ISLAND trading ",
        email="Helen@Island.example",
    )
    accounts, contacts = _count(slug, Account), _count(slug, Contact)
    page = client.get(f"/app/{slug}/leads/{lead}/convert").get_data(as_text=True)
    assert "same name" in page and "same e-mail helen@island.example" in page
    assert re.search(rf'value="{account}"\s+checked', page)  # proposed, preselected

    result = _convert(slug, lead, me)
    assert (result["account"], result["contact"]) == (account, contact)
    assert not result["account_created"] and not result["contact_created"]
    assert (_count(slug, Account), _count(slug, Contact)) == (accounts, contacts)
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(Contact, contact).account_id == account  # now linked to the account
    [on_account] = _entries(slug, "account", account)
    assert on_account["lead_id"] == lead and on_account["created"] is False
    account_page = client.get(f"/app/{slug}/accounts/{account}").get_data(as_text=True)
    assert "Matched when converting lead" in account_page


def test_conversion_matches_the_account_by_web_domain(client):
    slug, _ = signup(client)
    by_site = make(slug, "account", name="Océano Atlántico Ltda.", website="oceano.example")
    by_mail = make(slug, "account", name="Wolski Zajazd", website="https://www.wolski.example/")
    lead_site = make(
        slug, "lead", last_name="Roel", company="Oceano", website="http://www.oceano.example/es"
    )
    lead_mail = make(slug, "lead", last_name="Zbyszek", company="Wolski", email="zb@wolski.example")
    accounts = _count(slug, Account)
    assert _convert(slug, lead_site)["account"] == by_site
    assert _convert(slug, lead_mail)["account"] == by_mail
    assert _count(slug, Account) == accounts
    page = client.get(f"/app/{slug}/accounts/{by_mail}").get_data(as_text=True)
    assert "Zbyszek" in page  # the new contact is in the account's related list


def test_free_mail_domains_never_match_an_account(client):
    slug, _ = signup(client)
    # Someone typed a free-mail domain as a website: it must not attract every lead.
    make(slug, "account", name="Gmail Fan Club", website="gmail.com")
    make(slug, "account", name="QQ Fans", website="qq.com")
    lead = make(slug, "lead", last_name="Li", company="Li's Noodles", email="li.noodles@qq.com")
    other = make(slug, "lead", last_name="Brown", email="brown@gmail.com")
    assert leads.email_domain("someone@163.com") is None
    assert leads.email_domain("someone@Wolski.example") == "wolski.example"
    accounts = _count(slug, Account)
    result = _convert(slug, lead)
    assert result["account_created"]
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(Account, result["account"]).name == "Li's Noodles"
    # No company: the person's own (new) account, not the free-mail one.
    result = _convert(slug, other)
    assert result["account_created"]
    assert _count(slug, Account) == accounts + 2


def test_the_user_may_create_new_records_or_pick_others_instead_of_the_matches(client):
    slug, email = signup(client)
    me = user_id(email)
    make(slug, "account", me, name="Twin Peaks")
    other = make(slug, "account", me, name="Great Northern")
    make(slug, "contact", me, last_name="Cooper", email="dale@twin.example")
    lead = make(
        slug, "lead", me, last_name="Cooper", company="Twin Peaks", email="dale@twin.example"
    )
    accounts, contacts = _count(slug, Account), _count(slug, Contact)
    resp = post(
        client,
        f"/app/{slug}/leads/{lead}/convert",
        {"account": "other", "account_other": f"Great Northern (#{other})", "contact": "new"},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/accounts/{other}")
    assert (_count(slug, Account), _count(slug, Contact)) == (accounts, contacts + 1)
    assert _count(slug, Deal) == 0  # no deal unless asked for

    lead2 = make(slug, "lead", me, last_name="Truman", company="Twin Peaks")
    resp = post(client, f"/app/{slug}/leads/{lead2}/convert", {"account": "new", "contact": "new"})
    assert resp.status_code == 302 and _count(slug, Account) == accounts + 1  # on purpose


def test_bad_deal_input_is_explained_and_nothing_is_converted(client):
    slug, _ = signup(client)
    lead = make(slug, "lead", last_name="Bad", company="Bad Input Inc")
    resp = post(
        client,
        f"/app/{slug}/leads/{lead}/convert",
        {"account": "new", "contact": "new", "create_deal": "on", "deal_amount": "lots"},
    )
    assert resp.status_code == 400
    assert "Amount: enter a number like 1250.50." in resp.get_data(as_text=True)
    resp = post(
        client,
        f"/app/{slug}/leads/{lead}/convert",
        {"account": "other", "account_other": "No Such Company", "contact": "new"},
    )
    assert resp.status_code == 400 and "no Account named" in resp.get_data(as_text=True)
    assert _count(slug, Account) == 0 and _count(slug, Contact) == 0
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(Lead, lead).converted_at is None


def test_a_converted_lead_cannot_be_converted_again(client):
    slug, _ = signup(client)
    lead = make(slug, "lead", last_name="Once", company="Once Only Ltd")
    _convert(slug, lead, create_deal=True)
    with pytest.raises(records.ValidationErrors) as exc:
        _convert(slug, lead, create_deal=True)
    assert "converted already" in exc.value.errors["lead"]
    resp = client.get(f"/app/{slug}/leads/{lead}/convert")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/leads/{lead}")
    assert "converted already" in client.get(resp.headers["Location"]).get_data(as_text=True)
    resp = post(client, f"/app/{slug}/leads/{lead}/convert", {"account": "new", "contact": "new"})
    assert resp.status_code == 302
    assert (_count(slug, Account), _count(slug, Contact), _count(slug, Deal)) == (1, 1, 1)
    assert len(_entries(slug, "lead", lead)) == 1


def test_conversion_only_sees_and_links_what_the_user_may_see(client, make_client):
    slug, owner_email = signup(client)
    owner = user_id(owner_email)
    post(
        client,
        f"/app/{slug}/settings",
        {
            "company": "Visible Co",
            "currency": "USD",
            "timezone": "UTC",
            "locale": "en",
            "date_format": "YYYY-MM-DD",
            "visibility_admin": "all",
            "visibility_member": "own",
            "visibility_readonly": "all",
        },
    )
    rep = make_client()
    rep_email, rep_id = add_member(slug, "member")
    login(rep, rep_email)
    hidden = make(slug, "account", owner, name="Secret Holdings")
    not_mine = make(slug, "lead", owner, last_name="Boss", company="Boss Lead")
    mine = make(slug, "lead", rep_id, last_name="Rep", company="Secret Holdings")
    assert rep.get(f"/app/{slug}/leads/{not_mine}/convert").status_code == 404
    assert post(rep, f"/app/{slug}/leads/{not_mine}/convert", {}).status_code == 404
    page = rep.get(f"/app/{slug}/leads/{mine}/convert").get_data(as_text=True)
    assert "Secret Holdings (#" not in page and "Use existing" not in page
    resp = post(
        rep,
        f"/app/{slug}/leads/{mine}/convert",
        {"account": str(hidden), "contact": "new"},
    )
    assert resp.status_code == 400 and "does not exist" in resp.get_data(as_text=True)
    resp = post(rep, f"/app/{slug}/leads/{mine}/convert", {"account": "new", "contact": "new"})
    assert resp.status_code == 302
    # What the rep's lead became is the rep's, and the rep can open it.
    assert rep.get(resp.headers["Location"]).status_code == 200
    with db.scope(tenant_ref(slug)) as s:
        lead = s.get(Lead, mine)
        assert s.get(Account, lead.account_id).owner_id == rep_id
        assert s.get(Contact, lead.contact_id).owner_id == rep_id
