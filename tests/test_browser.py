"""End to end in a real headless Chromium: a new company signs up and gets to work."""

import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page():
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser.new_page()
        browser.close()


def test_sign_up_and_add_a_contact_in_a_browser(live_server, page, artifacts):
    page.goto(f"{live_server}/")
    page.click("text=Create your company's CRM")
    page.fill("#company", "Lotus Garden Supplies")
    page.fill("#name", "Mei Lin")
    page.fill("#email", "mei.browser@example.com")
    page.fill("#password", "short")
    page.click("main button[type=submit]")
    assert page.locator(".error").inner_text() == "Use at least 10 characters."
    page.fill("#password", "lotus-garden-2026!")
    page.click("main button[type=submit]")
    page.wait_for_url("**/app/lotus-garden-supplies/")
    assert "Lotus Garden Supplies's CRM is ready" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "signup-dashboard.png"), full_page=True)

    page.click("nav >> text=Contacts")
    page.click("text=New contact")
    page.fill("#f-first_name", "伟")
    page.fill("#f-last_name", "Zhang")
    page.fill("#f-email", "wei.zhang@example.com")
    page.click(".record-form button[type=submit]")
    assert page.locator("h1").inner_text() == "伟 Zhang"
    page.click("nav >> text=Contacts")
    assert "wei.zhang@example.com" in page.inner_text("table")
    page.screenshot(path=str(artifacts / "contacts.png"), full_page=True)


