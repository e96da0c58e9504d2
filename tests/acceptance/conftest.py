"""Run `outreach` as a user does: a subprocess in a folder holding a copy of the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

Outreach = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def outreach(project: Path) -> Outreach:
    """Runs `outreach ARGS…` in the project folder; returns the finished process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    env["COLUMNS"] = "200"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "outreach.cli", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"outreach {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    return run


def read_eml(path: Path) -> EmailMessage:
    """A written email, parsed as a mail client would."""
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def sent_emails(project: Path) -> dict[str, EmailMessage]:
    """Every email in the outbox, by recipient address (lower-cased)."""
    found = {}
    for path in sorted((project / "outbox").rglob("*.eml")):
        message = read_eml(path)
        address = message["To"].addresses[0].addr_spec.lower()
        assert address not in found, f"{address} got two emails"
        found[address] = message
    return found
