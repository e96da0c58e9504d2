"""Start in a blink: `outreach --help` and an idle `outreach run --once` import only what
they use (the worker's scheduler, rich, the transports, the web stack and PostgreSQL's
dialect wait until something needs them). Times are measured by `bench/startup.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import copy_demo

PROBE = """
import sys
from outreach.cli.main import main
sys.argv = ["outreach", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = ("apscheduler", "rich", "sendgrid", "tweepy", "starlette", "uvicorn", "psycopg",
         "regex", "twitter_text", "sqlalchemy.dialects.postgresql")
print(" ".join(sorted(m for m in sys.modules if m.startswith(heavy))) or "none")
"""


def _imported(folder: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def test_help_and_an_idle_run_import_only_what_they_use(tmp_path: Path) -> None:
    copy_demo(tmp_path)
    assert _imported(tmp_path, "--help") == "none"
    assert _imported(tmp_path, "run", "--once", "--now", "2017-01-01T00:00:00Z") == "none"
