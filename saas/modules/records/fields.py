"""Field definitions and the one validation path per field type.

A :class:`Field` describes a column of a CRM object. Forms, list filters,
exports, imports and the API all read values through :func:`parse` and show
them through :func:`display`, so a type behaves the same everywhere.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from saas.forms import normalize_email

TYPES = (
    "text", "longtext", "email", "phone", "url", "integer", "number", "currency", "percent",
    "date", "datetime", "bool", "choice", "multichoice", "tags", "lookup", "user",
)  # fmt: skip
TEXTUAL = {"text", "longtext", "email", "phone", "url"}
SORTABLE = TEXTUAL - {"longtext"} | {
    "integer",
    "number",
    "currency",
    "percent",
    "date",
    "datetime",
    "bool",
    "choice",
}
PHONE = re.compile(r"^(?=[^0-9]*[0-9])\+?[0-9 ().\-/x]{3,40}$")  # and at least one digit
TRUE = {"1", "true", "on", "yes", "y", "是", "对"}
FALSE = {"0", "false", "off", "no", "n", "", "否", "不"}


class FieldError(ValueError):
    """A sentence telling the user how to fix one field's value."""


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    type: str = "text"
    required: bool = False
    max_length: int = 200
    choices: tuple[tuple[str, object], ...] = ()
    target: str | None = None  # object name of a lookup
    in_list: bool = False
    filter: bool = False
    editable: bool = True
    help: str = ""
    section: str = "details"
    places: int = 2
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    default: object = None
    # Choices read from the tenant's data at run time (stages, price lists): a callable
    # returning [(id, label), ...]. Checked on write, offered in forms and filters.
    options: Callable[[], list[tuple[int, str]]] | None = None
    # Custom fields (a tenant's own ``cf_`` columns, see saas.modules.customization).
    custom: bool = False
    unique: bool = False
    indexed: bool = False
    retired: frozenset = frozenset()  # picklist values kept on records, no longer offered

    @property
    def initial(self):
        """The default value; a callable default (tenant data) is asked each time."""
        return self.default() if callable(self.default) else self.default

    @property
    def sortable(self) -> bool:
        if self.custom:  # a tenant's own column is sorted by only when it has an index
            return self.indexed and self.type in SORTABLE
        return self.type in SORTABLE or self.name in {"owner_id", "created_at", "updated_at"}

    @property
    def offered(self) -> tuple[tuple[str, object], ...]:
        """The choices a form or filter offers (retired picklist values are not)."""
        return tuple(c for c in self.choices if c[0] not in self.retired)

    def choice_label(self, key: str | None) -> str:
        for value, label in self.choices:
            if value == key:
                return str(label)
        return key or ""


def parse(f: Field, raw, *, tz: str = "UTC"):
    """The stored value of ``raw`` (a form string or a JSON value) for field ``f``.

    Empty input becomes ``None`` (or ``False``/``[]``); a required field refuses it.
    Lookups and users are checked against the tenant by the caller (the service).
    """
    if isinstance(raw, str):
        raw = raw.strip()
    if "\x00" in (
        raw if isinstance(raw, str) else "".join(map(str, raw)) if isinstance(raw, list) else ""
    ):
        raise _nul(f)
    empty = raw is None or raw == "" or raw == []
    if f.type == "bool":
        return _parse_bool(f, raw)
    if empty:
        if f.required:
            raise FieldError(_l("%(label)s is required.", label=f.label))
        return [] if f.type in {"multichoice", "tags"} else None
    parser = _PARSERS.get(f.type)
    if parser is None:
        raise FieldError(f"Unknown field type {f.type!r}.")
    return parser(f, raw, tz)


def cell_parser(f: Field, *, tz: str = "UTC") -> Callable[[str], object]:
    """:func:`parse` for one stripped, non-empty string at a time (an import's cells):
    the same parser of the type, without the checks ``parse`` makes of any input."""
    parser = _PARSERS.get(f.type)
    if parser is None and f.type != "bool":
        raise ValueError(f"Unknown field type {f.type!r}.")

    def run(raw: str):
        if "\x00" in raw:
            raise _nul(f)
        return _parse_bool(f, raw) if parser is None else parser(f, raw, tz)

    return run


def _nul(f: Field) -> FieldError:
    return FieldError(
        _l("%(label)s contains an invisible NUL character; remove it.", label=f.label)
    )


def _text(f: Field, raw, tz):
    value = str(raw)
    if len(value) > f.max_length:
        raise FieldError(
            _l("%(label)s: use at most %(n)d characters.", label=f.label, n=f.max_length)
        )
    return value


def _email(f: Field, raw, tz):
    try:
        return normalize_email(str(raw))
    except ValueError:
        raise FieldError(
            _l("%(label)s: enter an e-mail address like name@example.com.", label=f.label)
        ) from None


