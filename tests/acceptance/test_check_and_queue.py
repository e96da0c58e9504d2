"""`check` on broken campaigns, and the organizer's queue through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

from tests.acceptance.conftest import Outreach, sent_emails


def _one_clear_error(result: object) -> str:
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 1, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    return stderr


def test_check_reports_every_problem_with_its_line(project: Path, outreach: Outreach) -> None:
    path = project / "schedules.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("offset: -14d", "offset: -14x", 1)
    text = text.replace("milestone: bilateral-dialogue", "milestone: no-such-milestone", 1)
    text = text.replace("timezone: America/Toronto", "timezone: America/Atlantis", 1)
    path.write_text(text, encoding="utf-8")
    result = outreach("check", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 3
    assert all(re.match(r"schedules\.yaml:\d+: ", line) for line in lines), lines
    joined = "\n".join(lines)
    assert "-14x" in joined and "no-such-milestone" in joined and "America/Atlantis" in joined
    numbered = text.splitlines()
    for line in lines:
        number = int(line.split(":")[1])
        assert any(word in numbered[number - 1] for word in ("-14x", "no-such", "Atlantis"))


def test_a_post_over_280_weighted_characters_fails_check(project: Path, outreach: Outreach) -> None:
    template = project / "templates" / "letter-reminder.fr.j2"
    source = template.read_text(encoding="utf-8")
    padding = " ".join(["droits"] * 60)
    source = source.replace("{% block post %}", "{% block post %}" + padding + " ", 1)
    template.write_text(source, encoding="utf-8")
    result = outreach("check", check=False)
    assert result.returncode == 1
    assert re.search(r"templates/letter-reminder\.fr\.j2:\d+: .*280", result.stderr)


def test_queue_add_list_cancel_and_the_run_sends_it(project: Path, outreach: Outreach) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    now = "2018-02-01T12:00:00Z"
    added = outreach(
        "queue",
        "add",
        "mexico-refugees",
        "--template",
        "last-call",
        "--at",
        "2018-02-02T09:00",
        "--tag",
        "mexico",
        "--now",
        now,
    )
    queued_id = added.stdout.split()[-1]
    assert queued_id.isdigit()
    listing = outreach("queue", "list").stdout
    assert queued_id in listing and "pending" in listing and "tags=mexico" in listing
    outreach("run", "--once", "--now", "2018-02-03T04:00:00Z")
    emails = sent_emails(project)
    assert emails and all(
        path.parent.name == f"queued-{queued_id}" for path in (project / "outbox").rglob("*.eml")
    )
    second = outreach(
        "queue",
        "add",
        "mexico-refugees",
        "--template",
        "last-call",
        "--at",
        "2018-02-10T09:00",
        "--now",
        now,
    )
    second_id = second.stdout.split()[-1]
    assert "Cancelled" in outreach("queue", "cancel", second_id).stdout
    assert "cancelled" in outreach("queue", "list").stdout
    _one_clear_error(outreach("queue", "cancel", second_id, check=False))


def test_queue_add_refuses_bad_input_in_one_line(project: Path, outreach: Outreach) -> None:
    now = ("--now", "2018-02-01T12:00:00Z")
    base = ("queue", "add", "mexico-refugees", "--template", "last-call")
    assert "no campaign 'nope'" in _one_clear_error(
        outreach(
            "queue",
            "add",
            "nope",
            "--template",
            "last-call",
            "--at",
            "2018-03-01T09:00",
            *now,
            check=False,
        )
    )
    assert "no template 'nope'" in _one_clear_error(
        outreach(
            "queue",
            "add",
            "mexico-refugees",
            "--template",
            "nope",
            "--at",
            "2018-03-01T09:00",
            *now,
            check=False,
        )
    )
    assert "in the past" in _one_clear_error(
        outreach(*base, "--at", "2018-01-01T09:00", *now, check=False)
    )
    assert "ISO 8601" in _one_clear_error(outreach(*base, "--at", "tomorrow", *now, check=False))


def test_preview_shows_a_supporters_email_post_and_share_links(
    project: Path, outreach: Outreach
) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    shown = outreach(
        "preview", "mexico-refugees", "two-weeks-before", "--email", "amelie.tremblay@example.org"
    ).stdout
    assert "amelie.tremblay@example.org" in shown and "(fr)" in shown
    assert "Subject: " in shown and "15 mars 2018" in shown
    assert "@cafreeland" in shown
    assert "https://x.com/intent/tweet?text=" in shown
    assert "bluesky: no link (a target has no handle there)" in shown  # only an X handle
    english = outreach("preview", "mexico-refugees", "two-weeks-before", "--language", "en")
    assert "(en)" in english.stdout and "March 15, 2018" in english.stdout
    assert "no reminder 'nope'" in _one_clear_error(
        outreach("preview", "mexico-refugees", "nope", check=False)
    )
    assert "no supporter" in _one_clear_error(
        outreach(
            "preview",
            "mexico-refugees",
            "two-weeks-before",
            "--email",
            "x@example.org",
            check=False,
        )
    )
