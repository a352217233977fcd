from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField

from saas.forms import name_field
from saas.modules.workspace.service import CURRENCIES, TIMEZONES


class SettingsForm(FlaskForm):
    company = name_field("Company name", "Enter your company's name.")
    currency = SelectField("Currency", choices=[(c, c) for c in CURRENCIES])
    timezone = SelectField("Time zone", choices=[(t, t) for t in TIMEZONES])
    locale = SelectField("Language", choices=[("en", "English"), ("zh", "简体中文")])
