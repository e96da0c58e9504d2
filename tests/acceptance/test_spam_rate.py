"""`status` shows each campaign's spam rate and the rate at which it pauses."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.conftest import Outreach


def test_status_shows_the_spam_rate_per_campaign_and_the_pause_line(
    project: Path, outreach: Outreach
) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    outreach("run", "--once", "--now", "2018-03-02T04:00:00Z")
    shown = outreach("status", "mexico-refugees").stdout
    assert "Provider feedback" in shown and "spam rate" in shown
    assert "0.00%" in shown
    assert "passes 0.10% (OUTREACH_SPAM_PAUSE_RATE)" in " ".join(shown.split())
    (project / ".env").write_text("OUTREACH_SPAM_PAUSE_RATE=0.0005\n", encoding="utf-8")
    assert "passes 0.05%" in " ".join(outreach("status").stdout.split())
    (project / ".env").write_text("OUTREACH_SPAM_PAUSE_RATE=0.003\n", encoding="utf-8")
    refused = outreach("status", check=False)
    assert refused.returncode == 1
    assert "OUTREACH_SPAM_PAUSE_RATE must be a fraction above 0 and below 0.003" in refused.stderr


def test_check_says_which_networks_get_no_share_link(project: Path, outreach: Outreach) -> None:
    shown = outreach("check").stdout
    assert (
        "mexico-refugees/two-weeks-before: no Mastodon share link: "
        "no mastodon handle for target 'freeland'"
    ) in shown
