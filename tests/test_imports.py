"""Imports through the browser and the worker: mapping, modes, dedupe keys, related
records, error report round trip, revert, cancel, faults, limits, isolation."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from sqlalchemy import func, select, text

from saas.db import current_tenant, db, session
from saas.modules.customers.models import Account, Contact
from saas.modules.imports.models import Import, ImportRow
from saas.modules.records.models import TimelineEntry
from saas.tracked import TrackedJob
from tests.conftest import login, post, signup, unique
from tests.factories import add_member, make, minimal_xlsx, tenant_ref, user_id


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def upload(client, slug, data: bytes, name="people.csv", obj="contact", encoding=""):
    resp = post(
        client,
        f"/app/{slug}/imports/",
        {"object": obj, "encoding": encoding, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    match = re.search(r"/imports/(\d+)/mapping", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return int(match.group(1))


def mapping_of(slug, import_id) -> list[str]:
    with db.scope(tenant_ref(slug)):
        return [c["field"] for c in session().get(Import, import_id).mapping]


def start(client, slug, import_id, fields: list[str], **options):
    form = {f"field_{i}": name for i, name in enumerate(fields)}
    form.update({"mode": "insert", "dedupe": "", "action": "start"})
    form.update(options)
    return post(client, f"/app/{slug}/imports/{import_id}/mapping", form)


def state(slug, import_id) -> Import:
    with db.scope(tenant_ref(slug)):
        imp = session().get(Import, import_id)
        session().expunge(imp)
        return imp


def attempts(slug) -> list[int]:
    """The reconciler's attempts of the tenant's tracked jobs."""
    with db.scope() as s:
        return list(
            s.execute(
                select(TrackedJob.attempts).where(
                    TrackedJob.tenant_id == uuid.UUID(tenant_ref(slug).id)
                )
            ).scalars()
        )


def age_heartbeats(slug) -> None:
    """The tenant's tracked jobs have been quiet for an hour."""
    with db.scope() as s:
        s.execute(
            text(
                "UPDATE public.tracked_jobs SET heartbeat_at = now() - interval '1 hour'"
                " WHERE tenant_id = :t"
            ),
            {"t": uuid.UUID(tenant_ref(slug).id)},
        )


def contacts(slug) -> list[Contact]:
    with db.scope(tenant_ref(slug)):
        found = list(
            session()
            .execute(select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.id))
            .scalars()
        )
        session().expunge_all()
        return found


@pytest.fixture
def owner(client):
    slug, email = signup(client)
    return slug, email


PEOPLE = [
    ["First name", "Last name", "E-mail", "Company", "Phone"],
    ["Ada", "Lovelace", "ada@example.com", "Analytical Ltd", "+44 20 0000"],
    ["Alan", "Turing", "ALAN@example.com", "Bletchley", ""],
]


def test_an_import_runs_on_the_worker_and_reports_its_counts(client, owner, run_jobs):
    slug, email = owner
    make(slug, "account", name="Analytical Ltd")
    import_id = upload(client, slug, csv_bytes(PEOPLE))
    assert mapping_of(slug, import_id) == [
        "first_name",
        "last_name",
        "email",
        "account_id",
        "phone",
    ]
    page = client.get(f"/app/{slug}/imports/{import_id}/mapping").get_data(as_text=True)
    assert "Lovelace" in page and "Bletchley" in page  # the preview shows the rows
    assert "no Account “Bletchley”" in page  # and what would fail

    resp = start(client, slug, import_id, mapping_of(slug, import_id), create_missing="on")
    assert resp.status_code == 302
    assert state(slug, import_id).status == "queued"
    run_jobs()

    imp = state(slug, import_id)
    assert (imp.status, imp.total, imp.created, imp.failed) == ("done", 2, 2, 0)
    people = {c.email: c for c in contacts(slug)}
    assert set(people) == {"ada@example.com", "alan@example.com"}  # e-mails normalised
    with db.scope(tenant_ref(slug)):
        accounts = dict(session().execute(select(Account.name, Account.id)).all())
        assert people["alan@example.com"].account_id == accounts["Bletchley"]  # created
        assert people["ada@example.com"].account_id == accounts["Analytical Ltd"]  # found
        assert people["ada@example.com"].owner_id == user_id(email)
        entries = (
            session()
            .execute(
                select(TimelineEntry.kind, TimelineEntry.data).where(
                    TimelineEntry.record_id == people["ada@example.com"].id,
                    TimelineEntry.object == "contact",
                )
            )
            .all()
        )
    assert ("created", {"import": import_id}) in [(k, d) for k, d in entries]
    # Found again by search: the search document is written too.
    assert "Lovelace" in client.get(f"/app/{slug}/search?q=lovelace").get_data(as_text=True)
    page = client.get(f"/app/{slug}/imports/{import_id}").get_data(as_text=True)
    assert 'id="count-created">2<' in page


