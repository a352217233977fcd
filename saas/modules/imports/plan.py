"""A mapping compiled for one run: cells to field values, a batch at a time.

Every value goes through the parser of its field type that forms and the API use
(``fields.cell_parser``: ``fields.parse`` of one non-empty cell). Lookup and owner
columns are resolved for the whole batch with one query per column (and, if the
user asked for it, missing accounts are created). Columns with few distinct values
(picklists, dates) remember what they parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from saas.db import session
from saas.modules.accounts.models import User
from saas.modules.imports.mapping import FULL_NAME, split_name
from saas.modules.records import service
from saas.modules.records.fields import Field, FieldError, cell_parser, parse
from saas.modules.records.registry import ObjectType, get

REFERENCES = {"lookup", "user"}  # cells resolved per batch by :meth:`Plan.resolve`
REMEMBERED = {"choice", "multichoice", "bool", "date", "datetime", "integer", "percent"}
MEMO_LIMIT = 5000


@dataclass
class Parsed:
    """One row: its values, or why it cannot be imported."""

    values: dict
    errors: list[str]
    blank: bool  # every mapped cell empty
    refs: list[tuple[Column, str]] = field(default_factory=list)  # for :meth:`Plan.resolve`


@dataclass(frozen=True)
class Column:
    index: int
    field: Field | None  # None: a "Name" column split into first and last name
    by: str


class Plan:
    """Made once per run: it reads the choices that come from the tenant's data (stages,
    price lists). :meth:`parse` reads no database, so a run parses the next batch while
    the one before it is written."""

    def __init__(
        self,
        otype: ObjectType,
        mapping: list[dict],
        tz: str,
        *,
        create_missing: bool = False,
        actor: int | None = None,
    ):
        self.otype = otype
        self.actor = actor
        self.tz = tz
        self.create_missing = create_missing
        self.columns: list[Column] = []
        for index, choice in enumerate(mapping):
            name = (choice or {}).get("field") or ""
            if name == FULL_NAME:
                self.columns.append(Column(index, None, ""))
            elif name and otype.field(name) is not None and otype.field(name).editable:
                f = otype.field(name)
                if f.retired:  # a retired picklist value is still a value to bring in
                    f = replace(f, retired=frozenset())
                self.columns.append(Column(index, f, (choice or {}).get("by") or "name"))
        self.mapped = {c.field.name for c in self.columns if c.field is not None}
        if any(c.field is None for c in self.columns):
            self.mapped |= {"first_name", "last_name"}
        self._names = [c.index for c in self.columns if c.field is None]
        self._refs = [c for c in self.columns if c.field and c.field.type in REFERENCES]
        self._cells = [
            (c.index, c.field.name, self._parser(c.field))
            for c in self.columns
            if c.field and c.field.type not in REFERENCES
        ]
        self._empty = {}  # a new record's value of an empty cell, or why it cannot be empty
        for name in self.mapped:
            try:
                self._empty[name] = (parse(self.otype.field(name), "", tz=tz), None)
            except FieldError as exc:
                self._empty[name] = (None, str(exc))

    def _parser(self, f: Field):
        """``fields.cell_parser`` of ``f``, checked against tenant choices, and remembering
        what it parsed if the column has few distinct values (picklists, dates)."""
        parse_cell = cell_parser(f, tz=self.tz)
        allowed = {key for key, _label in f.options()} if f.options is not None else None

        def checked(cell: str):
            value = parse_cell(cell)
            if allowed is not None and value is not None and value not in allowed:
                raise FieldError(_l("%(label)s: choose one from the list.", label=f.label))
            return value

        if f.type not in REMEMBERED:
            return checked
        memo: dict[str, tuple] = {}

        def remembered(cell: str):
            found = memo.get(cell)
            if found is None:
                try:
                    found = (checked(cell), None)
                except FieldError as exc:
                    found = (None, str(exc))
                if len(memo) < MEMO_LIMIT:
                    memo[cell] = found
            if found[1] is not None:
                raise FieldError(found[1])
            return found[0]

        return remembered

    # -- cells to values ---------------------------------------------------------------

    def parse(self, rows: list[list[str]]) -> list[Parsed]:
        """Each row's values from its non-empty cells (an empty cell leaves a record's
        field as it is; :meth:`complete` fills in what a new record needs). Lookup and
        owner cells wait in ``refs`` for :meth:`resolve`. Reads no database."""
        out = []
        for cells in rows:
            values, errors, refs = {}, [], []
            width = len(cells)
            for index, name, parse_cell in self._cells:
                cell = cells[index] if index < width else ""
                if cell:
                    try:
                        values[name] = parse_cell(cell)
                    except FieldError as exc:
                        errors.append(str(exc))
            for index in self._names:
                cell = cells[index] if index < width else ""
                if cell:
                    first, last = split_name(cell)
                    if first is not None:
                        values["first_name"] = first
                    values["last_name"] = last
            for column in self._refs:
                cell = cells[column.index] if column.index < width else ""
                if cell:
                    refs.append((column, cell))
            out.append(Parsed(values, errors, not (values or errors or refs), refs))
        return out

    def parse_rows(self, rows: list[list[str]]) -> list[Parsed]:
        """:meth:`parse` and :meth:`resolve` in one."""
        parsed = self.parse(rows)
        self.resolve(parsed)
        return parsed

    def resolve(self, rows: list[Parsed]) -> None:
        """Lookup and owner cells to ids: one query per column for the whole batch (and,
        if the user asked for it, missing accounts created)."""
        wanted: dict[int, dict[str, str]] = {}  # column -> {key: the cell as written}
        for row in rows:
            for column, cell in row.refs:
                wanted.setdefault(column.index, {}).setdefault(_norm(cell), cell)
        found: dict[int, dict[str, object]] = {}
        for column in self._refs:
            keys = wanted.get(column.index)
            if not keys:
                continue
            if column.field.type == "user":
                found[column.index] = self._members(column.field, keys)
            else:
                found[column.index] = self._records(column.field, column.by, keys)
        for row in rows:
            for column, cell in row.refs:
                value = found[column.index][_norm(cell)]
                if isinstance(value, int):
                    row.values[column.field.name] = value
                else:
                    row.errors.append(str(value))
            row.refs = []

    def complete(self, rows: list[Parsed]) -> None:
        """Rows that become new records: their empty mapped fields (a required one is an
        error) and the defaults of fields without a column, as a new record's form has."""
        empty = self._empty
        for row in rows:
            if len(row.values) < len(empty):
                for name in empty.keys() - row.values.keys():
                    value, error = empty[name]
                    if error is None:
                        row.values[name] = value
                    else:
                        row.errors.append(error)
        self._defaults(rows)

    def _defaults(self, rows: list[Parsed]) -> None:
        """Fields without a column get their default, as a new record on a form does; a
        required one without a default is an error on every row."""
        missing = [f for f in self.otype.form_fields if f.name not in self.mapped]
        defaults, errors = {}, []
        for f in missing:
            try:
                value = parse(f, f.initial, tz=self.tz)
                if f.type in REFERENCES:
                    value = service.resolve(f, value)
                defaults[f.name] = value
            except FieldError as exc:
                errors.append(str(exc))
        for row in rows:
            for name, value in defaults.items():
                row.values.setdefault(name, value)
            row.errors.extend(errors)

    # -- lookups and owners, per batch -------------------------------------------------

    def _members(self, f: Field, wanted: dict[str, str]) -> dict[str, object]:
        names = service.member_names()
        emails = dict(
            session()
            .execute(select(func.lower(User.email), User.id).where(User.id.in_(list(names))))
            .all()
        )
        by_name: dict[str, list[int]] = {}
        for uid, name in names.items():
            by_name.setdefault(name.casefold(), []).append(uid)
        out: dict[str, object] = {}
        for key in wanted:
            ids = [emails[key]] if key in emails else by_name.get(key, [])
            if key.isdigit() and int(key) in names:
                ids = [int(key)]
            out[key] = (
                ids[0]
                if len(ids) == 1
                else str(_l("%(label)s: choose someone on your team.", label=f.label))
            )
        return out

    def _records(self, f: Field, by: str, wanted: dict[str, str]) -> dict[str, object]:
        target = get(f.target)
        model = target.model
        if by == "id":
            column = model.id
            keys = {k: int(k.lstrip("#")) for k in wanted if k.lstrip("#").isdigit()}
        else:
            if by == "domain" and target.name == "account":
                column = model.domain
            elif by == "name":
                column = func.lower(getattr(model, target.search_fields[0]))
            elif target.field(by) is not None:
                column = func.lower(target.column(by))
            else:
                column = func.lower(getattr(model, target.search_fields[0]))
            keys = {k: _domain(k) if by == "domain" else k for k in wanted}
        stmt = (
            service.select_records(target)
            .with_only_columns(column, model.id)
            .where(column.in_(list(set(keys.values()))))
        )
        hits: dict[object, list[int]] = {}
        for value, record_id in session().execute(stmt):
            hits.setdefault(value, []).append(record_id)
        out: dict[str, object] = {}
        for key in wanted:
            ids = hits.get(keys.get(key), [])
            if len(ids) == 1:
                out[key] = ids[0]
            elif ids:
                out[key] = str(
                    _l(
                        "%(label)s: several records match “%(name)s”; use a unique value.",
                        label=f.label,
                        name=wanted[key],
                    )
                )
            elif self.create_missing and target.name == "account" and by in {"name", "domain"}:
                out[key] = self._new_account(wanted[key], by)
            else:
                out[key] = str(
                    _l(
                        "%(label)s: no %(object)s “%(name)s”.",
                        label=f.label,
                        object=target.label,
                        name=wanted[key],
                    )
                )
        return out

    def _new_account(self, key: str, by: str) -> int | str:
        values = {"name": key} if by == "name" else {"name": key, "website": key}
        try:
            return service.create(get("account"), values, actor=self.actor).id
        except service.ValidationErrors as exc:
            return " ".join(exc.errors.values())


def _norm(cell: str) -> str:
    return cell.strip().casefold()


def _domain(value: str) -> str:
    value = value.split("://", 1)[-1].split("/", 1)[0]
    return value.removeprefix("www.")
