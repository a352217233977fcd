from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import Length, Optional

from saas.forms import EmailAddress, name_field


def _optional(label: str, max_length: int) -> StringField:
    return StringField(
        label,
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            Optional(),
            Length(max=max_length, message=f"Use at most {max_length} characters."),
        ],
    )


class ContactForm(FlaskForm):
    first_name = _optional("First name", 100)
    last_name = name_field("Last name", "Enter the contact's last name.", 100)
    email = EmailField("E-mail", validators=[Optional(), Length(max=254), EmailAddress()])
    phone = _optional("Phone", 50)
    company = _optional("Company", 200)
