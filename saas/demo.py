"""The demo tenant that ``make run`` creates, with sample users and contacts."""

from __future__ import annotations

import random

from sqlalchemy import select

from saas.db import db
from saas.modules.accounts import service as accounts
from saas.modules.accounts.models import Membership
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.tenants.models import Tenant
from saas.tenants.service import create_tenant

DEMO_COMPANY = "Demo Trading Co"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-crm-2026"  # noqa: S105 (published on purpose: the local demo login)
TEAM = [
    ("Ada Admin", "admin@example.com", "admin"),
    ("Max Member", "member@example.com", "member"),
    ("Rita Reader", "reader@example.com", "readonly"),
]
FIRST = ["Anna", "Ben", "Chen", "Dana", "Eli", "Fatima", "Georg", "Hana", "Ivan", "Jun", "Lena",
         "Marco", "Nora", "Omar", "Priya", "Li", "Wei", "Sofia", "Tom", "Yuki"]  # fmt: skip
LAST = ["Schmidt", "Wang", "Garcia", "Smith", "Kowalski", "Rossi", "Tanaka", "Müller", "Khan",
        "Novak", "Johnson", "Zhang", "Dubois", "Silva", "Li", "Andersson"]  # fmt: skip
COMPANIES = ["Northwind", "Blue Harbor", "Acme Tools", "上海晨光贸易", "Kestrel Labs",
             "Globex", "Maple & Co", "Sunrise Foods", "北京远景科技", "Vertex Freight"]  # fmt: skip


def create_demo(contact_count: int = 120) -> bool:
    """Create the demo tenant once; returns False if it already exists."""
    with db.scope() as session:
        if session.execute(select(Tenant).where(Tenant.name == DEMO_COMPANY)).first():
            return False
        owner = accounts.user_by_email(DEMO_EMAIL) or accounts.create_user(
            "Demo Owner", DEMO_EMAIL, DEMO_PASSWORD
        )
        tenant = create_tenant(DEMO_COMPANY, owner)
        for name, email, role in TEAM:
            user = accounts.user_by_email(email) or accounts.create_user(name, email, DEMO_PASSWORD)
            session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=role))
        ref = tenant.ref()
    rng = random.Random(7)
    with db.scope(ref):
        accounts_by_name = {
            name: records.create(get("account"), {"name": name}, actor=owner.id)
            for name in COMPANIES
        }
        for _ in range(contact_count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            records.create(
                get("contact"),
                {
                    "first_name": first,
                    "last_name": last,
                    "email": f"{first}.{last}{rng.randint(1, 99)}@example.com".lower(),
                    "phone": f"+1 555 {rng.randint(1000000, 9999999)}",
                    "account_id": accounts_by_name[rng.choice(COMPANIES)].id,
                },
                actor=owner.id,
            )
    return True
