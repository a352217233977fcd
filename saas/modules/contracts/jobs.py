"""Renewal reminders: a periodic sweep enqueues ``contract_renewals`` per tenant, which
gives each contract's owner a task and a notification (kind "renewal": in the app and,
as the owner prefers, e-mailed) once, ``renewal_notice_days`` before the contract ends,
and marks contracts and licences past their end "expired".

Idempotent: a reminded contract is stamped (``renewal_reminded_at``) in the same
transaction as its task and notification (keyed by contract and end date), rows are
locked while handled, and the e-mail is sent only after that transaction commits.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _

from saas.jobs import enqueue_for_every_tenant, job
from saas.modules.contracts import service
from saas.modules.notifications.service import muted, notify
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.workspace.service import member_address


@job(queue="notifications", timeout=600)
def contract_renewals() -> int:
    """This tenant's contracts due for a renewal reminder (a task and an e-mail each);
    then what ended before today (the tenant's today) is marked expired."""
    from saas.modules.workspace.service import settings

    config = settings()
    zone, lang = ZoneInfo(config.get("timezone", "UTC")), config.get("locale", "en")
    today = datetime.now(zone).date()
    count = 0
    for contract in service.due_for_reminder(today):
        owner_id = contract.owner_id or contract.created_by
        notice = service.reminder_date(contract)
        with force_locale(lang):
            subject = _("Renew contract %(title)s", title=get("contract").title(contract))
        # The renewal notification below says it all: no "task assigned to you" as well.
        with muted("assigned"):
            records.create(
                get("activity"),
                {
                    "kind": "task",
                    "subject": subject[:200],
                    "due_at": datetime.combine(max(notice, today), time(9, 0), zone),
                    "priority": "high",
                    "related_object": "contract",
                    "related_id": contract.id,
                    "owner_id": owner_id,
                    "done": False,
                },
                trusted=True,
            )
        contract.renewal_reminded_at = datetime.now(UTC)
        owner = member_address(owner_id)
        records.note_event(contract, "renewal_reminder", None, text=owner[1] if owner else "")
        # In the app, and e-mailed (at once or in the digest) as the owner prefers.
        notify(
            [owner_id],
            kind="renewal",
            title=subject,
            body=_body(contract, lang),
            url=f"/{get('contract').slug}/{contract.id}",
            key=f"renewal:{contract.id}:{contract.end_date.isoformat()}",
        )
        count += 1
    service.expire_ended(today)
    return count


@job(queue="default", tenant=False)
def sweep_contract_renewals() -> int:
    """Periodic: one ``contract_renewals`` job per active tenant."""
    return enqueue_for_every_tenant(contract_renewals)


def _body(contract, lang: str) -> str:
    customer = ""
    if contract.account_id:
        customer = records.titles(get("account"), [contract.account_id]).get(
            contract.account_id, ""
        )
    with force_locale(lang):
        lines = [
            _(
                "The contract %(title)s ends on %(day)s.",
                title=get("contract").title(contract),
                day=format_date(contract.end_date, "yyyy-MM-dd", locale=lang),
            ),
        ]
        if customer:
            lines.append(_("Customer: %(name)s", name=customer))
        lines.append(_("A task to renew it is on your list."))
    return "\n".join(lines)
