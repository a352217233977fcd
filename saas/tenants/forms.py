from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired

from saas.forms import email_field, name_field
from saas.modules.accounts.forms import NewPassword


class NewCompanyForm(FlaskForm):
    company = name_field(_l("Company name"), _l("Enter your company's name."))


class SignupForm(NewCompanyForm):
    name = name_field(_l("Your name"), _l("Enter your name."))
    email = email_field(_l("Work e-mail"))
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Choose a password.")), NewPassword()]
    )
