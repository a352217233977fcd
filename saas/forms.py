"""Form fields shared by every form; validation of each kind of value lives here once."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError


def normalize_email(value: str) -> str:
    """Check an e-mail address and return it lower-cased, or raise ValueError with a sentence."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"Enter a valid e-mail address ({exc}).") from None


class EmailAddress:
    def __call__(self, form, field):
        try:
            field.data = normalize_email(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def email_field(label: str = "E-mail") -> EmailField:
    return EmailField(
        label,
        validators=[DataRequired("Enter your e-mail address."), Length(max=254), EmailAddress()],
    )


def name_field(label: str, message: str, max_length: int = 200) -> StringField:
    return StringField(
        label,
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(message),
            Length(max=max_length, message=f"Use at most {max_length} characters."),
        ],
    )


def password_field(label: str = "Password") -> PasswordField:
    return PasswordField(label, validators=[DataRequired("Enter a password.")])
