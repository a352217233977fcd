"""What a notification can be about, and how each user may receive each kind.

A kind is a programming contract, not user input: ``notify()`` refuses one that is
not listed here, so a typo cannot create notifications nobody can switch off.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Kind:
    name: str
    label: object  # lazy string: shown on the preferences page
    hint: object  # lazy string: when it is sent
    summary: object  # lazy "%(n)d …": the title of a batch of them (always 2 or more)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "assigned",
            _l("Assigned to you"),
            _l("A record becomes yours because someone else, a rule, an import or a transfer "
               "gave it to you."),
            _l("%(n)d records were assigned to you"),
        ),
        Kind(
            "mention",
            _l("Mentions"),
            _l("Someone mentions you in a note (@name)."),
            _l("You were mentioned in %(n)d notes"),
        ),
        Kind(
            "task_due",
            _l("Task due"),
            _l("One of your open tasks reaches its due time."),
            _l("%(n)d of your tasks are due"),
        ),
        Kind(
            "task_overdue",
            _l("Task overdue"),
            _l("One of your tasks is still open after the end of its due day."),
            _l("%(n)d of your tasks are overdue"),
        ),
        Kind(
            "workflow",
            _l("Workflow rules"),
            _l("An automation rule notifies you."),
            _l("%(n)d notifications from workflow rules"),
        ),
        Kind(
            "import_finished",
            _l("Import finished"),
            _l("An import you started has finished."),
            _l("%(n)d imports finished"),
        ),
        Kind(
            "export_finished",
            _l("Export finished"),
            _l("An export you asked for is ready."),
            _l("%(n)d exports are ready"),
        ),
        Kind(
            "birthday",
            _l("Contacts' birthdays"),
            _l("One of your contacts has a birthday today (when the company turned it on)."),
            _l("%(n)d of your contacts have a birthday today"),
        ),
        Kind(
            "renewal",
            _l("Contract renewals"),
            _l("One of your contracts is due for renewal."),
            _l("%(n)d of your contracts are due for renewal"),
        ),
        Kind(
            "webhook_disabled",
            _l("Webhook endpoint disabled"),
            _l("A webhook endpoint failed for a day and was switched off (admins)."),
            _l("%(n)d webhook endpoints were disabled"),
        ),
    )
}  # fmt: skip

# How a user receives a kind. "email" is what everybody got before preferences existed.
CHANNELS = {
    "email": _l("In the app and by e-mail at once"),
    "digest": _l("In the app, and in one e-mail a day"),
    "in_app": _l("In the app only"),
    "off": _l("Off"),
}
DEFAULT_CHANNEL = "email"


def check(kind: str) -> Kind:
    """The kind named ``kind``; a ValueError for one that does not exist (a bug)."""
    found = KINDS.get(kind)
    if found is None:
        raise ValueError(f"unknown notification kind {kind!r}; add it to {__name__}.KINDS")
    return found
