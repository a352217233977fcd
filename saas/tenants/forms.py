from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired

from saas.forms import email_field, name_field
from saas.modules.accounts.forms import NewPassword


class NewCompanyForm(FlaskForm):
    company = name_field("Company name", "Enter your company's name.")


class SignupForm(NewCompanyForm):
    name = name_field("Your name", "Enter your name.")
    email = email_field("Work e-mail")
    password = PasswordField(
        "Password", validators=[DataRequired("Choose a password."), NewPassword()]
    )
