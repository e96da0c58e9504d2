"""Two `outreach run` workers on one database whose campaign folders differ: the leading
worker's campaign is the database's. The follower sends nothing and says so once, sends
again once its files match, and leads (publishing its own campaign) when the leader stops.

Each worker's clock starts at its own `--now`: B's runs two hours ahead of A's, so a reminder
queued between the two is due for B alone, and one queued before both is due for both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from outreach.config import Settings
from outreach.store.campaign_version import CampaignVersion, published
from outreach.store.db import open_database
from outreach.worker.reload import campaign_digest
from tests.acceptance.conftest import read_eml
from tests.acceptance.test_worker_cli import Worker, wait_for
from tests.conftest import copy_demo

A_START, B_START = "2018-02-01T18:00:00Z", "2018-02-01T20:00:00Z"
DIFFERS = "this host's campaign files differ from the leading worker's"
MATCHES = "campaign files match the leading worker's: sending again"
TEMPLATE = Path("templates") / "last-call.en.j2"


def _folder(path: Path, database_url: str) -> Path:
    path.mkdir()
    copy_demo(path)
    env = f"OUTREACH_DATABASE_URL={database_url}\nOUTREACH_HEARTBEAT=heartbeat.json\n"
    (path / ".env").write_text(env, encoding="utf-8")
    return path


def _outreach(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    return subprocess.run(
        [sys.executable, "-m", "outreach.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _queue(folder: Path, at: str) -> str:
    """An ad-hoc last call at `at`, to the supporters tagged `mexico`; its reminder name."""
    added = _outreach(
        folder, "queue", "add", "mexico-refugees", "--template", "last-call", "--at", at,
        "--tag", "mexico", "--now", "2018-02-01T17:00:00Z",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return f"queued-{added.stdout.split()[-1]}"


def _sent(folder: Path, reminder: str) -> list[Path]:
    return sorted((folder / "outbox" / "mexico-refugees" / reminder).glob("*.eml"))


def _all_sent(folder: Path, reminder: str) -> bool:
    """Whether every supporter the queued reminder is for has it (`outreach status`)."""
    status = _outreach(folder, "status", "--json", "--now", B_START)
    assert status.returncode == 0, status.stderr
    [row] = [row for row in json.loads(status.stdout) if row["reminder"] == reminder]
    return bool(row["sent"] == row["audience"] > 0)


def _digest(folder: Path) -> str:
    return campaign_digest(
        Settings(schedules=folder / "schedules.yaml", templates=folder / "templates")
    )


def _version(database_url: str) -> CampaignVersion | None:
    engine = open_database(database_url)
    try:
        return published(engine)
    finally:
        engine.dispose()


def _two_folders(tmp_path: Path, database_url: str) -> tuple[Path, Path, str]:
    """Folders a and b on one database with its supporters; b's English last call edited
    (returned)."""
    a, b = _folder(tmp_path / "a", database_url), _folder(tmp_path / "b", database_url)
    edited = (
        (b / TEMPLATE)
        .read_text(encoding="utf-8")
        .replace("Will the Minister hear from you?", "Will the Minister hear from host B?")
    )
    (b / TEMPLATE).write_text(edited, encoding="utf-8")
    assert _digest(a) != _digest(b)
    imported = _outreach(a, "supporters", "import", "examples/supporters.csv")
    assert imported.returncode == 0, imported.stderr
    return a, b, edited


def test_the_leaders_campaign_is_the_databases(tmp_path: Path, database_url: str) -> None:
    a, b, edited = _two_folders(tmp_path, database_url)
    leader = Worker(a, "--sweep", "1", "--now", A_START, name="worker")
    follower = None
    try:
        wait_for(lambda: _version(database_url) is not None)
        first = _version(database_url)
        assert first is not None and first.digest == _digest(a)
        follower = Worker(b, "--sweep", "1", "--now", B_START, name="worker")
        follower.wait_for_log(DIFFERS)
        assert f"(host {first.host}, published at " in follower.log()
        # The heartbeat carrying it is written by the follower's next watch.
        wait_for(lambda: _outreach(b, "health").returncode == 1)
        assert DIFFERS in _outreach(b, "health").stderr

        # Due for both: the leader sends it all, the follower nothing (and says so once).
        both = _queue(a, A_START)
        wait_for(lambda: _all_sent(a, both))
        time.sleep(3)  # three of the follower's sweeps
        assert _sent(a, both) and not _sent(b, both)
        assert follower.log().count(DIFFERS) == 1

        # The same files: the follower sends again.
        shutil.copy(a / TEMPLATE, b / TEMPLATE)
        follower.wait_for_log(MATCHES)
        ahead = _queue(a, "2018-02-01T19:00:00Z")  # due for the follower only
        wait_for(lambda: _all_sent(a, ahead))
        assert _sent(b, ahead) and not _sent(a, ahead)
        assert _outreach(b, "health").returncode == 0

        # Different again; then the leader stops, and the follower leads with its own.
        (b / TEMPLATE).write_text(edited, encoding="utf-8")
        follower.wait_for_log(DIFFERS, count=2)
        assert leader.terminate() == 0
        wait_for(lambda: getattr(_version(database_url), "worker", None) != first.worker)
        now = _version(database_url)
        assert now is not None and now.digest == _digest(b)
        follower.wait_for_log(MATCHES, count=2)
        own = _queue(a, "2018-02-01T19:00:00Z")
        wait_for(lambda: _all_sent(a, own))
        subjects = [" ".join(str(read_eml(path)["Subject"]).split()) for path in _sent(b, own)]
        assert any("hear from host B?" in subject for subject in subjects)  # its own English
        assert not any("hear from you?" in subject for subject in subjects)
        assert follower.log().count(DIFFERS) == 2
        assert follower.terminate() == 0
    finally:
        leader.kill()
        if follower is not None:
            follower.kill()


def test_run_once_where_the_files_differ_exits_2_and_sends_nothing(
    tmp_path: Path, database_url: str
) -> None:
    a, b, _ = _two_folders(tmp_path, database_url)
    due = "2018-03-02T04:00:00Z"  # the demo's first reminder, due everywhere (not for A yet)
    leader = Worker(a, "--sweep", "1", "--now", A_START, name="worker")
    try:
        wait_for(lambda: _version(database_url) is not None)
        refused = _outreach(b, "run", "--once", "--now", due)
        assert refused.returncode == 2, refused.stderr
        assert DIFFERS in refused.stderr and "deploy the same schedules.yaml" in refused.stderr
        assert not (b / "outbox").exists()
        assert _outreach(b, "run", "--once", "--dry-run", "--now", due).returncode == 0
        shutil.copy(a / TEMPLATE, b / TEMPLATE)
        sent = _outreach(b, "run", "--once", "--now", due)
        assert sent.returncode == 0, sent.stderr
        assert len(_sent(b, "two-weeks-before")) == 49  # all but one whose consent lapsed
    finally:
        leader.kill()
