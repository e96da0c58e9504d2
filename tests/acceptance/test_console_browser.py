"""The console in Debian's Chromium (Playwright): a campaigner's tour, axe-core on every page,
and the screenshots in docs/."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.integration.console_support import PASSWORD, Console, console

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parent / "axe" / "axe.min.js"
DOCS = Path(__file__).resolve().parents[2] / "docs"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PARIS_CSV = (
    "email,first_name,last_name,city,region,country,language,timezone,tags,consent,consent_date\n"
    "claire.martin@example.org,Claire,Martin,Paris,,FR,fr,Europe/Paris,refugees,express,2017-06-01\n"
    "broken-line,No,Address,,,,,,,,\n"
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is absent")


class Inbox:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def served(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[Console]:
    env = {
        "OUTREACH_EMAIL_TRANSPORT": "smtp",
        "OUTREACH_PUBLIC_URL": "https://act.example.org",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp[1]),
        "SMTP_SECURITY": "none",
    }
    with console(f"sqlite:///{tmp_path / 'outreach.db'}", tmp_path, **env) as found:
        yield found


def axe_check(page: Any) -> None:
    """No serious or critical axe-core violation on this page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    bad = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"


def no_overflow(page: Any) -> None:
    """Nothing is wider than the screen."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def test_a_campaigner_runs_a_campaign_from_the_browser(
    served: Console, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, _port = smtp
    csv_file = tmp_path / "paris.csv"
    csv_file.write_text(PARIS_CSV, encoding="utf-8")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.goto(served.base + "/queue")
        assert page.url.endswith("/login?next=/queue")
        axe_check(page)
        page.get_by_label("Email").fill("org@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/queue")

        page.goto(served.base + "/supporters")
        page.get_by_label("CSV file").set_input_files(str(csv_file))
        page.get_by_role("button", name="Import").click()
        assert "imported 1, updated 0, rejected 1" in page.content()
        assert "Line 3:" in page.content()
        axe_check(page)

        page.goto(served.base + "/queue")
        page.get_by_label("Campaign").select_option("mexico-refugees")
        page.get_by_label("Template").select_option("last-call")
        page.get_by_label("Local time (each supporter's)").fill("2018-03-01T09:00")
        page.get_by_label("Tags (comma-separated)").fill("refugees")
        page.get_by_role("button", name="See the forecast").click()
        forecast = page.get_by_role("region", name="Forecast by time zone")
        forecast.wait_for()
        text = forecast.inner_text()
        assert "America/St_Johns" in text and "NST (UTC-03:30)" in text
        assert "America/Regina" in text and "CST (UTC-06:00)" in text
        assert "Europe/Paris" in text and "CET (UTC+01:00)" in text
        axe_check(page)
        page.get_by_role("button", name="Confirm and queue").click()
        page.get_by_text("Queued reminder 1.").wait_for()
        page.get_by_role("button", name="Cancel 1").click()
        page.get_by_text("Queued reminder 1 cancelled.").wait_for()

        page.goto(served.base + "/campaigns/mexico-refugees/preview?reminder=day-before")
        page.get_by_label("Language").select_option("fr")
        page.get_by_role("button", name="Show").click()
        subject = page.locator("#subject").inner_text()
        assert "Demain" in subject
        frame = page.locator("iframe[sandbox]")
        assert frame.get_attribute("sandbox") == ""
        assert "Weighted length:" in page.content()
        axe_check(page)
        page.get_by_role("button", name="Send a test to me").click()
        page.get_by_text("A test was sent to org@example.org.").wait_for()
        assert len(inbox.messages) == 1
        assert inbox.messages[0]["Subject"] == f"[TEST] {subject}"
        assert inbox.messages[0]["To"].addresses[0].addr_spec == "org@example.org"

        page.goto(served.base + "/supporters")
        page.get_by_label("Email").fill("claire.martin@example.org")
        page.get_by_role("button", name="Find").click()
        assert "Europe/Paris" in page.content()
        assert "Gets it on 2018-03-14 18:00 CET (UTC+01:00)" in page.content()
        axe_check(page)

        for path in ("/", "/campaigns/mexico-refugees"):
            page.goto(served.base + path)
            axe_check(page)
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/login")
        page.goto(served.base + "/")
        assert page.url.endswith("/login?next=/")
        browser.close()
    assert served.app.engine is not None


SHOTS = {
    "campaigns": "/",
    "campaign": "/campaigns/mexico-refugees",
    "queue": "/queue",
    "preview": "/campaigns/mexico-refugees/preview?reminder=day-before&language=fr",
    "supporter": "/supporters?email=amelie.tremblay@example.org",
}


def test_pages_fit_a_phone_and_the_screenshots_are_made(served: Console) -> None:
    DOCS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for width in (1200, 375):
            context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
            page = context.new_page()
            page.goto(served.base + "/login")
            page.get_by_label("Email").fill("admin@example.org")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(served.base + "/")
            for name, path in SHOTS.items():
                page.goto(served.base + path)
                no_overflow(page)
                axe_check(page)
                page.screenshot(path=str(DOCS / f"console-{name}-{width}.png"), full_page=True)
            page.goto(served.base + "/audit")
            axe_check(page)
            no_overflow(page)
            context.close()
        browser.close()
