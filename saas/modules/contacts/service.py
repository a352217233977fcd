"""Contacts, written only through here (the pages, and later the API and imports)."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from saas.db import session
from saas.modules.contacts.models import Contact

PAGE_SIZE = 50
FIELDS = ("first_name", "last_name", "email", "phone", "company")


def search(q: str = "", page: int = 1) -> tuple[list[Contact], int]:
    stmt = select(Contact)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                Contact.first_name.ilike(like),
                Contact.last_name.ilike(like),
                Contact.email.ilike(like),
                Contact.company.ilike(like),
            )
        )
    total = session().execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = (
        session()
        .execute(
            stmt.order_by(Contact.last_name, Contact.first_name, Contact.id)
            .limit(PAGE_SIZE)
            .offset((max(page, 1) - 1) * PAGE_SIZE)
        )
        .scalars()
    )
    return list(rows), total


def get(contact_id: int) -> Contact | None:
    return session().get(Contact, contact_id)


def create(owner_id: int | None, **values) -> Contact:
    contact = Contact(owner_id=owner_id, **{k: values.get(k) or None for k in FIELDS})
    contact.first_name = contact.first_name or ""
    session().add(contact)
    session().flush()
    return contact


def update(contact: Contact, **values) -> None:
    for key in FIELDS:
        if key in values:
            setattr(contact, key, values[key] or ("" if key == "first_name" else None))
    session().flush()


def delete(contact: Contact) -> None:
    session().delete(contact)