def _phone(f: Field, raw, tz):
    value = str(raw)
    if not PHONE.match(value):
        raise FieldError(
            _l("%(label)s: use digits, spaces and + ( ) - only, like +1 555 0100.", label=f.label)
        )
    return value


def _url(f: Field, raw, tz):
    value = str(raw)
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or "." not in (parts.hostname or ""):
        raise FieldError(_l("%(label)s: enter a web address like example.com.", label=f.label))
    return _text(f, value, tz)


def _decimal(f: Field, raw, tz) -> Decimal:
    text = str(raw).replace(",", "").replace(" ", "").rstrip("%")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FieldError(_l("%(label)s: enter a number like 1250.50.", label=f.label)) from None
    if not value.is_finite():
        raise FieldError(_l("%(label)s: enter a number like 1250.50.", label=f.label))
    if f.minimum is not None and value < f.minimum:
        raise FieldError(_l("%(label)s: use %(n)s or more.", label=f.label, n=f.minimum))
    if f.maximum is not None and value > f.maximum:
        raise FieldError(_l("%(label)s: use %(n)s or less.", label=f.label, n=f.maximum))
    if abs(value) >= Decimal(10) ** 12:
        raise FieldError(_l("%(label)s: the number is too large.", label=f.label))
    return value.quantize(Decimal(1).scaleb(-f.places))


def _integer(f: Field, raw, tz) -> int:
    value = _decimal(f, raw, tz)
    if value != value.to_integral_value():
        raise FieldError(_l("%(label)s: enter a whole number.", label=f.label))
    return int(value)


def _date(f: Field, raw, tz) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise FieldError(_l("%(label)s: enter a date like 2026-03-31.", label=f.label)) from None


def _datetime(f: Field, raw, tz) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            try:
                value = datetime.combine(_date(f, raw, tz), time(9, 0))
            except FieldError:
                raise FieldError(
                    _l("%(label)s: enter a date and time like 2026-03-31 14:30.", label=f.label)
                ) from None
    if value.tzinfo is None:  # what the user typed is in the tenant's time zone
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value


def _parse_bool(f: Field, raw) -> bool:
    if isinstance(raw, bool):
        return raw
    text = "" if raw is None else str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise FieldError(_l("%(label)s: use yes or no.", label=f.label))


def _choice(f: Field, raw, tz) -> str:
    value = str(raw)
    keys = {k for k, _ in f.offered}
    if value in keys:
        return value
    for key, label in f.offered:  # imports and the API may send the label
        if str(label).lower() == value.lower():
            return key
    raise FieldError(
        _l(
            "%(label)s: choose one of %(options)s.",
            label=f.label,
            options=", ".join(str(label) for _, label in f.offered),
        )
    )


def _multichoice(f: Field, raw, tz) -> list[str]:
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    chosen = {_choice(f, str(item).strip(), tz) for item in items if str(item).strip()}
    return [key for key, _ in f.choices if key in chosen]  # in the picklist's order


def _tags(f: Field, raw, tz) -> list[str]:
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    tags = []
    for item in items:
        tag = str(item).strip()
        if tag and tag not in tags:
            tags.append(_text(f, tag, tz))
    return tags


def _reference(f: Field, raw, tz) -> int | str:
    """An id (``12``, ``#12``, ``Name (#12)``) or a name the service resolves."""
    if isinstance(raw, int):
        return raw
    text = str(raw)
    match = re.search(r"(?:^|\(#|^#)(\d+)\)?$", text)
    if match and (text.isdigit() or "#" in text):
        return int(match.group(1))
    return _text(f, text, tz)


_PARSERS = {
    "text": _text,
    "longtext": lambda f, raw, tz: _text(f, raw, tz),
    "email": _email,
    "phone": _phone,
    "url": _url,
    "integer": _integer,
    "number": _decimal,
    "currency": _decimal,
    "percent": _decimal,
    "date": _date,
    "datetime": _datetime,
    "choice": _choice,
    "multichoice": _multichoice,
    "tags": _tags,
    "lookup": _reference,
    "user": _reference,
}


def form_value(f: Field, value, tz: str = "UTC") -> str:
    """The value as an HTML input expects it (ISO dates, plain numbers)."""
    if value is None:
        return ""
    if f.type == "datetime":
        return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")
    if f.type == "date":
        return value.isoformat()
    if f.type in {"multichoice", "tags"}:
        return ", ".join(value)
    if f.type == "bool":
        return "on" if value else ""
    return str(value)


# -- values as JSON -----------------------------------------------------------------

_AS_IS = frozenset({str, int, float, bool, type(None)})


def jsonable(value):
    """One field value as JSON."""
    if type(value) in _AS_IS:  # most values: checked first, once
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value
