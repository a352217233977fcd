"""Form fields shared by every form; validation of each kind of value lives here once."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

# WTForms fills in %(max)d itself when the validator fails.
TOO_LONG = _l("Use at most %(max)d characters.")


def normalize_email(value: str) -> str:
    """Check an e-mail address and return it lower-cased, or raise ValueError with a sentence."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(_("Enter a valid e-mail address (%(reason)s).", reason=exc)) from None


class EmailAddress:
    def __call__(self, form, field):
        try:
            field.data = normalize_email(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def email_field(label: str = _l("E-mail")) -> EmailField:
    return EmailField(
        label,
        validators=[
            DataRequired(_l("Enter your e-mail address.")),
            Length(max=254, message=TOO_LONG),
            EmailAddress(),
        ],
    )


def name_field(label: str, message: str, max_length: int = 200) -> StringField:
    return StringField(
        label,
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(message),
            Length(max=max_length, message=TOO_LONG),
        ],
    )


def password_field(label: str = _l("Password")) -> PasswordField:
    return PasswordField(label, validators=[DataRequired(_l("Enter a password."))])
