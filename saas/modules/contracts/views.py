"""Pages of the contracts module beyond the generic record pages: licences issued
from a contract, renewing a contract, and a licence's extend / suspend / revoke."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request
from flask_babel import gettext as _
from flask_login import current_user

from saas.modules.contracts import service
from saas.modules.records.registry import get
from saas.modules.records.views import record_or_404, record_url
from saas.modules.sales.service import active_products, today
from saas.modules.sales.views import attempt

bp = Blueprint("contracts", __name__)
LICENCE_ACTIONS = {
    "extend": service.extend_licence,
    "suspend": service.suspend_licence,
    "reactivate": service.reactivate_licence,
    "revoke": service.revoke_licence,
}


@bp.app_template_global()
def contracts_panel(record) -> dict:
    """What a contract's or licence's page offers besides its fields."""
    if record.__tablename__ == "contracts":
        return {
            "products": active_products(),
            "renewable": record.status in service.RENEWABLE,
            "reminder_on": service.reminder_date(record) if record.end_date else None,
        }
    return {"today": today()}


@bp.route("/contracts/<int:contract_id>/licences", methods=["POST"])
def issue_licence(contract_id: int):
    contract = record_or_404(get("contract"), contract_id)
    if not contract.account_id:
        flash(_("Set the contract's customer (account) first."), "error")
        return redirect(record_url("contract", contract.id))
    raw = {k: request.form.get(k, "") for k in ("product_id", "seats", "expires_on", "notes")}
    done, licence = attempt(service.issue_licence, raw, actor=current_user.id, contract=contract)
    if done:
        flash(_("Licence %(key)s issued.", key=licence.key), "success")
        return redirect(record_url("licence", licence.id))
    return redirect(record_url("contract", contract.id) + "#issue-licence")


@bp.route("/contracts/<int:contract_id>/renew", methods=["POST"])
def renew(contract_id: int):
    contract = record_or_404(get("contract"), contract_id)
    done, follow_up = attempt(service.renew_contract, contract, actor=current_user.id)
    if done:
        flash(
            _("Contract %(number)s drafted for the next term.", number=follow_up.number), "success"
        )
        return redirect(record_url("contract", follow_up.id))
    return redirect(record_url("contract", contract.id))


@bp.route("/licences/<int:licence_id>/action", methods=["POST"])
def licence_action(licence_id: int):
    licence = record_or_404(get("licence"), licence_id)
    action = LICENCE_ACTIONS.get(request.form.get("action", ""))
    if action is None:
        flash(_("Choose what to do with the licence."), "error")
    else:
        args = (request.form.get("expires_on"),) if action is service.extend_licence else ()
        if attempt(action, licence, *args, actor=current_user.id)[0]:
            flash(_("Licence %(key)s saved.", key=licence.key), "success")
    return redirect(record_url("licence", licence.id))
