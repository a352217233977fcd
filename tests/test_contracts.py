"""Contracts (renewal reminders, renewal) and licences (keys, one per customer and
product, extend / suspend / revoke)."""

import re
from datetime import date, timedelta

from sqlalchemy import func, select

from saas.db import db, session
from saas.modules.activities.models import Activity
from saas.modules.contracts import service
from saas.modules.contracts.jobs import contract_renewals, sweep_contract_renewals
from saas.modules.contracts.models import Contract, Licence
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.schedule import PERIODIC
from tests.conftest import post, signup
from tests.factories import make, tenant_ref, user_id


def _page(client, url) -> str:
    return client.get(url, follow_redirects=True).get_data(as_text=True)


def _id_from(resp) -> int:
    return int(resp.headers["Location"].rstrip("/").split("#")[0].split("/")[-1])


def _load(slug, model, record_id):
    with db.scope(tenant_ref(slug)) as s:
        record = s.get(model, record_id)
        s.expunge(record)
        return record


# -- licences ---------------------------------------------------------------------------


def test_licence_keys_are_unique_and_well_formed(client):
    slug, email = signup(client)
    ids = [make(slug, "licence", user_id(email)) for _ in range(5)]
    with db.scope(tenant_ref(slug)):
        keys = session().execute(select(Licence.key).where(Licence.id.in_(ids))).scalars().all()
    assert len(set(keys)) == 5
    assert all(re.fullmatch(r"([A-HJ-NP-Z2-9]{5}-){4}[A-HJ-NP-Z2-9]{5}", k) for k in keys)


def test_second_licence_for_customer_and_product_is_a_form_error(client):
    slug, email = signup(client)
    actor = user_id(email)
    account = make(slug, "account", actor, name="Acme")
    product = make(slug, "product", actor, name="Editor Pro")
    other = make(slug, "product", actor, name="Viewer")
    data = {"account_id": str(account), "product_id": str(product), "seats": "10",
            "expires_on": "2027-01-31"}  # fmt: skip
    resp = post(client, f"/app/{slug}/licences/new", data)
    assert resp.status_code == 302
    first = _load(slug, Licence, _id_from(resp))
    assert first.seats == 10 and first.status == "active" and first.key

    resp = post(client, f"/app/{slug}/licences/new", data)
    assert resp.status_code == 400
    assert f"This customer already has a licence for this product ({first.key})" in resp.get_data(
        as_text=True
    )
    # Another product, or the same product for another customer, is fine.
    assert (
        post(client, f"/app/{slug}/licences/new", {**data, "product_id": str(other)}).status_code
        == 302
    )
    second_account = make(slug, "account", actor, name="Globex")
    assert (
        post(
            client, f"/app/{slug}/licences/new", {**data, "account_id": str(second_account)}
        ).status_code
        == 302
    )
    # Moving a licence onto a taken pair is refused too.
    with db.scope(tenant_ref(slug)):
        taken = (
            session()
            .execute(select(Licence).where(Licence.account_id == second_account))
            .scalar_one()
        )
        try:
            records.update(get("licence"), taken, {"account_id": account}, trusted=True)
            raise AssertionError("two live licences")
        except records.ValidationErrors as exc:
            assert first.key in str(exc)
    # Once the first one is in the recycle bin, a new one can be issued.
    post(client, f"/app/{slug}/licences/{first.id}/delete")
    assert post(client, f"/app/{slug}/licences/new", data).status_code == 302


def test_unique_index_race_is_a_form_error(client, monkeypatch):
    """If the check misses a twin (written by a transaction it could not see), the
    unique index refuses it and the user still gets the sentence, not a 500."""
    slug, email = signup(client)
    actor = user_id(email)
    contract = make(slug, "contract", actor, account_id=make(slug, "account", actor))
    product = make(slug, "product", actor)
    with db.scope(tenant_ref(slug)):
        contract_row = session().get(Contract, contract)
        service.issue_licence({"product_id": str(product), "seats": "1"}, contract=contract_row)
        first_key = session().execute(select(Licence.key)).scalar_one()
        original, calls = service.live_licence, []

        def blind_once(*args, **kwargs):  # the check misses the twin, once
            calls.append(args)
            return None if len(calls) == 1 else original(*args, **kwargs)

        monkeypatch.setattr(service, "live_licence", blind_once)
        try:
            service.issue_licence({"product_id": str(product), "seats": "2"}, contract=contract_row)
            raise AssertionError("the index let a twin in")
        except records.ValidationErrors as exc:
            assert f"already has a licence for this product ({first_key})" in str(exc)
        count = session().execute(select(func.count()).select_from(Licence)).scalar()
        assert count == 1


