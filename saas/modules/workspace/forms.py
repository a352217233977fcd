from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from saas.forms import name_field
from saas.modules.workspace.service import CURRENCIES, TIMEZONES


class SettingsForm(FlaskForm):
    company = name_field("Company name", "Enter your company's name.")
    currency = SelectField("Currency", choices=[SelectChoice(c) for c in CURRENCIES])
    timezone = SelectField("Time zone", choices=[SelectChoice(t) for t in TIMEZONES])
    locale = SelectField(
        "Language", choices=[SelectChoice("en", "English"), SelectChoice("zh", "简体中文")]
    )