def test_chinese_headers_in_a_gbk_file_are_matched_and_read(client, owner, run_jobs):
    slug, _ = owner
    rows = [
        ["姓名", "邮箱", "手机", "公司", "职位"],
        ["张伟", "zhang@example.cn", "13800000000", "", "经理"],
    ]
    import_id = upload(client, slug, csv_bytes(rows, "gb18030"), name="客户.csv")
    assert state(slug, import_id).encoding in {"gb18030", "gbk"}
    assert mapping_of(slug, import_id) == ["__full_name", "email", "mobile", "account_id", "title"]
    start(client, slug, import_id, mapping_of(slug, import_id))
    run_jobs()
    (person,) = contacts(slug)
    assert (person.last_name, person.first_name, person.title) == ("张伟", None, "经理")


def test_an_xlsx_workbook_imports_with_typed_cells(client, owner, run_jobs):
    from datetime import date

    from openpyxl import Workbook

    slug, _ = owner
    book = Workbook()
    sheet = book.active
    sheet.append(["Last name", "Birthday", "E-mail"])
    sheet.append(["Hopper", date(1906, 12, 9), "grace@example.com"])
    buffer = io.BytesIO()
    book.save(buffer)
    import_id = upload(client, slug, buffer.getvalue(), name="people.xlsx")
    start(client, slug, import_id, mapping_of(slug, import_id))
    run_jobs()
    (person,) = contacts(slug)
    assert person.birthday == date(1906, 12, 9)


def test_insert_skips_existing_update_skips_missing_upsert_does_both(client, owner, run_jobs):
    slug, _ = owner
    kept = make(slug, "contact", last_name="Old", email="known@example.com", city="Paris")
    rows = [
        ["Last name", "E-mail", "City"],
        ["New", "known@example.com", "Rome"],
        ["Fresh", "new@example.com", ""],
    ]

    first = upload(client, slug, csv_bytes(rows))
    start(client, slug, first, ["last_name", "email", "city"], mode="insert", dedupe="email")
    run_jobs()
    imp = state(slug, first)
    assert (imp.created, imp.skipped) == (1, 1)

    second = upload(client, slug, csv_bytes(rows + [["Ghost", "ghost@example.com", "Oslo"]]))
    start(client, slug, second, ["last_name", "email", "city"], mode="update", dedupe="email")
    run_jobs()
    imp = state(slug, second)
    # known: updated; new@ (created by the first import) has no changes; ghost: skipped.
    assert (imp.created, imp.updated, imp.unchanged, imp.skipped) == (0, 1, 1, 1)
    people = {c.email: c for c in contacts(slug)}
    assert people["known@example.com"].id == kept
    assert (people["known@example.com"].last_name, people["known@example.com"].city) == (
        "New",
        "Rome",
    )
    assert people["new@example.com"].city is None  # an empty cell left it as it was

    third = upload(client, slug, csv_bytes(rows + [["Ghost", "ghost@example.com", "Oslo"]]))
    start(client, slug, third, ["last_name", "email", "city"], mode="upsert", dedupe="email")
    run_jobs()
    imp = state(slug, third)
    assert (imp.created, imp.updated, imp.unchanged) == (1, 0, 2)
    assert len(contacts(slug)) == 3


def test_a_key_twice_in_one_file_makes_one_record(client, owner, run_jobs):
    slug, _ = owner
    rows = [
        ["Last name", "E-mail", "City"],
        ["A", "twin@example.com", "Lyon"],
        ["B", "twin@example.com", "Nice"],
    ]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "email", "city"], mode="upsert", dedupe="email")
    run_jobs()
    (person,) = contacts(slug)
    assert (person.last_name, person.city) == ("B", "Nice")
    imp = state(slug, import_id)
    assert (imp.created, imp.updated) == (1, 1)


