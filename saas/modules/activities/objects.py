"""The activity object type."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from saas.modules.activities.models import Activity
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, register, standard_fields

KINDS = (
    ("task", _l("Task")), ("call", _l("Call")), ("meeting", _l("Meeting")),
    ("email", _l("E-mail")), ("note", _l("Note")),
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
        fields=(
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
            Field("related_object", _l("Related to"), editable=False, max_length=40),
            Field("related_id", _l("Related record"), "integer", editable=False),
            Field("done_at", _l("Completed"), "datetime", editable=False, filter=True),
            *standard_fields(owner_label=_l("Assigned to")),
        ),
    )
)
