"""The README's main job, end to end, and what a supporter finds in their inbox."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import Outreach, sent_emails

ALL_ZONES_DUE = "2018-03-02T04:00:00Z"  # 09:00 has passed from St. John's to Vancouver


def test_main_job_sends_everyone_once_in_their_language(project: Path, outreach: Outreach) -> None:
    assert "ok" in outreach("check").stdout
    imported = outreach("supporters", "import", "examples/supporters.csv").stdout
    assert "imported 50, updated 0, rejected 0" in imported

    first = outreach("run", "--once", "--now", ALL_ZONES_DUE)
    emails = sent_emails(project)
    assert len(emails) == 49  # everyone but the supporter whose implied consent lapsed
    assert "claire.boudreau@example.org" not in emails
    assert "mexico-refugees / two-weeks-before: sent 49" in first.stdout

    french = emails["amelie.tremblay@example.org"]
    english = emails["fiona.macdonald@example.org"]
    spanish = emails["maria.santos@example.org"]  # no Spanish template: English, as a whole
    assert french["Content-Language"] == "fr"
    assert english["Content-Language"] == spanish["Content-Language"] == "en"
    assert english["Subject"].replace("Fiona", "María") == spanish["Subject"]
    assert "15 mars" in french["Subject"] and "March 15" in english["Subject"]
    assert "15 mars 2018" in french.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "March 15, 2018" in english.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    posts = list((project / "outbox" / "posts").glob("*.json"))
    assert [p.name for p in posts] == ["mexico-refugees--two-weeks-before.json"]
    assert "@cafreeland" in json.loads(posts[0].read_text())["text"]

    second = outreach("run", "--once", "--now", ALL_ZONES_DUE)
    assert "Nothing due" in second.stdout
    assert len(list((project / "outbox").rglob("*.eml"))) == 49


def test_each_email_is_multipart_utf8_with_one_click_unsubscribe(
    project: Path, outreach: Outreach
) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    outreach("run", "--once", "--now", ALL_ZONES_DUE)
    message = sent_emails(project)["amelie.tremblay@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://localhost:8000/u/") and unsubscribe.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    url = unsubscribe[1:-1]
    for part in (html, text):
        assert url in part
        assert "Amnesty International Canada" in part
        assert "312 Laurier Avenue East" in part
    assert "Montréal" in text and "Montréal" in html


def test_dry_run_renders_and_counts_but_sends_and_records_nothing(
    project: Path, outreach: Outreach
) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    dry = outreach("run", "--once", "--dry-run", "--now", ALL_ZONES_DUE)
    assert "would send 49" in dry.stdout
    assert "nothing was sent or recorded" in dry.stdout
    assert not (project / "outbox").exists()
    assert "announcement would be drafted" in dry.stdout
    real = outreach("run", "--once", "--now", ALL_ZONES_DUE)
    assert "sent 49" in real.stdout
    after = outreach("run", "--once", "--dry-run", "--now", ALL_ZONES_DUE)
    assert "announcement" not in after.stdout and "would send 49" not in after.stdout


def test_status_json_counts_per_reminder(project: Path, outreach: Outreach) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    outreach("supporters", "unsubscribe", "fiona.macdonald@example.org")
    outreach("run", "--once", "--now", ALL_ZONES_DUE)
    rows = json.loads(outreach("status", "--json", "--now", ALL_ZONES_DUE).stdout)
    by_key = {(r["campaign"], r["reminder"]): r for r in rows}
    two_weeks = by_key[("mexico-refugees", "two-weeks-before")]
    counts = {
        "sent": 48,
        "failed": 0,
        "suppressed": 1,
        "lapsed": 1,
        "uncertain": 0,
        "pending": 0,
    }
    assert {key: two_weeks[key] for key in counts} == counts
    assert by_key[("mexico-refugees", "day-before")]["pending"] > 0