def test_a_unique_custom_field_is_a_dedupe_key(client, owner, run_jobs):
    slug, _ = owner
    resp = post(
        client,
        f"/app/{slug}/customize/contacts/fields/new",
        {"label": "ERP number", "type": "text", "unique": "on"},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    existing = make(slug, "contact", last_name="Before", cf_erp_number="E-1")
    # Keys with what an array literal quotes or escapes, or the character that separates
    # the keys sent to PostgreSQL, are found all the same.
    odd = ['E "3", {x}', "E\\4", "NULL", "E\x1f5"]
    others = [make(slug, "contact", last_name="Odd", cf_erp_number=key) for key in odd]
    rows = [["ERP number", "Last name"], ["E-1", "After"], ["E-2", "Second"]]
    rows += [[key, "Found"] for key in odd]
    import_id = upload(client, slug, csv_bytes(rows))
    assert mapping_of(slug, import_id) == ["cf_erp_number", "last_name"]
    start(
        client,
        slug,
        import_id,
        ["cf_erp_number", "last_name"],
        mode="upsert",
        dedupe="cf_erp_number",
    )
    run_jobs()
    imp = state(slug, import_id)
    assert (imp.created, imp.updated, imp.failed) == (1, 5, 0)
    people = {c.id: c.last_name for c in contacts(slug)}
    assert people[existing] == "After" and len(people) == 6
    assert [people[i] for i in others] == ["Found"] * 4


def test_accounts_are_found_by_domain(client, owner, run_jobs):
    slug, _ = owner
    account = make(slug, "account", name="Initech", website="https://www.initech.example")
    rows = [
        ["Last name", "Company site"],
        ["Lumbergh", "initech.example"],
        ["Nobody", "nowhere.example"],
    ]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "account_id"], by_1="domain")
    run_jobs()
    imp = state(slug, import_id)
    assert (imp.created, imp.failed) == (1, 1)
    (person,) = contacts(slug)
    assert person.account_id == account


def test_rejected_rows_come_back_as_a_csv_that_imports_once_fixed(client, owner, run_jobs):
    slug, _ = owner
    rows = [
        ["Last name", "E-mail", "Birthday"],
        ["Good", "good@example.com", "1990-01-02"],
        ["", "nameless@example.com", ""],
        ["Bad mail", "not-an-address", ""],
        ["Bad date", "date@example.com", "31/31/1990"],
        ["", "", ""],
    ]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "email", "birthday"])
    run_jobs()
    imp = state(slug, import_id)
    assert (imp.created, imp.failed, imp.skipped) == (1, 3, 0) or (imp.created, imp.failed) == (
        1,
        3,
    )
    resp = client.get(f"/app/{slug}/imports/{import_id}/errors.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    report = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert report[0][:3] == ["Last name", "E-mail", "Birthday"]
    reasons = {r[1]: r[3] for r in report[1:]}
    assert "required" in reasons["nameless@example.com"]
    assert "e-mail" in reasons["not-an-address"].lower()
    assert "date" in reasons["date@example.com"].lower()
    assert len(report) - 1 == imp.failed + imp.skipped  # nothing silently dropped

    fixed = [report[0]] + [r for r in report[1:] if r[1]]
    fixed[1][0], fixed[2][1], fixed[3][2] = "Named", "fixed@example.com", "1990-12-31"
    again = upload(client, slug, csv_bytes(fixed), name="fixed.csv")
    assert mapping_of(slug, again)[3] == ""  # the reason column goes nowhere
    start(client, slug, again, mapping_of(slug, again))
    run_jobs()
    imp = state(slug, again)
    assert (imp.created, imp.failed) == (3, 0)
    assert len(contacts(slug)) == 4


def test_revert_removes_what_it_created_and_restores_what_it_updated(client, owner, run_jobs):
    slug, _ = owner
    kept = make(slug, "contact", last_name="Keep", email="keep@example.com", city="Paris")
    rows = [
        ["Last name", "E-mail", "City"],
        ["Keep", "keep@example.com", "Rome"],
        ["Added", "added@example.com", "Oslo"],
    ]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "email", "city"], mode="upsert", dedupe="email")
    run_jobs()
    assert {c.city for c in contacts(slug)} == {"Rome", "Oslo"}

    resp = post(client, f"/app/{slug}/imports/{import_id}/revert")
    assert resp.status_code == 302
    run_jobs()
    imp = state(slug, import_id)
    assert (imp.status, imp.reverted) == ("reverted", 2)
    (person,) = contacts(slug)
    assert (person.id, person.city) == (kept, "Paris")
    assert "added" in client.get(f"/app/{slug}/trash/").get_data(as_text=True).lower()


def test_cancel_stops_after_the_current_batch(client, owner, run_jobs, app, monkeypatch):
    from saas.modules.imports import engine

    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 2)
    rows = [["Last name"]] + [[f"Person {i}"] for i in range(10)]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name"])
    write = engine.Batch.write

    def write_then_cancel(self, batch, parsed):  # the user presses "Cancel" during batch 2
        write(self, batch, parsed)
        if self.imp.done == 2:
            self.imp.cancel_requested = True

    monkeypatch.setattr(engine.Batch, "write", write_then_cancel)
    run_jobs()
    imp = state(slug, import_id)
    assert (imp.status, imp.done, imp.created) == ("cancelled", 4, 4)
    assert len(contacts(slug)) == 4

    not_started = upload(client, slug, csv_bytes(rows))
    assert post(client, f"/app/{slug}/imports/{not_started}/cancel").status_code == 302
    assert state(slug, not_started).status == "cancelled"


