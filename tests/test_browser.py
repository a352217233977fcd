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
