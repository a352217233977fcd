from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, ValidationError

from saas.forms import email_field, name_field, password_field
from saas.modules.accounts.models import ROLE_LABELS
from saas.modules.accounts.passwords import password_problem


class NewPassword:
    """The password policy, with the form's name / e-mail / company as context."""

    def __call__(self, form, field):
        context = [getattr(form, n).data for n in ("name", "email", "company") if hasattr(form, n)]
        problem = password_problem(field.data or "", *[c or "" for c in context])
        if problem:
            raise ValidationError(problem)


class LoginForm(FlaskForm):
    email = email_field()
    password = password_field()
    remember = BooleanField(_l("Keep me signed in"))


class ForgotPasswordForm(FlaskForm):
    email = email_field()


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(_l("Enter a password.")), NewPassword()]
    )


class AcceptInvitationForm(FlaskForm):
    """A new user joining through an invitation (e-mail comes from the invitation)."""

    name = name_field(_l("Your name"), _l("Enter your name."))
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter a password.")), NewPassword()]
    )


class InviteForm(FlaskForm):
    email = email_field(_l("E-mail of the person to invite"))
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ("member", "readonly", "admin", "owner")],
        default="member",
    )


class RoleForm(FlaskForm):
    role = SelectField(
        _l("Role"), choices=[SelectChoice(r, label) for r, label in ROLE_LABELS.items()]
    )