def test_a_crash_midway_then_a_lost_queue_finishes_exactly_once(
    client, owner, run_jobs, app, monkeypatch
):
    """Batches commit with their position: after a crash and Redis losing the retry, the
    reconciler enqueues the import again and it goes on from the last committed batch."""
    from saas.extensions import redis
    from saas.modules.imports import engine
    from saas.tracked import reconcile

    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 3)
    rows = [["Last name", "E-mail"]] + [[f"P{i}", f"p{i}@example.com"] for i in range(10)]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "email"], mode="upsert", dedupe="email")
    write, calls = engine.Batch.write, []

    def crash_on_third(self, batch, parsed):
        calls.append(1)
        write(self, batch, parsed)
        if len(calls) == 3:
            raise RuntimeError("worker lost its database connection")

    monkeypatch.setattr(engine.Batch, "write", crash_on_third)
    run_jobs()  # the third batch rolls back; RQ schedules a retry for later
    assert state(slug, import_id).done == 6
    with app.app_context():
        redis().flushdb()  # ...and Redis loses it
    monkeypatch.setattr(engine.Batch, "write", write)
    with app.app_context():
        reconcile()
        assert attempts(slug) == [0]  # its heartbeat is fresh: not stalled yet
        age_heartbeats(slug)
        reconcile()
        assert attempts(slug) == [1]  # stalled: enqueued again
    run_jobs()
    imp = state(slug, import_id)
    assert (imp.status, imp.done, imp.created, imp.failed) == ("done", 10, 10, 0)
    people = contacts(slug)
    assert sorted(c.email for c in people) == sorted(f"p{i}@example.com" for i in range(10))
    with db.scope(tenant_ref(slug)):
        assert (
            session().execute(select(func.count()).where(ImportRow.import_id == import_id)).scalar()
            == 10
        )
    assert attempts(slug) == []  # finished: no longer tracked


