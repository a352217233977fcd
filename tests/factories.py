"""Records for tests, built through the service layer as the pages and the API do."""

from __future__ import annotations

import zipfile

from sqlalchemy import select

from saas.db import db
from saas.modules.accounts.models import User
from saas.modules.records import service
from saas.modules.records.registry import get
from saas.tenants.models import Tenant
from tests.conftest import unique


def tenant_ref(slug: str):
    with db.scope() as s:
        return s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one().ref()


def user_id(email: str) -> int:
    with db.scope() as s:
        return s.execute(select(User.id).where(User.email == email)).scalar_one()


def make(slug: str, object_name: str, actor: int | None = None, **values):
    """One record of ``object_name`` in tenant ``slug``; returns its id."""
    with db.scope(tenant_ref(slug)):
        otype = get(object_name)
        return service.create(otype, defaults(object_name, slug, actor) | values, actor=actor).id


def defaults(object_name: str, slug: str, actor: int | None) -> dict:
    """Values that make a valid record of each object."""
    from saas.modules.deals.models import Stage

    name = unique("Rec")
    if object_name == "account":
        return {"name": f"Account {name}"}
    if object_name in {"contact", "lead"}:
        return {"last_name": f"Last {name}"}
    if object_name == "deal":
        from saas.db import session

        stage = session().execute(select(Stage.id).order_by(Stage.position).limit(1)).scalar()
        return {"name": f"Deal {name}", "stage_id": stage}
    if object_name == "activity":
        return {"subject": f"Call {name}", "kind": "call"}
    if object_name == "product":
        return {"name": f"Product {name}", "unit_price": "10"}
    if object_name in {"quote", "order"}:
        return {"subject": f"Doc {name}"}
    if object_name == "contract":
        return {"name": f"Contract {name}"}
    if object_name == "licence":
        with db.scope(tenant_ref(slug)):
            account = service.create(get("account"), {"name": f"Licensee {name}"}, actor=actor)
            product = service.create(
                get("product"), {"name": f"Licensed {name}", "unit_price": "1"}, actor=actor
            )
            return {"account_id": account.id, "product_id": product.id, "seats": "5"}
    return {}


def one_of_each(slug: str, actor: int | None = None) -> dict[str, int]:
    """A record of every object type; returns {object name: id}."""
    from saas.modules.records.registry import all_types

    return {t.name: make(slug, t.name, actor) for t in all_types()}


def add_member(slug: str, role: str = "member", name: str | None = None) -> tuple[str, int]:
    """A new user who is a member of tenant ``slug`` with ``role``; returns (email, id).
    Sign them in with ``tests.conftest.login(client, email)``."""
    from saas.modules.accounts import service as accounts
    from saas.modules.accounts.models import Membership
    from tests.conftest import PASSWORD

    email = f"{unique(role)}@example.com"
    with db.scope() as s:
        tenant = s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one()
        user = accounts.create_user(name or f"{role.title()} {unique()}", email, PASSWORD)
        s.add(Membership(tenant_id=tenant.id, user_id=user.id, role=role))
        s.flush()
        return email, user.id


def exported(client, run_jobs, slug: str, object_name: str, query: str = "", fmt: str = "csv"):
    """Export a list as its page's Export button does, run the job, download the file;
    returns the download response."""
    import re

    from tests.conftest import post

    resp = post(
        client, f"/app/{slug}/exports/", {"object": object_name, "query": query, "format": fmt}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    run_jobs()
    page = client.get(f"/app/{slug}/exports/").get_data(as_text=True)
    export_id = re.search(r'id="export-(\d+)"', page).group(1)  # the newest first
    return client.get(f"/app/{slug}/exports/{export_id}/download")


def minimal_xlsx(path, sheet_data: str, extra: dict | None = None):
    """A workbook written by hand: openpyxl cannot write cached formula values."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "http://schemas.openxmlformats.org/package/2006/content-types"
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{ct}"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="{main}.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="{main}.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook {ns} xmlns:r="{rel}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet {ns} {ns.replace("xmlns", "xmlns:x")}><dimension ref="A1"/><sheetData>{sheet_data}</sheetData></worksheet>',
        **(extra or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    return path
