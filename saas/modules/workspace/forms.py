from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.fields.choices import SelectChoice

from saas.forms import name_field
from saas.i18n import DATE_FORMATS
from saas.modules.records.access import SCOPES
from saas.modules.workspace.service import CURRENCIES, TIMEZONES

# Owners always see everything; these roles' visibility is the admin's choice.
VISIBILITY_ROLES = ("admin", "member", "readonly")
SCOPE_LABELS = {
    "own": _l("Only records they own"),
    "team": _l("Records of their teams"),
    "all": _l("All records"),
}


def _scope_field(label) -> SelectField:
    return SelectField(label, choices=[SelectChoice(s, SCOPE_LABELS[s]) for s in SCOPES])


class SettingsForm(FlaskForm):
    company = name_field(_l("Company name"), _l("Enter your company's name."))
    currency = SelectField(_l("Currency"), choices=[SelectChoice(c) for c in CURRENCIES])
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(t) for t in TIMEZONES])
    locale = SelectField(
        _l("Language"), choices=[SelectChoice("en", "English"), SelectChoice("zh", "简体中文")]
    )
    date_format = SelectField(
        _l("Date format"),
        choices=[SelectChoice(key, example) for key, (_, example) in DATE_FORMATS.items()],
    )
    birthday_reminders = BooleanField(_l("Remind owners of contacts' birthdays"))
    visibility_admin = _scope_field(_l("Admins see"))
    visibility_member = _scope_field(_l("Members see"))
    visibility_readonly = _scope_field(_l("Read-only users see"))

    @staticmethod
    def visibility_data(visibility: dict) -> dict:
        """Form data from the ``visibility`` setting."""
        return {f"visibility_{role}": visibility.get(role, "all") for role in VISIBILITY_ROLES}

    def visibility(self) -> dict:
        """The ``visibility`` setting from the submitted form."""
        return {role: getattr(self, f"visibility_{role}").data for role in VISIBILITY_ROLES}
