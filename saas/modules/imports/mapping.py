"""Which column of a file goes to which field: suggested from the headers, adjusted by
the user, kept for the next file; and how each cell becomes a field's value.

Headers match a field's API name, its label in every language the app speaks
(English and Chinese headers alike) or a common synonym. A lookup column says
how it finds its record ("by"): the target's name, an account's web domain, a
contact's e-mail, a record id, or any unique field of the target.
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from saas.i18n import LANGUAGES
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, get

FULL_NAME = "__full_name"  # one "Name" column split into first and last name

# Headers other systems (Excel lists, HubSpot, Salesforce, Chinese CRMs) use.
SYNONYMS = {
    "email": ["email address", "e-mail address", "mail", "邮箱", "电子邮件", "邮件", "电邮"],
    "first_name": ["given name", "firstname", "名"],
    "last_name": ["surname", "family name", "lastname", "姓"],
    FULL_NAME: ["name", "full name", "contact name", "contact", "姓名", "联系人", "客户姓名"],
    "phone": ["telephone", "tel", "phone number", "business phone", "电话", "座机", "联系电话"],
    "mobile": ["mobile phone", "cell", "cell phone", "手机", "手机号", "手机号码", "移动电话"],
    "title": ["job title", "position", "职位", "职务", "头衔"],
    "account_id": ["company", "company name", "account name", "organisation", "organization",
                   "公司", "公司名称", "单位", "客户", "客户名称", "企业"],
    "owner_id": ["owner", "assigned to", "contact owner", "sales rep", "负责人", "所有者", "销售"],
    "website": ["web site", "url", "homepage", "网站", "网址", "官网"],
    "city": ["城市", "town"],
    "country": ["国家", "country/region", "国家/地区"],
    "description": ["notes", "note", "comments", "备注", "描述", "说明"],
    "birthday": ["date of birth", "dob", "生日", "出生日期"],
    "name": ["account name", "company name", "company", "公司名称", "名称", "客户名称"],
    "industry": ["行业", "sector"],
    "amount": ["value", "deal value", "金额", "商机金额"],
}  # fmt: skip


def _key(text: str) -> str:
    """Header text reduced to what matters for matching."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\s_\-.:：()（）*]+", "", text)


def targets(otype: ObjectType) -> list[Field]:
    """The fields a column may go to."""
    return [f for f in otype.fields if f.editable]


def has_full_name(otype: ObjectType) -> bool:
    return "first_name" in otype.by_name and "last_name" in otype.by_name


def _names(otype: ObjectType) -> dict[str, str]:
    """Matchable header key -> field name (exact names first, then labels, then synonyms)."""
    found: dict[str, str] = {}

    def add(text, name):
        found.setdefault(_key(text), name)

    fields = targets(otype)
    for f in fields:
        add(f.name, f.name)
        add(f.name.removeprefix("cf_"), f.name)
    for lang in LANGUAGES:
        with force_locale(lang):
            for f in fields:
                add(str(f.label), f.name)
    by_name = {f.name for f in fields}
    for name, words in SYNONYMS.items():
        if name in by_name or (name == FULL_NAME and has_full_name(otype)):
            for word in words:
                add(word, name)
    return found


def ways(otype: ObjectType, f: Field) -> list[tuple[str, object]]:
    """How a lookup column may find its record: ``[(by, label)]``, the default first."""
    if f.type == "user":
        return [("name", _l("Name or e-mail of a team member"))]
    if f.type != "lookup":
        return []
    target = get(f.target)
    out = [("name", _l("%(object)s name", object=target.label))]
    if target.name == "account":
        out.append(("domain", _l("Web domain (example.com)")))
    if "email" in target.by_name:
        out.append(("email", _l("E-mail")))
    out.append(("id", _l("Record id")))
    out += [(u.name, u.label) for u in target.custom_fields if u.unique]
    return out


def suggest(otype: ObjectType, header: list[str], saved: dict | None = None) -> list[dict]:
    """A mapping for ``header``: a saved mapping's choice for a header it knows, else a
    match by name, label or synonym; each field is used by one column at most."""
    names = _names(otype)
    valid = {f.name for f in targets(otype)} | ({FULL_NAME} if has_full_name(otype) else set())
    taken: set[str] = set()
    out = []
    for text in header:
        choice = (saved or {}).get(text)
        name = choice.get("field", "") if isinstance(choice, dict) else names.get(_key(text), "")
        if name not in valid or name in taken:
            name = ""
        if name:
            taken.add(name)
        by = choice.get("by") if isinstance(choice, dict) and choice.get("by") else "name"
        out.append({"field": name, "by": by})
    if FULL_NAME in taken and ({"first_name", "last_name"} & taken):
        for column in out:  # separate name columns win over one "Name" column
            if column["field"] == FULL_NAME:
                column["field"] = ""
    return out


def split_name(value: str) -> tuple[str | None, str]:
    """("John", "Smith") from "John Smith"; a Chinese name or one word stays whole."""
    value = value.strip()
    if " " in value:
        first, last = value.rsplit(" ", 1)
        return first.strip() or None, last
    return None, value
