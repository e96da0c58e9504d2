"""An opt-out holds however the address is spelled, on SQLite and PostgreSQL alike: the
one-click link, `supporters unsubscribe` and the webhook all meet the imported supporter."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from outreach.app import App
from outreach.campaign.model import Audience
from outreach.cli.main import cli
from outreach.store.audience import Selection, count_audience
from outreach.store.people import export_rows, find_supporter, import_supporters
from outreach.supporters.csvfile import parse_supporters
from outreach.web.app import create_app
from tests.integration.web_support import REPO, SECRET, demo_app, serving, supporter_id

NOW = datetime(2018, 3, 2, 12, 0, tzinfo=UTC)
EMILIE = "ÉMILIE@example.org"
CSV = f"email,first_name,language,consent,consent_date\n{EMILIE},Émilie,fr,express,2017-01-01\n"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> App:
    app = demo_app(database_url, tmp_path, OUTREACH_WEBHOOK_INSECURE="1")
    import_supporters(app.engine, parse_supporters(CSV.splitlines(True), "new.csv"), NOW)
    return app


def _reachable(app: App) -> int:
    selection = Selection(Audience(), ("en", "fr"), "America/Toronto")
    with app.engine.connect() as conn:
        return count_audience(conn, selection, date(2018, 3, 2)).reachable


def _status(app: App) -> str | None:
    row = next(r for r in export_rows(app.engine) if r["email"] == EMILIE)
    return row["suppression_reason"]


def test_the_one_click_link_holds(app: App) -> None:
    before = _reachable(app)
    path = f"/u/{app.signer.make(supporter_id(app, EMILIE), 'mexico-refugees')}"
    with serving(create_app(app, clock=lambda: NOW)) as base:
        answer = httpx.post(base + path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert _status(app) == "unsubscribe"
    assert _reachable(app) == before - 1


def test_the_webhook_holds_for_another_spelling(app: App) -> None:
    before = _reachable(app)
    event = {"event": "unsubscribe", "email": "émilie@EXAMPLE.ORG", "sg_event_id": "e1"}
    with serving(create_app(app, clock=lambda: NOW)) as base:
        answer = httpx.post(base + "/webhooks/sendgrid", content=json.dumps([event]))
    assert answer.status_code == 200, answer.text
    assert _status(app) == "unsubscribe"
    assert _reachable(app) == before - 1


def test_supporters_unsubscribe_finds_her(app: App, database_url: str, tmp_path: Path) -> None:
    env = {
        "OUTREACH_DATABASE_URL": database_url,
        "OUTREACH_SCHEDULES": str(REPO / "schedules.yaml"),
        "OUTREACH_TEMPLATES": str(REPO / "templates"),
        "OUTREACH_OUTBOX": str(tmp_path / "outbox"),
        "OUTREACH_SECRET_KEY": SECRET,
    }
    result = CliRunner().invoke(cli, ["supporters", "unsubscribe", "émilie@example.org"], env=env)
    assert result.exit_code == 0, result.output
    assert "not a known supporter" not in result.output
    assert f"{EMILIE} unsubscribed" in result.output
    assert _status(app) == "manual"


def test_two_spellings_of_one_mailbox_are_one_supporter(app: App) -> None:
    again = "email,city\nandré@example.org,Laval\nANDRÉ@example.org,Lévis\n"
    report = import_supporters(app.engine, parse_supporters(again.splitlines(True), "a.csv"), NOW)
    assert (report.imported, [r.reason for r in report.rejected]) == (1, ["duplicate of line 2"])
    later = "email,city\nANDRÉ@EXAMPLE.ORG,Lévis\n"
    report = import_supporters(app.engine, parse_supporters(later.splitlines(True), "b.csv"), NOW)
    assert (report.imported, report.updated) == (0, 1)
    with app.engine.connect() as conn:
        found = find_supporter(conn, "Andre\u0301@example.org")  # decomposed é
    assert found is not None and found.city == "Lévis"
