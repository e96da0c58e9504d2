"""Who gets what, when: local times, late joiners, opt-outs and hostile input."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.acceptance.conftest import Outreach, sent_emails

HEADER = "email,first_name,last_name,city,region,language,consent,consent_date\n"


def _import(project: Path, outreach: Outreach, rows: str, name: str = "people.csv") -> str:
    (project / name).write_text(HEADER + rows, encoding="utf-8")
    return outreach("supporters", "import", name).stdout


def test_halifax_and_vancouver_are_each_sent_at_their_own_nine(
    project: Path, outreach: Outreach
) -> None:
    _import(
        project,
        outreach,
        "hal@example.org,Hal,Fax,Halifax,NS,en,express,2017-01-01\n"
        "van@example.org,Van,Couver,Vancouver,BC,en,express,2017-01-01\n",
    )
    # 09:00 in Halifax is 13:00 UTC; in Vancouver, 17:00 UTC.
    outreach("run", "--once", "--now", "2018-03-01T12:59:00Z")
    assert sent_emails(project) == {}
    outreach("run", "--once", "--now", "2018-03-01T13:00:00Z")
    assert set(sent_emails(project)) == {"hal@example.org"}
    outreach("run", "--once", "--now", "2018-03-01T16:59:00Z")
    assert set(sent_emails(project)) == {"hal@example.org"}
    outreach("run", "--once", "--now", "2018-03-01T17:00:00Z")
    assert set(sent_emails(project)) == {"hal@example.org", "van@example.org"}


def test_a_late_joiner_gets_the_reminder_only_while_it_has_not_expired(
    project: Path, outreach: Outreach
) -> None:
    _import(project, outreach, "first@example.org,First,One,Ottawa,ON,en,express,2017-01-01\n")
    outreach("run", "--once", "--now", "2018-03-01T14:00:00Z")
    _import(
        project, outreach, "late@example.org,Late,Two,Ottawa,ON,en,express,2017-01-01\n", "b.csv"
    )
    outreach("run", "--once", "--now", "2018-03-02T13:59:00Z")  # within the 1-day window
    assert set(sent_emails(project)) == {"first@example.org", "late@example.org"}
    _import(
        project,
        outreach,
        "later@example.org,Later,Three,Ottawa,ON,en,express,2017-01-01\n",
        "c.csv",
    )
    outreach("run", "--once", "--now", "2018-03-02T14:00:00Z")  # expired: never later
    assert set(sent_emails(project)) == {"first@example.org", "late@example.org"}


def test_unsubscribed_and_lapsed_supporters_get_nothing(project: Path, outreach: Outreach) -> None:
    _import(
        project,
        outreach,
        "keep@example.org,Keep,Me,Ottawa,ON,en,express,2017-01-01\n"
        "gone@example.org,Gone,Away,Ottawa,ON,en,express,2017-01-01\n"
        "old@example.org,Old,Consent,Ottawa,ON,en,implied,2016-02-28\n"
        "recent@example.org,Recent,Consent,Ottawa,ON,en,implied,2016-03-02\n",
    )
    assert (
        "gone@example.org unsubscribed"
        in outreach("supporters", "unsubscribe", "GONE@example.org").stdout
    )
    outreach("run", "--once", "--now", "2018-03-01T14:00:00Z")
    assert set(sent_emails(project)) == {"keep@example.org", "recent@example.org"}


def test_a_line_break_in_a_name_cannot_add_a_header(project: Path, outreach: Outreach) -> None:
    (project / "evil.csv").write_bytes(
        b"email,first_name,last_name,city,region\r\n"
        b'"eve@example.org","Eve\r\nBcc: victim@example.net","X\nSubject: spam",Ottawa,ON\r\n'
    )
    outreach("supporters", "import", "evil.csv")
    outreach("run", "--once", "--now", "2018-03-01T14:00:00Z")
    [path] = list((project / "outbox").rglob("*.eml"))
    raw = path.read_bytes()
    assert b"\nBcc:" not in raw and b"\nbcc:" not in raw.lower()
    message = sent_emails(project)["eve@example.org"]
    assert message["Bcc"] is None
    assert len(message.get_all("Subject") or []) == 1


def test_html_in_a_city_is_escaped_in_the_html_part(project: Path, outreach: Outreach) -> None:
    _import(
        project,
        outreach,
        'city@example.org,Cy,Ty,"<script>alert(1)</script><b>Halifax</b>",NS,en,express,2017-01-01\n',
    )
    outreach("run", "--once", "--now", "2018-03-02T04:00:00Z")
    message = sent_emails(project)["city@example.org"]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "<b>Halifax</b>" not in html
    assert "&lt;b&gt;Halifax&lt;/b&gt;" in html
    assert "<b>Halifax</b>" in text


def test_bad_rows_are_reported_by_line_and_skipped(project: Path, outreach: Outreach) -> None:
    output = outreach(
        "supporters",
        "import",
        "people.csv",
        check=False,
    )
    assert output.returncode == 1
    assert output.stderr.strip().count("\n") == 0 and "Traceback" not in output.stderr
    assert "people.csv" in output.stderr
    (project / "people.csv").write_text(
        HEADER + "ok@example.org,Ok,,Ottawa,ON,en,express,2017-01-01\nnot-an-email,No,,,,,,\n",
        encoding="utf-8",
    )
    result = outreach("supporters", "import", "people.csv")
    assert "imported 1, updated 0, rejected 1" in result.stdout
    assert "people.csv:3:" in result.stderr


def test_a_large_send_shares_out_across_processes_and_each_supporter_gets_one_email(
    project: Path, outreach: Outreach
) -> None:
    rows = ["email,first_name,region,language,consent,consent_date"]
    rows += [f"s{i}@example.net,Zoé,QC,fr,express,2017-06-01" for i in range(2400)]
    (project / "many.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (project / ".env").write_text("OUTREACH_PROCESSES=2\n", encoding="utf-8")
    outreach("supporters", "import", "many.csv")

    result = outreach("run", "--once", "--now", "2018-03-02T04:00:00Z")

    assert "sent 2400" in result.stdout
    assert len(sent_emails(project)) == 2400
    with sqlite3.connect(project / "outreach.db") as db:
        query = "SELECT COUNT(DISTINCT owner) FROM ledger WHERE channel = 'email'"
        assert db.execute(query).fetchone() == (2,)  # the run and its helper both sent


def test_a_bad_number_of_processes_is_a_one_line_error(project: Path, outreach: Outreach) -> None:
    (project / ".env").write_text("OUTREACH_PROCESSES=two\n", encoding="utf-8")
    result = outreach("run", "--once", check=False)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: OUTREACH_PROCESSES must be a whole number of 1 or more, not 'two'"
    ]