def test_issue_licence_from_contract_page_and_licence_actions(client):
    slug, email = signup(client)
    actor = user_id(email)
    account = make(slug, "account", actor, name="Initech")
    product = make(slug, "product", actor, name="TPS Reports")
    contract = make(slug, "contract", actor, name="Support", account_id=account,
                    status="active", start_date="2026-01-01", end_date="2026-12-31")  # fmt: skip
    resp = post(
        client, f"/app/{slug}/contracts/{contract}/licences", {"product_id": product, "seats": "25"}
    )
    assert resp.status_code == 302 and "/licences/" in resp.headers["Location"]
    licence_id = _id_from(resp)
    licence = _load(slug, Licence, licence_id)
    assert (licence.account_id, licence.contract_id, licence.seats) == (account, contract, 25)
    assert licence.expires_on == date(2026, 12, 31)  # the contract's end by default
    page = _page(client, f"/app/{slug}/licences/{licence_id}")
    assert licence.key in page and "25" in page
    contract_page = _page(client, f"/app/{slug}/contracts/{contract}")
    assert licence.key in contract_page and "Licence issued" in contract_page

    resp = post(
        client, f"/app/{slug}/contracts/{contract}/licences", {"product_id": product, "seats": "5"}
    )
    assert f"already has a licence for this product ({licence.key})" in _page(
        client, resp.headers["Location"]
    )

    url = f"/app/{slug}/licences/{licence_id}/action"
    resp = post(client, url, {"action": "extend", "expires_on": "2026-06-30"})
    assert "after the current expiry" in _page(client, resp.headers["Location"])
    post(client, url, {"action": "extend", "expires_on": "2027-12-31"})
    assert _load(slug, Licence, licence_id).expires_on == date(2027, 12, 31)
    resp = post(client, url, {"action": "reactivate"})
    assert "Only a suspended licence" in _page(client, resp.headers["Location"])
    post(client, url, {"action": "suspend"})
    assert _load(slug, Licence, licence_id).status == "suspended"
    post(client, url, {"action": "reactivate"})
    post(client, url, {"action": "revoke"})
    assert _load(slug, Licence, licence_id).status == "revoked"
    resp = post(client, url, {"action": "extend", "expires_on": "2030-01-01"})
    assert "A revoked licence cannot be extended" in _page(client, resp.headers["Location"])
    page = _page(client, f"/app/{slug}/licences/{licence_id}")
    for entry in (
        "Licence extended",
        "Licence suspended",
        "Licence reactivated",
        "Licence revoked",
    ):
        assert entry in page
    assert _load(slug, Licence, licence_id).expires_on == date(2027, 12, 31)


# -- renewal reminders --------------------------------------------------------------------


def _due_contract(slug, actor, **values) -> int:
    end = date.today() + timedelta(days=20)
    return make(slug, "contract", actor, **{"name": "Hosting", "status": "active",
                "start_date": str(end - timedelta(days=364)), "end_date": str(end),
                "renewal_notice_days": "30", **values})  # fmt: skip


def _reminder_tasks(slug, contract_id) -> list[Activity]:
    with db.scope(tenant_ref(slug)) as s:
        rows = list(
            s.execute(
                select(Activity).where(
                    Activity.related_object == "contract", Activity.related_id == contract_id
                )
            ).scalars()
        )
        s.expunge_all()
        return rows


