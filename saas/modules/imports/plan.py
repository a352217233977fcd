"""A mapping compiled for one run: cells to field values, a batch at a time.

Every value goes through ``fields.parse``, the one validation path per field
type that forms and the API use. Lookup and owner columns are resolved for the
whole batch with one query per column (and, if the user asked for it, missing
accounts are created). Columns with few distinct values (picklists, dates,
owners) remember what they parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from saas.db import session
from saas.modules.accounts.models import User
from saas.modules.imports.mapping import FULL_NAME, split_name
from saas.modules.records import service
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.registry import ObjectType, get

REMEMBERED = {"choice", "multichoice", "bool", "date", "datetime", "integer", "percent"}
MEMO_LIMIT = 5000


@dataclass
class Parsed:
    """One row: its values, or why it cannot be imported."""

    values: dict
    errors: list[str]
    blank: bool  # every mapped cell empty


@dataclass(frozen=True)
class Column:
    index: int
    field: Field | None  # None: a "Name" column split into first and last name
    by: str


class Plan:
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
        self._memo: dict[str, dict] = {}

    # -- cells to values ---------------------------------------------------------------

    def parse_rows(self, rows: list[list[str]]) -> list[Parsed]:
        """Each row's values from its non-empty cells (an empty cell leaves a record's
        field as it is; :meth:`complete` fills in what a new record needs)."""
        refs = self._resolve_refs(rows)
        out = []
        for cells in rows:
            values, errors, blank = {}, [], True
            for column in self.columns:
                cell = cells[column.index] if column.index < len(cells) else ""
                if not cell.strip():
                    continue
                blank = False
                f = column.field
                if f is None:
                    first, last = split_name(cell)
                    if first is not None:
                        values["first_name"] = first
                    values["last_name"] = last
                    continue
                try:
                    if f.type in {"lookup", "user"}:
                        values[f.name] = self._ref_value(f, column, cell, refs)
                    else:
                        values[f.name] = self._parse(f, cell)
                except FieldError as exc:
                    errors.append(str(exc))
            out.append(Parsed(values, errors, blank))
        return out

    def complete(self, rows: list[Parsed]) -> None:
        """Rows that become new records: their empty mapped fields (a required one is an
        error) and the defaults of fields without a column, as a new record's form has."""
        fields = {name: self.otype.field(name) for name in self.mapped}
        for row in rows:
            for name in self.mapped - row.values.keys():
                f = fields[name]
                try:
                    row.values[name] = parse(f, "", tz=self.tz)
                except FieldError as exc:
                    row.errors.append(str(exc))
        self._defaults(rows)

    def _parse(self, f: Field, cell: str):
        if f.type not in REMEMBERED:
            value = parse(f, cell, tz=self.tz)
        else:
            memo = self._memo.setdefault(f.name, {})
            found = memo.get(cell)
            if found is None:
                try:
                    found = (parse(f, cell, tz=self.tz), None)
                except FieldError as exc:
                    found = (None, str(exc))
                if len(memo) < MEMO_LIMIT:
                    memo[cell] = found
            if found[1] is not None:
                raise FieldError(found[1])
            value = found[0]
        if f.options is not None and value is not None and value not in dict(f.options()):
            raise FieldError(_l("%(label)s: choose one from the list.", label=f.label))
        return value

    def _defaults(self, rows: list[Parsed]) -> None:
        """Fields without a column get their default, as a new record on a form does; a
        required one without a default is an error on every row."""
        missing = [f for f in self.otype.form_fields if f.name not in self.mapped]
        defaults, errors = {}, []
        for f in missing:
            try:
                value = parse(f, f.initial, tz=self.tz)
                if f.type in {"lookup", "user"}:
                    value = service.resolve(f, value)
                defaults[f.name] = value
            except FieldError as exc:
                errors.append(str(exc))
        for row in rows:
            for name, value in defaults.items():
                row.values.setdefault(name, value)
            row.errors.extend(errors)

    # -- lookups and owners, per batch -------------------------------------------------

    def _resolve_refs(self, rows: list[list[str]]) -> dict[int, dict[str, object]]:
        """Column index -> {cell key: id or FieldError message} for lookup and user columns."""
        found: dict[int, dict[str, object]] = {}
        for column in self.columns:
            f = column.field
            if f is None or f.type not in {"lookup", "user"}:
                continue
            wanted: dict[str, str] = {}  # key -> the cell as written (a new account's name)
            for r in rows:
                cell = r[column.index].strip() if column.index < len(r) else ""
                if cell:
                    wanted.setdefault(_norm(cell), cell)
            if not wanted:
                continue
            if f.type == "user":
                found[column.index] = self._members(f, wanted)
            else:
                found[column.index] = self._records(f, column.by, wanted)
        return found

    def _ref_value(self, f: Field, column: Column, cell: str, refs) -> int | None:
        key = _norm(cell)
        if not key:
            if f.required:
                raise FieldError(_l("%(label)s is required.", label=f.label))
            return None
        value = refs.get(column.index, {}).get(key)
        if isinstance(value, int):
            return value
        raise FieldError(str(value))

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
