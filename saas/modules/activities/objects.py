"""The activity object type."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from saas.modules.activities import service
from saas.modules.activities.models import Activity
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, register, standard_fields

KINDS = (
    ("task", _l("Task")), ("call", _l("Call")), ("meeting", _l("Meeting")),
    ("email", _l("E-mail")), ("note", _l("Note")),
)  # fmt: skip
# What an activity can be about (object names; labels for its page and list filter).
RELATED = (
    ("account", _l("Account")), ("contact", _l("Contact")), ("lead", _l("Lead")),
    ("deal", _l("Deal")), ("quote", _l("Quote")), ("order", _l("Order")),
    ("contract", _l("Contract")), ("licence", _l("Licence")), ("product", _l("Product")),
    ("activity", _l("Activity")),
)  # fmt: skip
PRIORITIES = (("high", _l("High")), ("normal", _l("Normal")), ("low", _l("Low")))

activity = register(
    ObjectType(
        name="activity",
        model=Activity,
        label=_l("Activity"),
        plural=_l("Activities"),
        slug="activities",
        title=lambda a: a.subject,
        search_fields=("subject", "body"),
        default_sort="due_at",
        before_write=service.before_write,
        after_write=service.after_write,
        detail_template="activities/_detail.html",
        actions_template="activities/_actions.html",
        views=(
            (_l("My open activities"), "tenant.activities.mine"),
            (_l("Calendar"), "tenant.activities.calendar"),
        ),
        standard=(
            Field(
                "kind",
                _l("Type"),
                "choice",
                choices=KINDS,
                required=True,
                in_list=True,
                filter=True,
                default="task",
            ),
            Field("subject", _l("Subject"), required=True, in_list=True),
            Field("due_at", _l("Due"), "datetime", in_list=True, filter=True),
            Field("end_at", _l("Ends"), "datetime"),
            Field("done", _l("Done"), "bool", in_list=True, filter=True),
            Field("priority", _l("Priority"), "choice", choices=PRIORITIES, filter=True),
            Field("remind_at", _l("Remind me at"), "datetime"),
            Field("body", _l("Details"), "longtext", max_length=20000),
            Field(
                "related_object",
                _l("Related to"),
                "choice",
                choices=RELATED,
                editable=False,
                filter=True,
                max_length=40,
            ),
            Field("related_id", _l("Related record"), "integer", editable=False),
            Field("done_at", _l("Completed"), "datetime", editable=False, filter=True),
            Field("reminded_at", _l("Reminder sent"), "datetime", editable=False),
            *standard_fields(owner_label=_l("Assigned to")),
        ),
    )
)
