"""A database from release 0.1.0, as a user meets it: the commands ask for `outreach db
upgrade` in one line; after it, `run --once` sends nothing twice."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from alembic import command
from sqlalchemy import text

from outreach.store import versions
from outreach.store.db import connect
from tests.conftest import copy_demo

NOW = "2018-03-02T04:00:00Z"


def _runner(project: Path, url: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    env["OUTREACH_DATABASE_URL"] = url

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "outreach.cli", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def _make_release_0_1_0(url: str) -> None:
    """Back to the schema release 0.1.0 made, data kept, and no `alembic_version`."""
    engine = connect(url)
    with engine.begin() as conn:
        command.downgrade(versions.alembic_config(conn), versions.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()


def test_a_release_database_upgrades_and_sends_nothing_twice(
    tmp_path: Path, database_url: str
) -> None:
    project = copy_demo(tmp_path)
    outreach = _runner(project, database_url)
    assert outreach("supporters", "import", "examples/supporters.csv").returncode == 0
    first = outreach("run", "--once", "--now", NOW)
    assert first.returncode == 0, first.stderr
    emails = sorted(p.name for p in (project / "outbox").rglob("*.eml"))
    assert emails
    _make_release_0_1_0(database_url)
    assert outreach("db", "current").stdout.startswith("release 0.1.0 (before migrations)")

    for args in (("status",), ("run", "--once", "--now", NOW)):
        refused = outreach(*args)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert "run `outreach db upgrade`" in refused.stderr

    upgraded = outreach("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"to revision {versions.HEAD} (head)" in upgraded.stdout
    assert outreach("db", "current").stdout.strip() == f"{versions.HEAD} (head)"
    again = outreach("run", "--once", "--now", NOW)
    assert again.returncode == 0, again.stderr
    assert "Nothing due" in again.stdout
    assert sorted(p.name for p in (project / "outbox").rglob("*.eml")) == emails


def test_the_readme_first_command_makes_the_database_at_the_head(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    outreach = _runner(project, f"sqlite:///{project / 'outreach.db'}")
    for args in (("check",), ("supporters", "import", "examples/supporters.csv")):
        assert outreach(*args).returncode == 0
    assert outreach("run", "--once", "--now", NOW).returncode == 0
    assert outreach("db", "current").stdout.strip() == f"{versions.HEAD} (head)"
