"""Pages of the leads module beyond the generic record pages: conversion."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from saas.modules.deals import service as deals
from saas.modules.leads import service
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.records.views import record_or_404, record_url

bp = Blueprint("leads", __name__)
# Deal fields of the conversion form, by the deal field an error is about.
DEAL_INPUTS = {"name": "deal_name", "amount": "deal_amount", "stage_id": "stage_id"}


def _pick(kind: str, lookup_field: str):
    """The form's choice for the account or contact: an id, NEW, or None (bad input)."""
    choice = request.form.get(kind, "")
    if choice == service.NEW:
        return service.NEW
    if choice == "other":
        raw = request.form.get(f"{kind}_other", "").strip()
        if not raw:
            raise records.ValidationErrors({kind: _("Type the name of the record to use.")})
        try:  # the same lookup parsing as every record form ("Name (#12)", a name, an id)
            return records.validate(get("deal"), {lookup_field: raw}, partial=True)[lookup_field]
        except records.ValidationErrors as exc:
            raise records.ValidationErrors({kind: exc.errors[lookup_field]}) from None
    if choice.isdigit():
        return int(choice)
    raise records.ValidationErrors({kind: _("Choose an existing record or create a new one.")})


def _render(lead, errors: dict, status: int = 200):
    accounts = service.account_matches(lead)
    contacts = service.contact_matches(lead)
    form = request.form if request.method == "POST" else {}
    title = lead.company or lead.full_name
    values = {
        "account": form.get("account") or (str(accounts[0].record.id) if accounts else "new"),
        "contact": form.get("contact") or (str(contacts[0].record.id) if contacts else "new"),
        "account_other": form.get("account_other", ""),
        "contact_other": form.get("contact_other", ""),
        "create_deal": form.get("create_deal") == "on" if form else True,
        "deal_name": form.get("deal_name", title),
        "deal_amount": form.get("deal_amount", ""),
        "stage_id": form.get("stage_id") or str(deals.default_stage_id() or ""),
    }
    return render_template(
        "leads/convert.html",
        otype=get("lead"),
        lead=lead,
        accounts=accounts,
        contacts=contacts,
        account_name=(lead.company or "").strip() or lead.full_name,
        values=values,
        stages=deals.stage_options(),
        errors=errors,
    ), status


@bp.route("/leads/<int:lead_id>/convert", methods=["GET", "POST"])
def convert(lead_id: int):
    lead = record_or_404(get("lead"), lead_id)
    if lead.converted_at is not None:
        flash(_("This lead was converted already; open what it became from its page."), "error")
        return redirect(record_url("lead", lead.id))
    if request.method == "GET":
        return _render(lead, {})
    try:
        result = service.convert(
            lead,
            account_id=_pick("account", "account_id"),
            contact_id=_pick("contact", "contact_id"),
            create_deal=request.form.get("create_deal") == "on",
            deal_name=request.form.get("deal_name", ""),
            deal_amount=request.form.get("deal_amount", ""),
            stage_id=request.form.get("stage_id", ""),
            actor=current_user.id,
        )
    except records.ValidationErrors as exc:
        errors = {DEAL_INPUTS.get(k, k): v for k, v in exc.errors.items()}
        # A rule or a required custom field of the new records: said at the top.
        shown = {"lead", "account", "contact", "deal_name", "deal_amount", "stage_id"}
        others = [v for k, v in errors.items() if k not in shown]
        if others:
            errors["lead"] = " ".join([errors.get("lead", ""), *others]).strip()
        return _render(lead, errors, 400)
    message = _(
        "Lead converted: %(account)s, %(contact)s.",
        account=result["account"].name,
        contact=result["contact"].full_name,
    )
    if result["deal"] is not None:
        message += " " + _("Deal “%(name)s” created.", name=result["deal"].name)
    flash(message, "success")
    if result["deal"] is not None:
        return redirect(record_url("deal", result["deal"].id))
    return redirect(record_url("account", result["account"].id))