def test_bad_files_get_a_sentence_not_a_500(client, owner):
    slug, _ = owner
    for data, name in [
        (b"", "empty.csv"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xls"),
        (b"a,b,a\n1,2,3\n", "dupes.csv"),
    ]:
        resp = post(
            client,
            f"/app/{slug}/imports/",
            {"object": "contact", "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert resp.status_code == 200
        page = resp.get_data(as_text=True)
        assert 'class="flash error"' in page or "flash-error" in page or "error" in page, name
    with db.scope(tenant_ref(slug)):
        assert session().execute(select(func.count()).select_from(Import)).scalar() == 0


def test_header_only_and_a_file_over_the_plan_limit_fail_with_a_reason(
    client, owner, run_jobs, app, monkeypatch
):
    slug, _ = owner
    resp = post(
        client,
        f"/app/{slug}/imports/",
        {"object": "contact", "file": (io.BytesIO(b"Last name,E-mail\n"), "empty.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "The file has column names but no rows." in resp.get_data(as_text=True)

    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", {"trial": 5, "default": 5})
    big = upload(client, slug, csv_bytes([["Last name"]] + [[f"P{i}"] for i in range(6)]))
    start(client, slug, big, ["last_name"])
    run_jobs()
    imp = state(slug, big)
    assert imp.status == "failed" and "6 rows" in imp.error and imp.created == 0

    # A workbook's quick row count includes blank rows; the exact count decides.
    from openpyxl import Workbook

    book = Workbook()
    for row in [["Last name"], *([f"Q{i}"] for i in range(5)), *([None] for _ in range(4))]:
        book.active.append(row)
    book.active["A12"] = " "
    buffer = io.BytesIO()
    book.save(buffer)
    fits = upload(client, slug, buffer.getvalue(), name="five.xlsx")
    start(client, slug, fits, ["last_name"])
    run_jobs()
    imp = state(slug, fits)
    assert (imp.status, imp.created, imp.total) == ("done", 5, 5)


def test_workflow_rules_run_on_imported_records(client, owner, run_jobs):
    from saas.modules.activities.models import Activity
    from saas.modules.workflows import service as workflows

    slug, _ = owner
    raw = {
        "object": "contact",
        "name": "Welcome call",
        "active": True,
        "trigger": {"kind": "created"},
        "match": "all",
        "conditions": [],
        "actions": [{"kind": "task", "subject": "Call {record}", "assignee": "owner"}],
    }
    with db.scope(tenant_ref(slug)):
        workflows.save(raw)
    rows = [["Last name"], ["One"], ["Two"]]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name"])
    run_jobs()
    assert state(slug, import_id).created == 2
    with db.scope(tenant_ref(slug)):
        subjects = session().execute(select(Activity.subject)).scalars().all()
    assert sorted(subjects) == ["Call One", "Call Two"]


def test_a_file_broken_midway_fails_the_run_and_keeps_the_batches_before(
    client, owner, run_jobs, app, monkeypatch, tmp_path
):
    """Batches are read ahead by a thread: an error it meets further down the file
    still fails the import with its sentence, after the batches before it."""
    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 500)
    cell = '<c r="A{0}" t="inlineStr"><is><t>{1}</t></is></c>'
    rows = "".join(f'<row r="{i}">{cell.format(i, f"Person{i}")}</row>' for i in range(2, 3002))
    sheet = f'<row r="1">{cell.format(1, "Last name")}</row>{rows}<row><c'  # cut off
    path = minimal_xlsx(tmp_path / "people.xlsx", sheet)
    import_id = upload(client, slug, path.read_bytes(), name="people.xlsx")
    start(client, slug, import_id, ["last_name"])
    run_jobs()
    imp = state(slug, import_id)
    assert imp.status == "failed" and "damaged" in imp.error
    assert (imp.done, imp.created) == (3000, 3000)
    assert len(contacts(slug)) == 3000
    page = client.get(f"/app/{slug}/imports/{import_id}").get_data(as_text=True)
    assert "damaged" in page


def big_import(client, slug) -> tuple[int, list[str]]:
    """A started import of 20 rows (four batches of five in the tests below)."""
    names = [f"Big {i}" for i in range(20)]
    import_id = upload(client, slug, csv_bytes([["Last name"]] + [[n] for n in names]))
    start(client, slug, import_id, ["last_name"])
    return import_id, names


def small_import_elsewhere(make_client) -> tuple[str, int]:
    """Another company signs up and starts a one-row import: (its slug, the import)."""
    other = make_client()
    other_slug, _ = signup(other)
    small = upload(other, other_slug, csv_bytes([["Last name"], ["Small"]]))
    start(other, other_slug, small, ["last_name"])
    return other_slug, small


def test_a_big_import_lets_another_company_s_small_one_go_first(
    client, owner, make_client, run_jobs, app, monkeypatch
):
    """One worker, two companies: the big import, queued first, hands its turn over
    after a batch; the small one finishes first; the big one then goes on from where it
    stood to the end, every row once."""
    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 5)
    monkeypatch.setitem(app.config, "IMPORT_TURN_SECONDS", 0)
    big, names = big_import(client, slug)
    other_slug, small = small_import_elsewhere(make_client)
    run_jobs()
    first, second = state(slug, big), state(other_slug, small)
    assert (first.status, first.done, first.created) == ("done", 20, 20)
    assert (second.status, second.created) == ("done", 1)
    assert second.finished_at < first.finished_at
    assert sorted(c.last_name for c in contacts(slug)) == sorted(names)
    assert [c.last_name for c in contacts(other_slug)] == ["Small"]
    assert attempts(slug) == [] and attempts(other_slug) == []  # nothing left to watch


def test_undoing_a_big_import_takes_turns_too(
    client, owner, make_client, run_jobs, app, monkeypatch
):
    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 5)
    big, _names = big_import(client, slug)
    run_jobs()
    monkeypatch.setitem(app.config, "IMPORT_TURN_SECONDS", 0)
    assert post(client, f"/app/{slug}/imports/{big}/revert").status_code == 302
    other_slug, small = small_import_elsewhere(make_client)
    run_jobs()
    undone, second = state(slug, big), state(other_slug, small)
    assert (undone.status, undone.reverted) == ("reverted", 20)
    assert second.status == "done" and second.finished_at < undone.finished_at
    assert contacts(slug) == [] and [c.last_name for c in contacts(other_slug)] == ["Small"]


def test_an_import_waiting_for_its_turn_survives_redis_losing_its_queue(
    client, owner, run_jobs, app, monkeypatch
):
    """The import hands its worker over to a job that waits; Redis then loses the queue
    (the waiting job flushes it here): the reconciler enqueues the import again and it
    goes on from its position, every row once."""
    from saas import mail
    from saas.extensions import redis
    from saas.jobs import enqueue
    from saas.modules.imports import engine
    from saas.tracked import reconcile

    slug, _ = owner
    run_jobs()  # what signing up queued
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 5)
    monkeypatch.setitem(app.config, "IMPORT_TURN_SECONDS", 0)
    big, names = big_import(client, slug)
    write, send = engine.Batch.write, mail.send_email

    def write_and_send(self, batch, parsed):
        write(self, batch, parsed)
        if self.imp.done == 0:
            enqueue(send, "colleague@example.com", "Hello", "Are you there?")

    monkeypatch.setattr(engine.Batch, "write", write_and_send)
    monkeypatch.setattr(mail, "send_email", lambda to, subject, body: redis().flushdb())
    run_jobs()
    imp = state(slug, big)
    assert (imp.status, imp.done) == ("queued", 10)  # handed over after two batches
    with app.app_context():
        age_heartbeats(slug)
        reconcile()
    assert attempts(slug) == [1]
    run_jobs()
    imp = state(slug, big)
    assert (imp.status, imp.done, imp.created) == ("done", 20, 20)
    assert sorted(c.last_name for c in contacts(slug)) == sorted(names)
    assert attempts(slug) == []


def test_an_import_goes_on_when_it_cannot_see_whether_jobs_wait(
    client, owner, run_jobs, app, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from saas import jobs

    def unreachable(name):
        raise RedisConnectionError("Redis is restarting")

    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 5)
    monkeypatch.setitem(app.config, "IMPORT_TURN_SECONDS", 0)
    big, names = big_import(client, slug)
    monkeypatch.setattr(jobs, "get_queue", unreachable)  # only the import's look at queues
    run_jobs()
    imp = state(slug, big)
    assert (imp.status, imp.done, imp.created) == ("done", 20, 20)
    assert sorted(c.last_name for c in contacts(slug)) == sorted(names)


def test_an_import_waiting_for_its_turn_says_so(client, owner):
    slug, _ = owner
    import_id = upload(client, slug, csv_bytes(PEOPLE))
    with db.scope(tenant_ref(slug)):  # as a run leaves it when it hands its worker over
        imp = session().get(Import, import_id)
        imp.status, imp.done, imp.total = "queued", 1, 2
    shown = client.get(f"/app/{slug}/imports/{import_id}/progress").get_json()
    assert shown["label"] == "Waiting for its turn (other jobs go first) · 1 of 2 rows"
    assert not shown["finished"]
    listed = client.get(f"/app/{slug}/imports/").get_data(as_text=True)
    assert "Waiting for its turn (other jobs go first)" in listed


def test_an_e_mail_sent_during_an_import_goes_out_before_the_import_ends(
    client, owner, run_jobs, app, monkeypatch, mailbox
):
    from saas.jobs import enqueue
    from saas.mail import send_email
    from saas.modules.imports import engine

    slug, _ = owner
    run_jobs()  # what signing up queued
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 5)
    monkeypatch.setitem(app.config, "IMPORT_TURN_SECONDS", 0)
    import_id = upload(client, slug, csv_bytes([["Last name"]] + [[f"P {i}"] for i in range(20)]))
    start(client, slug, import_id, ["last_name"])
    write, delivered = engine.Batch.write, []

    def write_and_watch(self, batch, parsed):
        write(self, batch, parsed)
        if self.imp.done == 0:  # during the first batch, someone is sent an e-mail
            enqueue(send_email, "colleague@example.com", "Hello", "Are you there?")
        delivered.append(len(mailbox("colleague@example.com")))

    monkeypatch.setattr(engine.Batch, "write", write_and_watch)
    run_jobs()
    # Queued as the first batch commits, it goes out after the second, not the last.
    assert delivered == [0, 0, 1, 1]
    imp = state(slug, import_id)
    assert (imp.status, imp.done, imp.created) == ("done", 20, 20)
    assert len(contacts(slug)) == 20


def test_another_company_never_sees_or_runs_an_import(client, owner, make_client, run_jobs, app):
    from saas.jobs import enqueue
    from saas.modules.imports.jobs import run_import

    slug, _ = owner
    import_id = upload(client, slug, csv_bytes(PEOPLE))
    other = make_client()
    other_slug, _ = signup(other)
    for url in ["", "/mapping", "/progress", "/errors.csv"]:
        assert other.get(f"/app/{other_slug}/imports/{import_id}{url}").status_code == 404
    assert post(other, f"/app/{other_slug}/imports/{import_id}/revert").status_code == 404
    assert post(other, f"/app/{other_slug}/imports/{import_id}/cancel").status_code == 404
    # A job of the other company naming this import finds nothing there.
    with app.app_context(), db.scope(tenant_ref(other_slug)):
        enqueue(run_import, import_id)
    run_jobs()
    assert state(slug, import_id).status == "uploaded"
    assert contacts(other_slug) == []


def test_two_companies_imports_of_one_number_keep_their_own_files(
    client, owner, make_client, run_jobs
):
    """Each company numbers its imports: two imports no. 1 run by one worker process each
    read their own company's file, from a scratch file named after that company."""
    from saas import scratch
    from saas.modules.imports import storage

    slug, _ = owner
    other = make_client()
    other_slug, _ = signup(other)
    mine = upload(client, slug, csv_bytes([["Last name"], ["Mine"]]))
    theirs = upload(other, other_slug, csv_bytes([["Last name"], ["Theirs"]]))
    assert mine == theirs
    start(client, slug, mine, ["last_name"])
    start(other, other_slug, theirs, ["last_name"])
    run_jobs()
    assert [c.last_name for c in contacts(slug)] == ["Mine"]
    assert [c.last_name for c in contacts(other_slug)] == ["Theirs"]
    paths = {}
    for company in (slug, other_slug):
        with db.scope(tenant_ref(company)), storage.temp_path(mine, "csv") as path:
            assert current_tenant().schema_name in path.name
            paths[company] = path
    assert paths[slug] != paths[other_slug]
    assert paths[slug].parent == paths[other_slug].parent == scratch.directory()


def test_a_member_sees_only_their_own_imports(client, owner, make_client):
    slug, _ = owner
    import_id = upload(client, slug, csv_bytes(PEOPLE))
    email, _uid = add_member(slug, "member")
    colleague = make_client()
    login(colleague, email)
    assert colleague.get(f"/app/{slug}/imports/{import_id}").status_code == 404
    assert unique() not in colleague.get(f"/app/{slug}/imports/").get_data(as_text=True)


def test_the_quick_e_mail_check_agrees_with_email_validator():
    """Imports check millions of addresses with a fast path; it must accept and refuse
    exactly what email_validator does (random addresses made of the tricky characters)."""
    import random

    from email_validator import EmailNotValidError, validate_email

    from saas.forms import normalize_email

    rnd = random.Random(5)
    cases = ["john.smith@example.com", "A+b@Ex.CO.uk", "a@localhost", "x@y.onion", "a@b.x1"]
    for alphabet in ["ab.-_+1@x", "ab.c-@1é", "a.b@-_x9yz", "ab.@-xn"]:
        cases += [
            "".join(rnd.choice(alphabet) for _ in range(rnd.randint(3, 14))) for _ in range(5000)
        ]
    for case in cases:
        try:
            expected = validate_email(case.strip(), check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            expected = None
        try:
            got = normalize_email(case)
        except ValueError:
            got = None
        assert got == expected, case


def test_search_documents_written_by_copy_equal_the_ones_forms_write(client, owner):
    """Bulk writes send the search document as tsvector text; PostgreSQL must read it as
    the same lexemes that records.search.document gives (quotes, backslashes, Chinese)."""
    from saas.modules.records.search import lexemes, vector_text

    values = ["O'Brien \\ Söhne", "上海晨光贸易", "a.b@example.com www.example.com", "Ünïcødé"]
    with db.scope() as s:
        copied = s.execute(text("SELECT CAST(:v AS tsvector)::text"), {"v": vector_text(values)})
        built = s.execute(
            text("SELECT array_to_tsvector(CAST(:a AS text[]))::text"), {"a": lexemes(*values)}
        )
        assert copied.scalar_one() == built.scalar_one()


def test_an_import_leaves_its_search_entries_merged(client, owner, run_jobs):
    """Imported records go into the search index's pending list, which a second
    connection merges while the import runs: the next person to save a contact does not
    pay for merging a big import's entries, and searches do not scan them one by one."""
    slug, _ = owner
    rows = [["First name", "Last name", "E-mail"]]
    rows += [[f"Ada{i}", "Lovelace", f"ada{i}@example.com"] for i in range(60)]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["first_name", "last_name", "email"])
    run_jobs()
    assert state(slug, import_id).created == 60
    index = f'"{tenant_ref(slug).schema_name}".ix_contacts_search'
    with db.scope() as s:  # what is still pending is merged (and counted) by this call
        merge = text("SELECT gin_clean_pending_list(CAST(:index AS regclass))")
        assert s.execute(merge, {"index": index}).scalar_one() == 0
    found = client.get(f"/app/{slug}/search?q=ada42").get_data(as_text=True)
    assert "Ada42 Lovelace" in found and "Ada43 Lovelace" not in found


def test_an_import_goes_on_when_merging_search_entries_fails(client, owner, run_jobs, monkeypatch):
    from saas.modules.records import bulk

    monkeypatch.setattr(bulk.SearchMerge, "MERGE", "SELECT no_such_function(:index)")
    slug, _ = owner
    rows = [["Last name", "E-mail"]] + [[f"Hopper{i}", f"g{i}@example.com"] for i in range(30)]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "email"])
    run_jobs()
    assert (state(slug, import_id).status, state(slug, import_id).created) == ("done", 30)
    assert "Hopper17" in client.get(f"/app/{slug}/search?q=hopper17").get_data(as_text=True)