def _id_in(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def test_a_deal_dragged_on_the_kanban_moves_and_its_timeline_says_so(live_server, page, artifacts):
    page.goto(f"{live_server}/signup")
    page.fill("#company", "Orchard Tools")
    page.fill("#name", "Ravi Kumar")
    page.fill("#email", "ravi.browser@example.com")
    page.fill("#password", "orchard-tools-2026!")
    page.click("main button[type=submit]")
    page.wait_for_url("**/app/orchard-tools/")
    shot = lambda name: page.screenshot(path=str(artifacts / f"deal-{name}.png"), full_page=True)  # noqa: E731

    page.click("nav >> text=Accounts")
    page.click("text=New account")
    page.fill("#f-name", "Acme Orchards")
    page.click(".record-form button[type=submit]")
    assert page.locator("h1").inner_text() == "Acme Orchards"
    shot("1-account")

    page.click("nav >> text=Contacts")
    page.click("text=New contact")
    page.fill("#f-first_name", "Grace")
    page.fill("#f-last_name", "Hopper")
    page.fill("#f-account_id", "Acme Orchards")
    page.click(".record-form button[type=submit]")
    assert page.locator("h1").inner_text() == "Grace Hopper"
    assert "Acme Orchards" in page.inner_text("main")
    contact_id = _id_in(page.url)
    shot("2-contact")

    # Quick create: the new deal starts on the default pipeline's first stage.
    page.click("summary:has-text('New')")
    page.click(".menu-body >> text=Deal")
    assert page.locator("#f-stage_id option:checked").inner_text() == "Qualification"
    page.fill("#f-name", "Acme orchard sensors")
    page.fill("#f-account_id", "Acme Orchards")
    page.fill("#f-contact_id", f"Grace Hopper (#{contact_id})")
    page.fill("#f-amount", "24000")
    page.click(".record-form button[type=submit]")
    assert "created" in page.inner_text(".flash-success")  # back where the menu was opened
    page.click("nav >> text=Deals")
    page.click("text=Acme orchard sensors")
    assert page.locator("h1").inner_text() == "Acme orchard sensors"
    assert "Grace Hopper" in page.inner_text("main")
    deal_id = _id_in(page.url)
    shot("3-deal")

    page.click("nav >> text=Deals")
    page.click("a.button:has-text('Board')")
    page.wait_for_url("**/deals/board")
    first, second = page.locator(".kanban-col").nth(0), page.locator(".kanban-col").nth(1)
    card = page.locator(f"#deal-{deal_id}")
    assert first.locator(f"#deal-{deal_id}").count() == 1
    assert "$24,000.00" in first.locator("[data-total]").inner_text()
    shot("4-board-before")

    card.drag_to(second.locator(".kanban-cards"))
    page.wait_for_selector("#board-status.flash-success")
    assert "moved to Needs analysis" in page.inner_text("#board-status")
    assert second.locator(f"#deal-{deal_id}").count() == 1
    assert second.locator("[data-count]").inner_text() == "1"
    assert first.locator("[data-count]").inner_text() == "0"
    assert second.locator("[data-weighted]").inner_text() == "$6,000.00"  # 25 %
    shot("5-board-after-drag")

    page.reload()  # the move was saved, not only drawn
    assert page.locator(".kanban-col").nth(1).locator(f"#deal-{deal_id}").count() == 1
    page.click(f"#deal-{deal_id} .kanban-title")
    timeline = page.inner_text(".timeline")
    assert "Stage moved" in timeline and "Qualification → Needs analysis" in timeline
    assert page.locator(".stage-bar li.current").inner_text() == "Needs analysis"
    shot("6-deal-timeline")


def test_an_admin_adds_a_picklist_and_a_rule_that_creates_a_task_when_a_deal_is_won(
    live_server, page, artifacts
):
    page.goto(f"{live_server}/signup")
    page.fill("#company", "Harbor Supplies")
    page.fill("#name", "Noor Haddad")
    page.fill("#email", "noor.browser@example.com")
    page.fill("#password", "harbor-supplies-2026!")
    page.click("main button[type=submit]")
    page.wait_for_url("**/app/harbor-supplies/")
    shot = lambda name: page.screenshot(path=str(artifacts / f"custom-{name}.png"), full_page=True)  # noqa: E731

    # A picklist field on deals, shown in the list.
    page.click("summary:has-text('More')")
    page.click(".menu-body >> text=Customize")
    page.click("tr:has-text('Deals') >> text=Fields")
    page.click("text=New field")
    page.fill("#cf-label", "Region")
    page.select_option("#cf-type", "choice")
    page.fill("#cf-choices", "North\nSouth")
    page.check("input[name=in_list]")
    page.click(".record-form button[type=submit]")
    assert "Field “Region” added" in page.inner_text(".flash-success")
    assert "cf_region" in page.inner_text("table")
    shot("1-field")

    # It is on the deal form; the deal keeps the value.
    page.click("nav >> text=Deals")
    page.click("text=New deal")
    page.fill("#f-name", "Harbor cranes")
    page.fill("#f-amount", "8000")
    page.select_option("#f-cf_region", label="North")
    page.click(".record-form button[type=submit]")
    assert page.locator("h1").inner_text() == "Harbor cranes"
    assert "North" in page.inner_text("main")
    deal_id = _id_in(page.url)
    shot("2-deal")

    # The rule: when the stage changes to Won, a task for the deal's owner.
    page.goto(f"{live_server}/app/harbor-supplies/automation/new")
    page.fill("#name", "Welcome pack on won deals")
    page.select_option("#trigger", "field_changed")
    page.wait_for_selector("#trigger_field")
    page.select_option("#trigger_field", "stage_id")
    page.wait_for_selector("select#trigger_to")
    page.select_option("select#trigger_to", label="Won")
    page.select_option("#a-0-kind", "task")
    page.wait_for_selector("#a-0-subject")
    page.fill("#a-0-subject", "Send the welcome pack")
    page.fill("#a-0-due_days", "2")
    page.select_option("#a-0-assignee", "owner")
    page.click("button[value=save]:not(.wf-hidden-default)")
    page.wait_for_url("**/automation/**")
    assert "Welcome pack on won deals" in page.inner_text("main")
    shot("3-rule")

    # Drag the deal to Won on the board; the task is there for its owner.
    page.click("nav >> text=Deals")
    page.click("a.button:has-text('Board')")
    won = page.locator(".kanban-col:has(h2:has-text('Won'))")
    page.locator(f"#deal-{deal_id}").drag_to(won.locator(".kanban-cards"))
    page.wait_for_selector("#board-status.flash-success")
    assert won.locator(f"#deal-{deal_id}").count() == 1
    page.goto(f"{live_server}/app/harbor-supplies/deals/{deal_id}")
    timeline = page.inner_text(".timeline")
    assert "Send the welcome pack" in timeline
    assert "Welcome pack on won deals" in page.inner_text("main")  # the rule's run, for admins
    page.click("nav >> text=Activities")
    row = page.locator("tr:has-text('Send the welcome pack')")
    assert "Noor Haddad" in row.inner_text()  # the owner's task
    shot("4-task")


@pytest.fixture
def background_worker(app):
    """A worker that keeps running queued jobs while the browser polls."""
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    from saas.extensions import redis
    from saas.jobs import QUEUES, TenantJob, get_queue

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty  # signals belong to the main thread

        def _install_signal_handlers(self):
            pass

    stop = threading.Event()

    def work():
        with app.app_context():
            while not stop.is_set():
                queues = [get_queue(q) for q in QUEUES]
                ThreadWorker(queues, connection=redis(), job_class=TenantJob).work(burst=True)
                stop.wait(0.2)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def test_an_import_is_mapped_previewed_and_watched_to_the_end(
    live_server, page, artifacts, tmp_path, background_worker
):
    page.goto(f"{live_server}/signup")
    page.fill("#company", "Jade Tea House")
    page.fill("#name", "Li Na")
    page.fill("#email", "li.browser@example.com")
    page.fill("#password", "jade-tea-house-2026!")
    page.click("main button[type=submit]")
    page.wait_for_url("**/app/jade-tea-house/")
    shot = lambda name: page.screenshot(path=str(artifacts / f"import-{name}.png"), full_page=True)  # noqa: E731

    rows = ["姓名,邮箱,城市"] + [f"客户{i},c{i}@tea.example,杭州" for i in range(1, 301)]
    rows.append("坏行,not-an-address,杭州")
    path = tmp_path / "客户名单.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("gb18030"))

    page.click("summary:has-text('More')")
    page.click("text=Imports")
    page.select_option("#import-object", "contact")
    page.set_input_files("#import-file", str(path))
    page.click("#import-upload button[type=submit]")
    page.wait_for_url("**/imports/*/mapping")
    # Chinese headers from a GB18030 file: matched, and the preview reads the names.
    assert page.locator("#field-0").input_value() == "__full_name"
    assert page.locator("#field-1").input_value() == "email"
    assert "客户1" in page.inner_text("#import-preview")
    shot("1-mapping")

    page.click("#import-start")
    page.wait_for_url("**/imports/*")
    page.wait_for_selector("#import-status[data-status='done']", timeout=60_000)
    assert page.locator("#count-created").inner_text() == "300"
    assert page.locator("#count-failed").inner_text() == "1"
    assert "not-an-address" not in page.inner_text("#import-problems")  # the reason is
    assert "Row 301" not in page.inner_text("#import-problems")  # shown, not the cells
    shot("2-finished")
    with page.expect_download() as download:
        page.click("#error-csv")
    report = download.value.path().read_bytes().decode("utf-8-sig")
    assert "坏行,not-an-address,杭州" in report
