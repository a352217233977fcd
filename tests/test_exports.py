"""Exports: a list (its filters, sort, visibility) or a whole object written by a worker as
CSV or XLSX, with custom fields, Chinese text and formulas neutralised; progress,
cancelling, a killed worker's retry, expiring links and the purge, who may download;
scheduled daily exports POSTed signed (retried, with history) or kept, once a day;
and one company's exports out of every other's reach."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import threading
import zipfile
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openpyxl import load_workbook
from sqlalchemy import func, select, update

from saas.db import db
from saas.modules.exports import delivery, files, jobs, service
from saas.modules.exports.models import Export, ExportChunk, ExportRun, ExportSchedule
from saas.modules.notifications.models import Notification
from tests.conftest import login, post, signup
from tests.factories import add_member, exported, make, tenant_ref, user_id
from tests.test_custom_fields import add_field

# -- helpers ---------------------------------------------------------------------------------


def start(client, slug, object_name="contact", query="", fmt="csv") -> int:
    """Ask for an export as the list's Export button does; returns its id."""
    resp = post(
        client, f"/app/{slug}/exports/", {"object": object_name, "query": query, "format": fmt}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        return s.execute(select(func.max(Export.id))).scalar_one()


def row(slug, export_id) -> Export:
    with db.scope(tenant_ref(slug)) as s:
        return s.get(Export, export_id)


def chunks(slug, export_id) -> int:
    with db.scope(tenant_ref(slug)) as s:
        return s.execute(
            select(func.count()).where(ExportChunk.export_id == export_id)
        ).scalar_one()


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def formula_like(cell) -> bool:
    return isinstance(cell, str) and cell.startswith(("=", "+", "-", "@"))


def _contacts_with_custom_fields(client, run_jobs, slug):
    """Custom fields (a picklist, Chinese-labelled text, a number, a date, a checkbox) and
    three contacts: two in 上海 with dangerous values, one elsewhere."""
    names = {}
    for label, spec in {
        "Tier": {"type": "choice", "choices": "Gold\nSilver"},
        "备注": {"type": "text"},
        "Budget": {"type": "currency"},
        "First met": {"type": "date"},
        "Newsletter": {"type": "bool"},
    }.items():
        resp, names[label] = add_field(client, slug, label=label, **spec)
        assert resp.status_code == 302, resp.get_data(as_text=True)
    run_jobs()
    first = make(
        slug,
        "contact",
        last_name="王小明",
        first_name="=cmd|' /C calc'!A0",
        city="上海",
        **{
            names["Tier"]: "gold",
            names["备注"]: "+SUM(1,2)",
            names["Budget"]: "12500",
            names["First met"]: "2026-03-04",
            names["Newsletter"]: "on",
        },
    )
    second = make(
        slug,
        "contact",
        last_name="-minus",
        first_name="@at",
        city="上海",
        description='=HYPERLINK("http://evil")',
        **{names["备注"]: "老客户"},
    )
    make(slug, "contact", last_name="Elsewhere", city="Rome")
    return names, first, second


class Hook:
    """A local HTTP endpoint that keeps what it receives and answers ``codes`` in turn."""

    def __init__(self, *codes: int):
        self.codes, self.received = list(codes), []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((self.headers, body))
                code = hook.codes.pop(0) if len(hook.codes) > 1 else hook.codes[0]
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/erp/crm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def schedule_form(**values) -> dict:
    form = {
        "name": "To the ERP",
        "format": "csv",
        "hour": "0",
        "delivery": "url",
        "url": "",
        "active": "on",
        "objects": ["contact"],
        "fields-contact": ["first_name", "last_name"],
    }
    form.update(values)
    return form


def new_schedule(client, slug, **values) -> int:
    resp = post(client, f"/app/{slug}/exports/schedules/new", schedule_form(**values))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    schedule_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    # Made "two days ago": today's hour has passed since it exists.
    with db.scope(tenant_ref(slug)) as s:
        s.execute(
            update(ExportSchedule)
            .where(ExportSchedule.id == schedule_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    return schedule_id


def tick(app, slug) -> dict:
    with app.app_context(), db.scope(tenant_ref(slug)):
        return jobs.exports_tick()


def runs(slug, schedule_id) -> list[ExportRun]:
    with db.scope(tenant_ref(slug)) as s:
        stmt = select(ExportRun).where(ExportRun.schedule_id == schedule_id)
        return list(s.execute(stmt.order_by(ExportRun.id)).scalars())


def retry_scheduled(app) -> int:
    """Move scheduled exports' runs waiting for their retry back to their queue (their
    wait is over)."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from saas.extensions import redis
    from saas.jobs import get_queue
    from saas.modules.exports.jobs import run_schedule

    with app.app_context():
        queue = get_queue(run_schedule.job_spec.queue)
        registry = ScheduledJobRegistry(queue=queue)
        jobs = [Job.fetch(i, connection=redis()) for i in registry.get_job_ids()]
        runs = [j for j in jobs if j.func_name.endswith(".run_schedule")]
        for job in runs:  # not other tests' imports waiting for a retry on the same queue
            registry.remove(job.id)
            queue.enqueue_job(job)
        return len(runs)


# -- files -------------------------------------------------------------------------------------


def test_csv_of_a_list_keeps_its_filter_and_sort_custom_fields_chinese_and_no_formulas(
    client, run_jobs
):
    slug, _email = signup(client)
    names, first, second = _contacts_with_custom_fields(client, run_jobs, slug)
    # The list's query string, as its Export button sends it: a search and a sort.
    resp = exported(client, run_jobs, slug, "contact", "q=上海&sort=created_at")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="contacts-' in resp.headers["Content-Disposition"]
    header, *data = csv_rows(resp.data)
    assert header[:3] == ["id", "First name", "Last name"]
    assert {"Tier", "备注", "Budget", "First met", "Newsletter"} <= set(header)
    assert [int(r[0]) for r in data] == [first, second]  # filtered, oldest first
    one = dict(zip(header, data[0], strict=True))
    assert one["Last name"] == "王小明" and one["City"] == "上海"
    assert one["First name"] == "'=cmd|' /C calc'!A0"
    assert one["备注"] == "'+SUM(1,2)"
    assert (one["Tier"], one["Budget"], one["First met"]) == ("Gold", "12500.00", "2026-03-04")
    assert one["Newsletter"] == "yes"
    two = dict(zip(header, data[1], strict=True))
    assert (two["Last name"], two["First name"]) == ("'-minus", "'@at")
    assert two["Description"] == '\'=HYPERLINK("http://evil")' and two["备注"] == "老客户"
    assert not any(formula_like(cell) for r in data for cell in r)


def test_an_export_of_many_batches_names_every_account_and_keeps_every_custom_value(
    client, run_jobs, monkeypatch
):
    """Accounts named in one batch are named again in later ones (read once per export),
    accounts first seen later are read then, and custom values stay with their contact."""
    slug, _email = signup(client)
    resp, note = add_field(client, slug, label="Note", type="text")
    assert resp.status_code == 302
    run_jobs()
    accounts = [make(slug, "account", name=n) for n in ("Acme", "Globex", "Initech")]
    # Acme and Globex in every batch of two, Initech only in the last one.
    linked = [accounts[0], accounts[1], accounts[1], accounts[0], accounts[2], None]
    for i, account in enumerate(linked):
        make(slug, "contact", last_name=f"C{i}", account_id=account, **{note: f"note {i}"})
    monkeypatch.setattr(files, "BATCH", 2)
    resp = exported(client, run_jobs, slug, "contact", "sort=created_at")
    header, *data = csv_rows(resp.data)
    got = [(r[header.index("Last name")], r[header.index("Account")], r[header.index("Note")])
           for r in data]  # fmt: skip
    names = ["Acme", "Globex", "Globex", "Acme", "Initech", ""]
    assert got == [(f"C{i}", names[i], f"note {i}") for i in range(6)]


def test_xlsx_has_typed_cells_strings_never_formulas_and_custom_columns(client, run_jobs):
    slug, _email = signup(client)
    names, first, second = _contacts_with_custom_fields(client, run_jobs, slug)
    resp = exported(client, run_jobs, slug, "contact", "q=上海&sort=created_at", fmt="xlsx")
    assert resp.status_code == 200 and resp.mimetype == files.FORMATS["xlsx"]
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and all("<f>" not in z.read(n).decode() for n in sheets)  # no formula
    sheet = load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["id", "First name", "Last name"] and "备注" in header
    rows = [list(r) for r in sheet.iter_rows(min_row=2)]
    assert [r[0].value for r in rows] == [first, second]
    one = {h: c for h, c in zip(header, rows[0], strict=True)}
    assert one["Last name"].value == "王小明"
    assert (one["First name"].value, one["First name"].data_type) == ("'=cmd|' /C calc'!A0", "s")
    assert one["备注"].value == "'+SUM(1,2)" and one["Tier"].value == "Gold"
    assert one["Budget"].data_type == "n" and one["Budget"].value == 12500
    assert one["First met"].value == datetime(2026, 3, 4)  # a date cell
    assert one["Newsletter"].value is True
    two = {h: c for h, c in zip(header, rows[1], strict=True)}
    assert (two["Last name"].value, two["First name"].value) == ("'-minus", "'@at")
    for r in rows:
        for cell in r:
            assert cell.data_type != "f" and not formula_like(cell.value)


def test_every_object_exports_in_both_formats(client, run_jobs):
    from saas.modules.records.registry import all_types
    from tests.factories import one_of_each

    slug, email = signup(client)
    one_of_each(slug, user_id(email))
    ids = [start(client, slug, t.name, fmt=fmt) for t in all_types() for fmt in files.FORMATS]
    run_jobs()
    for export_id in ids:
        export = row(slug, export_id)
        assert export.status == "finished" and export.done >= 1, (export.object, export.error)
        assert client.get(f"/app/{slug}/exports/{export_id}/download").status_code == 200


# -- progress, cancel, retry -----------------------------------------------------------------


def test_progress_is_reported_per_batch_as_the_json_the_page_polls(
    app, client, run_jobs, monkeypatch
):
    slug, _email = signup(client)
    for i in range(5):
        make(slug, "account", name=f"Batch {i}")
    export_id = start(client, slug, "account")
    url = f"/app/{slug}/exports/{export_id}/progress"
    assert client.get(url).json == {
        "status": "queued",
        "done": 0,
        "total": None,
        "rate": None,
        "eta_s": None,
        "finished": False,
        "label": "Waiting for a worker…",
    }
    page = client.get(f"/app/{slug}/exports/").get_data(as_text=True)
    assert f'data-progress-url="{url}"' in page and "progress.js" in page
    assert "<script>" not in page  # strict CSP: no inline script

    seen = []
    original = jobs._set

    def watching(export_id, **values):
        ok = original(export_id, **values)
        if "done" in values:
            with db.scope(tenant_ref(slug)) as s:
                seen.append(service.progress(s.get(Export, export_id)))
        return ok

    monkeypatch.setattr(files, "BATCH", 2)
    monkeypatch.setattr(jobs, "_set", watching)
    run_jobs()
    assert [(p["done"], p["total"], p["status"], p["finished"]) for p in seen] == [
        (2, 5, "running", False),
        (4, 5, "running", False),
        (5, 5, "running", False),
    ]
    assert seen[0]["label"].startswith("2 of 5 rows")
    assert all(p["rate"] is None or p["rate"] > 0 for p in seen)
    final = client.get(url).json
    assert final["finished"] is True and final["status"] == "finished"
    assert (final["done"], final["total"], final["label"]) == (5, 5, "Ready: 5 rows")
    # Rate and time left from the rows done since the start.
    now = datetime.now(UTC)
    running = Export(status="running", done=50, total=150, started_at=now - timedelta(seconds=10))
    shown = service.progress(running, now=now)
    assert (shown["rate"], shown["eta_s"], shown["finished"]) == (5.0, 20, False)


def test_cancel_before_and_during_the_run(app, client, run_jobs, monkeypatch):
    slug, email = signup(client)
    for i in range(5):
        make(slug, "account", name=f"Stop {i}")
    waiting = start(client, slug, "account")
    resp = post(client, f"/app/{slug}/exports/{waiting}/cancel")
    assert resp.status_code == 302
    run_jobs()
    assert row(slug, waiting).status == "cancelled" and chunks(slug, waiting) == 0
    assert client.get(f"/app/{slug}/exports/{waiting}/progress").json["finished"] is True

    running = start(client, slug, "account")
    original = jobs._set

    def cancel_after_first_batch(export_id, **values):
        ok = original(export_id, **values)
        if values.get("done") == 2:  # the person presses Cancel while it runs
            with db.scope(tenant_ref(slug)) as s:
                assert service.cancel(s.get(Export, export_id))
        return ok

    monkeypatch.setattr(files, "BATCH", 2)
    monkeypatch.setattr(jobs, "_set", cancel_after_first_batch)
    run_jobs()
    export = row(slug, running)
    assert (export.status, export.done, export.size) == ("cancelled", 2, 0)
    assert chunks(slug, running) == 0
    download = client.get(f"/app/{slug}/exports/{running}/download")
    assert download.status_code == 302  # not ready: back to the page, no file
    with db.scope(tenant_ref(slug)) as s:
        kinds = s.execute(select(Notification.kind)).scalars().all()
    assert "export_finished" not in kinds


def test_an_excel_export_leaves_no_temporary_files(client, run_jobs, monkeypatch):
    """Finished or cancelled while it was being written, an Excel export removes the
    files it wrote rows to."""
    from saas import scratch

    slug, _email = signup(client)
    for i in range(5):
        make(slug, "account", name=f"Temp {i}")
    scratch_dir = scratch.directory()  # this process's, where its jobs' files go
    monkeypatch.setattr(files, "BATCH", 2)
    finished = start(client, slug, "account", fmt="xlsx")
    run_jobs()
    assert row(slug, finished).status == "finished"
    original, seen = jobs._set, []

    def cancel_after_first_batch(export_id, **values):
        seen.append(sorted(p.name for p in scratch_dir.iterdir()))
        ok = original(export_id, **values)
        if values.get("done") == 2:
            with db.scope(tenant_ref(slug)) as s:
                assert service.cancel(s.get(Export, export_id))
        return ok

    monkeypatch.setattr(jobs, "_set", cancel_after_first_batch)
    cancelled = start(client, slug, "account", fmt="xlsx")
    run_jobs()
    assert row(slug, cancelled).status == "cancelled"
    assert any(names for names in seen)  # rows went to a temporary file meanwhile
    assert list(scratch_dir.iterdir()) == []


def test_a_killed_worker_s_retry_writes_the_file_again_without_duplicates(client, run_jobs):
    slug, _email = signup(client)
    ids = sorted(make(slug, "account", name=f"Once {i}") for i in range(3))
    export_id = start(client, slug, "account", query="sort=name")
    # The first worker died half-way: it left a running export and stray chunks behind.
    with db.scope(tenant_ref(slug)) as s:
        s.execute(
            update(Export)
            .where(Export.id == export_id)
            .values(status="running", done=2, attempts=1)
        )
        s.add_all(
            [
                ExportChunk(export_id=export_id, seq=0, data=b"half a file"),
                ExportChunk(export_id=export_id, seq=1, data=b"more of it"),
            ]
        )
    run_jobs()  # RQ's retry of the job
    export = row(slug, export_id)
    assert (export.status, export.attempts, export.done) == ("finished", 2, 3)
    data = client.get(f"/app/{slug}/exports/{export_id}/download").data
    assert b"half a file" not in data and b"more of it" not in data
    header, *rest = csv_rows(data)
    assert header[0] == "id" and sorted(int(r[0]) for r in rest) == ids
    assert len(data) == export.size


def test_finished_export_notifies_the_requester_once(app, client, run_jobs):
    slug, email = signup(client)
    make(slug, "account", name="Notify Co")
    export_id = start(client, slug, "account")
    run_jobs()
    with db.scope(tenant_ref(slug)) as s:
        (note,) = s.execute(select(Notification)).scalars().all()
    assert (note.kind, note.user_id, note.url) == ("export_finished", user_id(email), "/exports/")
    assert "ready" in note.title and note.key == f"export:{export_id}"
    # The job running again (a duplicate delivery) finds nothing to do and notifies no one.
    with app.app_context(), db.scope(tenant_ref(slug)):
        assert jobs.run_export(export_id) == "nothing to do"
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(func.count(Notification.id))).scalar_one() == 1


# -- expiry and who may download ----------------------------------------------------------------


def test_links_expire_after_a_day_and_the_purge_deletes_the_file(app, client, run_jobs):
    slug, _email = signup(client)
    make(slug, "account", name="Expiring Ltd")
    export_id = start(client, slug, "account")
    run_jobs()
    export = row(slug, export_id)
    assert export.expires_at - export.finished_at == timedelta(hours=24)
    link = f"/app/{slug}/exports/{export_id}/download"
    assert client.get(link).status_code == 200
    assert link in client.get(f"/app/{slug}/exports/").get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        s.execute(
            update(Export)
            .where(Export.id == export_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    refused = client.get(link)
    assert refused.status_code == 410 and "expired" in refused.get_data(as_text=True)
    page = client.get(f"/app/{slug}/exports/").get_data(as_text=True)
    assert link not in page and "Link expired" in page
    assert chunks(slug, export_id) > 0  # until the hourly purge
    assert tick(app, slug)["purged"] == 1
    assert row(slug, export_id).status == "expired" and chunks(slug, export_id) == 0
    assert client.get(link).status_code == 410
    assert tick(app, slug)["purged"] == 0


def test_members_download_their_own_exports_and_admins_everyones(client, make_client, run_jobs):
    slug, _owner_email = signup(client)
    make(slug, "account", name="Private Pipeline")
    alice, bob, reader = make_client(), make_client(), make_client()
    for browser, role in ((alice, "member"), (bob, "member"), (reader, "readonly")):
        email, _uid = add_member(slug, role)
        login(browser, email)
    mine = start(alice, slug, "account")
    own_read = start(reader, slug, "account")  # read-only members export too
    run_jobs()
    base = f"/app/{slug}/exports/{mine}"
    assert alice.get(f"{base}/download").status_code == 200
    for url in (f"{base}/download", f"{base}/progress"):
        assert bob.get(url).status_code == 404
    assert post(bob, f"{base}/cancel").status_code == 404
    assert f"export-{mine}" not in bob.get(f"/app/{slug}/exports/").get_data(as_text=True)
    assert reader.get(f"/app/{slug}/exports/{own_read}/download").status_code == 200
    assert reader.get(f"{base}/download").status_code == 404
    # The owner (an admin) sees and may download everyone's.
    page = client.get(f"/app/{slug}/exports/").get_data(as_text=True)
    assert f"export-{mine}" in page and f"export-{own_read}" in page
    assert client.get(f"{base}/download").status_code == 200


def test_the_export_follows_the_requesters_visibility(client, make_client, run_jobs):
    from saas.modules.workspace.service import update_settings

    slug, owner_email = signup(client)
    rep = make_client()
    email, rep_id = add_member(slug, "member")
    login(rep, email)
    make(slug, "lead", rep_id, last_name="VisMine")
    make(slug, "lead", user_id(owner_email), last_name="VisTheirs")
    with db.scope(tenant_ref(slug)):
        update_settings(user_id(owner_email), visibility={"member": "own"})
    # "me" is whoever asked, also in the worker that has no browser session.
    for query in ("", "owner_id=me"):
        text = exported(rep, run_jobs, slug, "lead", query).get_data(as_text=True)
        assert "VisMine" in text and "VisTheirs" not in text


# -- scheduled exports -----------------------------------------------------------------------


def test_scheduled_export_is_posted_signed_to_the_erp_once_a_day(app, client, run_jobs):
    slug, _email = signup(client)
    resp, tier = add_field(client, slug, label="Tier", type="choice", choices="Gold\nSilver")
    run_jobs()
    make(slug, "contact", last_name="陈", first_name="=cmd", **{tier: "gold"})
    hook = Hook(200)
    try:
        sid = new_schedule(
            client, slug, url=hook.url, **{"fields-contact": ["last_name", "first_name", tier]}
        )
        assert tick(app, slug)["runs"] == 1
        assert hook.received == []  # sent by a worker, after the commit
        run_jobs()
        ((headers, body),) = hook.received
        assert tick(app, slug)["runs"] == 0  # today's run exists: never twice a day
        run_jobs()
        assert len(hook.received) == 1
    finally:
        hook.close()
    with db.scope(tenant_ref(slug)) as s:
        secret = s.get(ExportSchedule, sid).secret
    stamp, mac = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", headers["X-CRM-Signature"]).groups()
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    today = date.today().isoformat()  # the tenant's time zone is UTC
    assert headers["X-CRM-Export"] == f"{sid}.{today}.contact"
    assert headers["X-CRM-Object"] == "contact" and headers["X-CRM-Rows"] == "1"
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    header, (contact,) = csv_rows(body)[0], csv_rows(body)[1:]
    assert header == ["id", "Last name", "First name", "Tier"]
    assert contact[1:] == ["陈", "'=cmd", "Gold"]
    (run,) = runs(slug, sid)
    assert (run.status, run.rows, run.http_status, run.attempts) == ("ok", 1, 200, 1)
    assert run.run_on.isoformat() == today and run.duration_ms is not None
    page = client.get(f"/app/{slug}/exports/schedules/{sid}").get_data(as_text=True)
    assert "Delivered" in page and "200" in page and secret in page


def test_a_failing_endpoint_is_retried_with_every_attempt_in_the_history(app, client, run_jobs):
    slug, _email = signup(client)
    make(slug, "contact", last_name="Retry")
    hook = Hook(503, 200)
    try:
        sid = new_schedule(client, slug, url=hook.url)
        assert tick(app, slug)["runs"] == 1
        run_jobs()
        (run,) = runs(slug, sid)
        assert (run.status, run.http_status, run.error) == ("retrying", 503, "contact: HTTP 503")
        page = client.get(f"/app/{slug}/exports/schedules/{sid}").get_data(as_text=True)
        assert "Failed, will try again" in page and "HTTP 503" in page
        assert retry_scheduled(app) == 1  # RQ waits (backoff), then tries again
        run_jobs()
    finally:
        hook.close()
    assert len(hook.received) == 2
    first, second = (h["X-CRM-Export"] for h, _body in hook.received)
    assert first == second  # the same delivery: the ERP can drop a duplicate
    (run,) = runs(slug, sid)
    assert (run.status, run.http_status, run.error, run.attempts) == ("ok", 200, None, 2)
    attempts = run.detail["attempts"]
    assert [a["objects"]["contact"].get("status") for a in attempts] == [503, 200]


def test_a_schedule_kept_for_download_writes_chosen_fields_of_each_object(app, client, run_jobs):
    slug, email = signup(client)
    resp, budget = add_field(client, slug, "accounts", label="Budget", type="currency")
    make(slug, "account", name="北京科技", **{budget: "99.5"})
    make(slug, "contact", last_name="Keep")
    sid = new_schedule(
        client,
        slug,
        delivery="download",
        format="xlsx",
        objects=["contact", "account"],
        **{"fields-account": ["name", budget]},
    )
    tick(app, slug)
    run_jobs()
    (run,) = runs(slug, sid)
    assert (run.status, run.rows) == ("ok", 2)
    page = client.get(f"/app/{slug}/exports/").get_data(as_text=True)
    assert page.count("scheduled") >= 2
    export_id = run.detail["objects"]["account"]["export_id"]
    export = row(slug, export_id)
    assert (export.user_id, export.schedule_run_id) == (user_id(email), run.id)
    data = client.get(f"/app/{slug}/exports/{export_id}/download").data
    sheet = load_workbook(io.BytesIO(data)).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)][0] == ["id", "Name", "Budget"]
    assert list(sheet.iter_rows(min_row=2, values_only=True))[0][1:] == ("北京科技", 99.5)


def test_schedules_run_once_a_day_from_their_hour_in_the_tenant_time_zone(app, client):
    from saas.modules.workspace.service import update_settings

    slug, email = signup(client)
    fresh = new_schedule(client, slug, delivery="download", hour="0")
    with db.scope(tenant_ref(slug)) as s:  # made just now: today's 00:00 has gone by
        s.execute(
            update(ExportSchedule)
            .where(ExportSchedule.id == fresh)
            .values(created_at=datetime.now(UTC))
        )
    assert tick(app, slug)["runs"] == 0  # from tomorrow on
    late = new_schedule(client, slug, delivery="download", hour="23")
    with db.scope(tenant_ref(slug)) as s:
        s.execute(update(ExportSchedule).where(ExportSchedule.id == fresh).values(active=False))
        update_settings(user_id(email), timezone="Asia/Shanghai")

    def due(utc: datetime) -> list[int]:
        with app.app_context(), db.scope(tenant_ref(slug)):
            return delivery.due_runs(utc)

    assert due(datetime(2030, 1, 1, 14, 30, tzinfo=UTC)) == []  # 22:30 in Shanghai
    assert len(due(datetime(2030, 1, 1, 15, 30, tzinfo=UTC))) == 1  # 23:30
    assert due(datetime(2030, 1, 1, 15, 45, tzinfo=UTC)) == []  # the same day
    assert due(datetime(2030, 1, 1, 16, 30, tzinfo=UTC)) == []  # 00:30 on the 2nd
    assert len(due(datetime(2030, 1, 2, 15, 5, tzinfo=UTC))) == 1  # 23:05 on the 2nd
    assert [r.run_on for r in runs(slug, late)] == [date(2030, 1, 1), date(2030, 1, 2)]


def test_only_admins_set_up_schedules_and_mistakes_are_explained(client, make_client):
    slug, _email = signup(client)
    member = make_client()
    email, _uid = add_member(slug, "member")
    login(member, email)
    assert member.get(f"/app/{slug}/exports/schedules/").status_code == 403
    assert post(member, f"/app/{slug}/exports/schedules/new", schedule_form()).status_code == 403
    resp = post(
        client,
        f"/app/{slug}/exports/schedules/new",
        schedule_form(name="", url="ftp://erp", **{"fields-contact": []}),
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Give the schedule a name" in body
    assert "Enter the address that receives the files" in body
    assert "Choose at least one field of contacts." in body
    resp = post(client, f"/app/{slug}/exports/schedules/new", schedule_form(objects=[]))
    assert "Choose at least one kind of record" in resp.get_data(as_text=True)
    with db.scope(tenant_ref(slug)) as s:
        assert s.execute(select(func.count(ExportSchedule.id))).scalar_one() == 0
    form = client.get(f"/app/{slug}/exports/schedules/new").get_data(as_text=True)
    assert 'name="fields-contact" value="last_name"' in form
    # Saved, listed, changed, deleted.
    sid = new_schedule(client, slug, name="Nightly ERP", delivery="download")
    listing = client.get(f"/app/{slug}/exports/schedules/").get_data(as_text=True)
    assert "Nightly ERP" in listing and "Kept for download" in listing
    edit = f"/app/{slug}/exports/schedules/{sid}/edit"
    assert 'value="Nightly ERP"' in client.get(edit).get_data(as_text=True)
    resp = post(client, edit, schedule_form(name="Nightly ERP", hour="5", delivery="download"))
    assert resp.status_code == 302
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(ExportSchedule, sid).hour == 5
    assert post(member, f"/app/{slug}/exports/schedules/{sid}/delete").status_code == 403
    assert post(client, f"/app/{slug}/exports/schedules/{sid}/delete").status_code == 302
    with db.scope(tenant_ref(slug)) as s:
        assert s.get(ExportSchedule, sid) is None


def test_bad_export_requests_get_a_sentence(client):
    slug, _email = signup(client)
    resp = post(client, f"/app/{slug}/exports/", {"object": "spaceship", "format": "csv"})
    assert resp.status_code == 400 and "Choose what to export" in resp.get_data(as_text=True)
    resp = post(client, f"/app/{slug}/exports/", {"object": "contact", "format": "pdf"})
    assert resp.status_code == 400
    resp = post(
        client,
        f"/app/{slug}/exports/",
        {"object": "contact", "format": "csv", "query": "created_at__from=yesterday"},
        follow_redirects=True,
    )
    assert resp.status_code == 200 and "enter a date like" in resp.get_data(as_text=True)


# -- isolation -------------------------------------------------------------------------------


def test_another_company_cannot_reach_exports_and_jobs_stay_in_their_tenant(
    app, client, make_client, run_jobs
):
    slug_a, _email = signup(client)
    make(slug_a, "account", name="SecretA")
    browser_b = make_client()
    slug_b, _email_b = signup(browser_b)
    export_id = start(client, slug_a, "account")
    # A job for B carrying A's export id finds nothing in B's schema, and leaves A's alone.
    with app.app_context(), db.scope(tenant_ref(slug_b)):
        assert jobs.run_export(export_id) == "nothing to do"
        assert list(files.stream(tenant_ref(slug_b), export_id)) == []
    assert row(slug_a, export_id).status == "queued"
    run_jobs()
    assert row(slug_a, export_id).status == "finished"
    base_a = f"/app/{slug_a}/exports"
    for url in (
        f"{base_a}/",
        f"{base_a}/{export_id}/download",
        f"{base_a}/{export_id}/progress",
        f"{base_a}/schedules/",
    ):
        resp = browser_b.get(url)
        assert resp.status_code == 404 and "SecretA" not in resp.get_data(as_text=True)
    assert post(browser_b, f"{base_a}/{export_id}/cancel").status_code == 404
    # B's own address with A's id: B has no such export.
    assert browser_b.get(f"/app/{slug_b}/exports/{export_id}/download").status_code == 404
    assert row(slug_a, export_id).status == "finished"
    # A's scheduled run id in B's tick and job: nothing runs.
    sid = new_schedule(client, slug_a, delivery="download")
    tick(app, slug_a)
    (run,) = runs(slug_a, sid)
    with app.app_context(), db.scope(tenant_ref(slug_b)):
        assert delivery.run(run.id, 0) == "nothing to do"
    assert tick(app, slug_b) == {"purged": 0, "runs": 0}


def test_an_export_whose_job_redis_lost_is_enqueued_again_and_finishes(app, client, run_jobs):
    import uuid

    from saas.extensions import redis
    from saas.tracked import TrackedJob, reconcile

    slug, _ = signup(client)
    make(slug, "contact", last_name="Kept")
    export_id = start(client, slug)
    with app.app_context():
        redis().flushdb()  # the queued job is gone
    run_jobs()
    assert row(slug, export_id).status == "queued"
    mine = TrackedJob.tenant_id == uuid.UUID(tenant_ref(slug).id)
    with app.app_context():
        with db.scope() as s:  # quiet for an hour: stalled
            stale = datetime.now(UTC) - timedelta(hours=1)
            s.execute(update(TrackedJob).where(mine).values(heartbeat_at=stale))
        assert reconcile() >= 1
    run_jobs()
    assert row(slug, export_id).status == "finished"
    with db.scope() as s:
        assert s.execute(select(func.count()).select_from(TrackedJob).where(mine)).scalar() == 0