def test_owners_given_records_hear_once_per_import(client, owner, run_jobs):
    from saas.modules.notifications.models import Notification

    slug, _ = owner
    email, colleague = add_member(slug, "member", name="Chen Jing")
    rows = [["Last name", "Owner"]] + [[f"P{i}", email.upper()] for i in range(7)]
    rows.append(["Mine", ""])
    import_id = upload(client, slug, csv_bytes(rows))
    assert mapping_of(slug, import_id) == ["last_name", "owner_id"]
    start(client, slug, import_id, ["last_name", "owner_id"])
    run_jobs()
    assert state(slug, import_id).created == 8
    assert sum(1 for c in contacts(slug) if c.owner_id == colleague) == 7
    with db.scope(tenant_ref(slug)):
        notes = (
            session()
            .execute(
                select(Notification.kind, Notification.title).where(
                    Notification.user_id == colleague
                )
            )
            .all()
        )
    assert notes == [("assigned", "The import of people.csv gave you 7 contacts")]


def test_the_mapping_page_of_a_big_file_reads_only_its_start(client, owner):
    slug, _ = owner
    rows = [["Last name", "Notes"]] + [[f"Person {i}", "x" * 100] for i in range(60_000)]
    data = csv_bytes(rows)
    assert len(data) > 6 * 1024 * 1024  # beyond what the preview copies
    import_id = upload(client, slug, data)
    page = client.get(f"/app/{slug}/imports/{import_id}/mapping").get_data(as_text=True)
    assert "Person 0" in page and "Person 9" in page and "Person 10<" not in page


