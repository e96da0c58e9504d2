"""`outreach users`, as an admin runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from outreach.app import App
from outreach.config import Settings
from outreach.store import accounts


def run(project: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    return subprocess.run(
        [sys.executable, "-m", "outreach.cli", "users", *args],
        cwd=project, env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_accounts_are_added_listed_changed_and_removed(project: Path) -> None:
    added = run(project, "add", "Ana@Example.org", "--role", "admin", "--password-stdin",
                stdin="a long enough password\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "Ana@Example.org: admin account added" in added.stdout
    again = run(project, "add", "ana@example.org", "--role", "viewer", "--password-stdin",
                stdin="another long password\n")  # fmt: skip
    assert again.returncode == 1 and "already an account" in again.stderr
    short = run(project, "add", "bo@example.org", "--role", "viewer", "--password-stdin",
                stdin="short\n")  # fmt: skip
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    assert "Ana@Example.org  admin" in run(project, "list").stdout
    assert run(project, "set-role", "ana@example.org", "viewer").returncode == 0
    assert "Ana@Example.org  viewer" in run(project, "list").stdout
    assert run(project, "set-role", "nobody@example.org", "viewer").returncode == 1
    assert run(project, "remove", "ANA@example.org").returncode == 0
    assert "No accounts yet" in run(project, "list").stdout

    app = App(Settings.from_env({"OUTREACH_DATABASE_URL": f"sqlite:///{project / 'outreach.db'}"}))
    actions = [e.action for e in accounts.audit_log(app.engine)]
    assert actions == ["account-remove", "account-role", "account-add"]
    assert accounts.authenticate(app.engine, "ana@example.org", "a long enough password") is None
