"""Reloading the campaign while the worker runs: schedules.yaml and templates, when they change.

A change is noticed by polling the files' modification times and sizes. A new version is
loaded and checked exactly as `outreach check` does; an invalid one is refused with the same
messages, and the last valid campaign keeps running. The digest of the files loaded is what
the workers of one database compare (`worker/agreement.py`).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from outreach.campaign.loader import load_schedule
from outreach.campaign.model import Schedule
from outreach.config import Settings
from outreach.errors import OutreachError, ProblemsError
from outreach.rendering.checks import check_templates
from outreach.rendering.renderer import Renderer
from outreach.rendering.templates import template_names_in
from outreach.template_cache import bytecode_caches

log = logging.getLogger("outreach.worker.reload")

Fingerprint = tuple[tuple[str, int, int], ...]


def load_checked(settings: Settings) -> tuple[Schedule, Renderer]:
    """The schedule and its renderer, validated as `outreach check` does.

    Raises `ProblemsError` (every problem, as `path:line: message`) or `OutreachError`.
    """
    schedule = load_schedule(settings.schedules, template_names_in(settings.templates))
    renderer = Renderer(schedule, settings.templates, cache_for=bytecode_caches(settings.cache))
    problems = check_templates(schedule, renderer, str(settings.templates))
    if problems:
        raise ProblemsError(problems)
    return schedule, renderer


def fingerprint(settings: Settings) -> Fingerprint:
    """Modification time and size of schedules.yaml and of every file in the templates folder."""
    paths = [settings.schedules]
    if settings.templates.is_dir():
        paths += sorted(p for p in settings.templates.rglob("*") if p.is_file())
    found = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            found.append((str(path), -1, -1))
        else:
            found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def campaign_digest(settings: Settings) -> str:
    """SHA-256 (hex) over schedules.yaml and every file under the templates folder: each
    file's path relative to its root and its bytes, in sorted order."""
    files = [("schedules.yaml", settings.schedules)]
    if settings.templates.is_dir():
        root = settings.templates
        found = (p for p in root.rglob("*") if p.is_file())
        files += sorted((f"templates/{p.relative_to(root).as_posix()}", p) for p in found)
    digest = hashlib.sha256()
    for name, path in files:
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise OutreachError(f"{path}: cannot be read ({exc.strerror})") from None
        label = name.encode()
        digest.update(b"%d:%s%d:" % (len(label), label, len(content)))
        digest.update(content)
    return digest.hexdigest()


class CampaignWatcher:
    """Notices edits to the campaign files and loads them when they are valid."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.digest = ""
        """The `campaign_digest` of the campaign last loaded."""
        self._seen: Fingerprint | None = None

    def load(self) -> tuple[Schedule, Renderer]:
        """Load and check the campaign now; raises when it is invalid (used at start)."""
        self._seen = fingerprint(self.settings)
        digest = campaign_digest(self.settings)
        loaded = load_checked(self.settings)
        self.digest = digest
        return loaded

    def poll(self, *, force: bool = False) -> tuple[Schedule, Renderer] | None:
        """The new campaign when the files changed (or `force`) and are valid, else None.

        An invalid edit is logged once, with `check`'s messages, and refused; any other failure
        (whatever its type) is logged as one line and refused too.
        """
        current = fingerprint(self.settings)
        if current == self._seen and not force:
            return None
        try:
            return self.load()
        except ProblemsError as exc:
            for problem in exc.problems:
                log.error("%s", problem)
            log.error("reload refused (see above); the last valid campaign keeps running")
        except OutreachError as exc:
            log.error("reload refused: %s; the last valid campaign keeps running", exc)
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.error(
                "reload refused: %s (%s); the last valid campaign keeps running",
                reason,
                type(exc).__name__,
            )
        return None


def describe(schedule: Schedule, path: Path) -> str:
    """`schedules.yaml: 2 campaigns, 3 reminders`, for the log."""
    reminders = sum(len(c.reminders) for c in schedule.campaigns.values())
    return f"{path}: {len(schedule.campaigns)} campaigns, {reminders} reminders"