def test_renewal_reminder_job_makes_one_task_and_one_email(
    app, client, make_client, run_jobs, mailbox
):
    slug, email = signup(client, name="Olivia Owner")
    actor = user_id(email)
    due = _due_contract(slug, actor, account_id=make(slug, "account", actor, name="Umbrella"))
    not_yet = _due_contract(slug, actor, end_date=str(date.today() + timedelta(days=90)))
    draft = _due_contract(slug, actor, status="draft")
    no_end = make(slug, "contract", actor, status="active")
    # Another tenant's due contract: that tenant's owner is told, not ours.
    other_browser = make_client()
    other_slug, other_email = signup(other_browser)
    other_due = _due_contract(other_slug, user_id(other_email))

    for _ in range(2):  # the periodic job as the scheduler runs it, twice: nothing new
        with app.app_context(), db.scope():
            sweep_contract_renewals()
        run_jobs()

    (task,) = _reminder_tasks(slug, due)
    contract = _load(slug, Contract, due)
    assert task.kind == "task" and task.owner_id == actor and not task.done
    assert task.subject == f"Renew contract {contract.number} Hosting"
    assert task.due_at.date() == date.today()  # the notice date has passed: due now
    assert contract.renewal_reminded_at is not None
    for other in (not_yet, draft, no_end):
        assert _reminder_tasks(slug, other) == []
        assert _load(slug, Contract, other).renewal_reminded_at is None
    mails = [m for m in mailbox(email) if m["subject"].startswith("Renew contract")]
    assert len(mails) == 1
    assert contract.number in mails[0]["body"] and "Umbrella" in mails[0]["body"]
    assert f"/app/{slug}/contracts/{due}" in mails[0]["body"]
    assert len([m for m in mailbox(other_email) if m["subject"].startswith("Renew contract")]) == 1
    assert len(_reminder_tasks(other_slug, other_due)) == 1

    page = _page(client, f"/app/{slug}/contracts/{due}")
    assert "Renewal reminder sent" in page and "Renew contract" in page  # timeline + task

    # Running the tenant job directly twice changes nothing either.
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert contract_renewals() == 0
    # A new end date (the contract was extended) deserves a new reminder.
    post(client, f"/app/{slug}/contracts/{due}/edit", {
        "name": "Hosting", "status": "active", "start_date": str(contract.start_date),
        "end_date": str(contract.end_date + timedelta(days=5)), "renewal_notice_days": "30",
        "owner_id": str(actor)})  # fmt: skip
    assert _load(slug, Contract, due).renewal_reminded_at is None
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert contract_renewals() == 1
    assert len(_reminder_tasks(slug, due)) == 2


def test_reminders_are_scheduled_and_skip_long_ended_contracts(app, client):
    assert any(fn is sweep_contract_renewals for _, fn, _ in PERIODIC)
    slug, email = signup(client)
    old = _due_contract(slug, user_id(email), end_date=str(date.today() - timedelta(days=400)),
                        start_date=str(date.today() - timedelta(days=800)))  # fmt: skip
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert contract_renewals() == 0
    assert _reminder_tasks(slug, old) == []


def test_renew_drafts_the_next_term(client):
    slug, email = signup(client)
    actor = user_id(email)
    contract = make(slug, "contract", actor, name="Annual", status="active", value="1200",
                    start_date="2027-01-01", end_date="2027-12-31")  # fmt: skip
    resp = post(client, f"/app/{slug}/contracts/{contract}/renew")
    assert resp.status_code == 302
    follow_up = _load(slug, Contract, _id_from(resp))
    assert (follow_up.start_date, follow_up.end_date) == (date(2028, 1, 1), date(2028, 12, 31))
    assert follow_up.status == "draft" and follow_up.name == "Annual" and follow_up.value == 1200
    assert _load(slug, Contract, contract).status == "renewed"
    resp = post(client, f"/app/{slug}/contracts/{contract}/renew")
    assert "Only an active or expired contract" in _page(client, resp.headers["Location"])
    assert "Renewed" in _page(client, f"/app/{slug}/contracts/{contract}")
    # Odd lengths keep their number of days.
    assert service.next_term(date(2026, 3, 10), date(2026, 4, 18)) == (
        date(2026, 4, 19),
        date(2026, 5, 28),
    )
    assert service.next_term(date(2026, 1, 31), date(2026, 2, 27))[0] == date(2026, 2, 28)


def test_contract_end_before_start_is_refused(client):
    slug, _ = signup(client)
    resp = post(client, f"/app/{slug}/contracts/new",
                {"name": "Backwards", "start_date": "2026-05-01", "end_date": "2026-04-01"})  # fmt: skip
    assert resp.status_code == 400 and "on or after the start" in resp.get_data(as_text=True)


def test_contracts_and_licences_past_their_end_become_expired(app, client):
    slug, email = signup(client)
    actor = user_id(email)
    yesterday = date.today() - timedelta(days=1)
    ended = _due_contract(
        slug, actor, start_date=str(yesterday - timedelta(days=365)), end_date=str(yesterday)
    )
    running = _due_contract(slug, actor)
    lapsed = make(slug, "licence", actor, expires_on=str(yesterday))
    valid = make(slug, "licence", actor, expires_on=str(date.today()))
    with app.app_context(), db.scope(tenant_ref(slug)):
        contract_renewals()
    assert _load(slug, Contract, ended).status == "expired"
    assert _load(slug, Contract, running).status == "active"
    assert _load(slug, Licence, lapsed).status == "expired"
    assert _load(slug, Licence, valid).status == "active"
    page = _page(client, f"/app/{slug}/licences/{lapsed}")
    assert "<del>Active</del>" in page and "<ins>Expired</ins>" in page  # on the timeline
