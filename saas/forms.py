"""Form fields shared by every form; validation of each kind of value lives here once."""

from __future__ import annotations

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

# WTForms fills in %(max)d itself when the validator fails.
TOO_LONG = _l("Use at most %(max)d characters.")


# Plain ASCII addresses that email_validator accepts as they are (dot-atoms, host names
# with a top-level label of letters): checked here without it, a hundred times faster,
# which an import of a million rows feels. Anything else goes through the validator.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{2,63}}", re.ASCII)


def normalize_email(value: str) -> str:
    """Check an e-mail address and return it lower-cased, or raise ValueError with a sentence."""
    plain = value.strip().lower()
    if (
        len(plain) <= 254
        and _PLAIN.fullmatch(plain)
        and len(plain.partition("@")[0]) <= 64
        and "--" not in plain.partition("@")[2]
        and plain.rsplit(".", 1)[1] not in SPECIAL_USE_DOMAIN_NAMES
    ):
        return plain
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