def test_a_unique_field_refusing_rows_fails_only_those_rows(client, owner, run_jobs):
    slug, _ = owner
    resp = post(
        client,
        f"/app/{slug}/customize/contacts/fields/new",
        {"label": "Badge", "type": "text", "unique": "on"},
    )
    assert resp.status_code == 302
    make(slug, "contact", last_name="Holder", cf_badge="B-1")
    rows = [["Last name", "Badge"], ["Taken", "B-1"], ["Free", "B-2"], ["Twin", "B-2"]]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "cf_badge"])  # no key: every row is new
    run_jobs()
    imp = state(slug, import_id)
    assert (imp.created, imp.failed) == (1, 2)
    assert sorted(c.last_name for c in contacts(slug)) == ["Free", "Holder"]
    report = client.get(f"/app/{slug}/imports/{import_id}/errors.csv").get_data(as_text=True)
    assert report.count("another record already has this value") == 2


def test_an_import_into_a_new_company_keeps_the_table_s_statistics(
    client, owner, run_jobs, app, monkeypatch
):
    """The planner learns how big the table an import grows is (else a new company's
    table stays "empty" to it until autovacuum comes, and each batch's lookups read the
    whole table); it knows once the import has added as many rows as it knew of."""
    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_BATCH_ROWS", 10)
    schema = tenant_ref(slug).schema_name

    def known() -> float:
        with db.scope() as s:
            return s.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                {"t": f'"{schema}".contacts'},
            ).scalar_one()

    assert known() <= 0  # never analysed: a new company
    rows = [["Last name", "E-mail"]] + [[f"P{i}", f"p{i}@example.com"] for i in range(45)]
    import_id = upload(client, slug, csv_bytes(rows))
    start(client, slug, import_id, ["last_name", "email"], mode="upsert", dedupe="email")
    run_jobs()
    assert state(slug, import_id).created == 45
    assert known() >= 40  # analysed after 10, 20 and 40 rows


def test_a_file_over_the_size_limit_is_refused_and_nothing_is_kept(client, owner, app, monkeypatch):
    slug, _ = owner
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 2 * 1024 * 1024)
    data = csv_bytes([["Last name"]] + [["x" * 100] for _ in range(30_000)])
    resp = post(
        client,
        f"/app/{slug}/imports/",
        {"object": "contact", "file": (io.BytesIO(data), "big.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "The file is larger than 2 MB. Split it into smaller files." in resp.get_data(
        as_text=True
    )
    with db.scope(tenant_ref(slug)):
        assert session().execute(select(func.count()).select_from(Import)).scalar() == 0
