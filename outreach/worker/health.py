"""Is outreach healthy? The database opens, the campaign loads, the worker's heartbeat is fresh.

The worker writes its heartbeat (a small JSON file: `pid`, `at`, and `campaign_differs`, the
warning of a worker whose campaign files differ from the leading worker's, else null) every
few seconds when `OUTREACH_HEARTBEAT` names a path; `outreach health` reads it back.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from outreach.campaign.loader import load_schedule
from outreach.config import Settings
from outreach.errors import OutreachError, ProblemsError
from outreach.rendering.renderer import Renderer
from outreach.rendering.templates import template_names_in
from outreach.store.db import open_database


def write_heartbeat(path: Path, now: datetime, *, campaign_differs: str | None = None) -> None:
    """Say the worker is alive at `now` (real time), atomically, and whether it holds its
    sends because its campaign differs from the leader's (`campaign_differs`: why)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = {
        "pid": os.getpid(),
        "at": now.astimezone(UTC).isoformat(),
        "campaign_differs": campaign_differs,
    }
    temporary.write_text(json.dumps(data) + "\n", encoding="utf-8")
    temporary.replace(path)


def heartbeat_age(path: Path, now: datetime) -> timedelta:
    """How long ago the worker last wrote its heartbeat; OutreachError if it cannot be read."""
    return now - _read_heartbeat(path)[0]


def _read_heartbeat(path: Path) -> tuple[datetime, str | None]:
    """When the worker last wrote its heartbeat, and its `campaign_differs`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        at = datetime.fromisoformat(data["at"])
        differs = data.get("campaign_differs")
    except FileNotFoundError:
        raise OutreachError(f"no worker heartbeat at {path}: is the worker running?") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise OutreachError(f"{path}: not a worker heartbeat") from None
    return at, differs if isinstance(differs, str) else None


def check_health(settings: Settings, max_age: timedelta) -> tuple[list[str], list[str]]:
    """(what is fine, what is wrong), one line each."""
    fine: list[str] = []
    wrong: list[str] = []
    try:
        engine = open_database(settings.database_url)
        with engine.connect() as conn:
            conn.execute(select(1))
        engine.dispose()
        fine.append(f"database: ok ({engine.dialect.name})")
    except (OutreachError, SQLAlchemyError) as exc:
        wrong.append(f"database: {exc}")
    try:  # compiles the templates, never renders them (`check` does)
        schedule = load_schedule(settings.schedules, template_names_in(settings.templates))
        Renderer(schedule, settings.templates)
        fine.append(f"{settings.schedules}: ok ({len(schedule.campaigns)} campaigns)")
    except ProblemsError as exc:
        count = len(exc.problems)
        problems = f"{count} problem{'s' if count > 1 else ''}"
        wrong.append(f"{settings.schedules}: {problems} (see `outreach check`)")
    except OutreachError as exc:
        wrong.append(str(exc))
    path = settings.heartbeat
    if path is None:
        fine.append("worker heartbeat: not checked (OUTREACH_HEARTBEAT is not set)")
        return fine, wrong
    now = datetime.now(UTC)
    try:
        at, differs = _read_heartbeat(path)
    except OutreachError as exc:
        wrong.append(str(exc))
        return fine, wrong
    age = now - at
    seconds = int(age.total_seconds())
    if age > max_age:
        wrong.append(
            f"worker heartbeat is {seconds} s old (more than {int(max_age.total_seconds())} s): "
            "is the worker running?"
        )
    else:
        fine.append(f"worker heartbeat: {seconds} s ago")
    if differs is not None:
        wrong.append(f"worker: {differs}")
    return fine, wrong
