"""Settings from the environment, with `.env` in the working directory loaded first.

The real environment wins over `.env`. Secrets are kept out of `repr` so they never
reach a log line or an error message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

from outreach.errors import OutreachError

EMAIL_TRANSPORTS = ("outbox", "smtp", "sendgrid")
SOCIAL_TRANSPORTS = ("outbox", "x")


@dataclass(frozen=True)
class Settings:
    """Everything outreach reads from its environment."""

    database_url: str = "sqlite:///outreach.db"
    schedules: Path = Path("schedules.yaml")
    templates: Path = Path("templates")
    email_transport: str = "outbox"
    social_transport: str = "outbox"
    outbox: Path = Path("outbox")
    public_url: str = "http://localhost:8000"
    secret_key: str | None = field(default=None, repr=False)
    sendgrid_webhook_public_key: str | None = field(default=None, repr=False)
    processes: int = 1
    """Processes a large send is shared out across (OUTREACH_PROCESSES; default: one per
    core, up to 4)."""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `environ` (default: `.env` merged under `os.environ`)."""
        if environ is None:
            load_dotenv(Path.cwd() / ".env", override=False)
            environ = dict(os.environ)
        settings = cls(
            database_url=environ.get("OUTREACH_DATABASE_URL", cls.database_url),
            schedules=Path(environ.get("OUTREACH_SCHEDULES", str(cls.schedules))),
            templates=Path(environ.get("OUTREACH_TEMPLATES", str(cls.templates))),
            email_transport=environ.get("OUTREACH_EMAIL_TRANSPORT", cls.email_transport),
            social_transport=environ.get("OUTREACH_SOCIAL_TRANSPORT", cls.social_transport),
            outbox=Path(environ.get("OUTREACH_OUTBOX", str(cls.outbox))),
            public_url=environ.get("OUTREACH_PUBLIC_URL", cls.public_url).rstrip("/"),
            secret_key=environ.get("OUTREACH_SECRET_KEY") or None,
            sendgrid_webhook_public_key=environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
            processes=_processes(environ.get("OUTREACH_PROCESSES", "")),
            env=environ,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that cannot work, naming the variable."""
        if self.email_transport not in EMAIL_TRANSPORTS:
            raise OutreachError(
                f"OUTREACH_EMAIL_TRANSPORT must be one of {', '.join(EMAIL_TRANSPORTS)}, "
                f"not '{self.email_transport}'"
            )
        if self.social_transport not in SOCIAL_TRANSPORTS:
            raise OutreachError(
                f"OUTREACH_SOCIAL_TRANSPORT must be one of {', '.join(SOCIAL_TRANSPORTS)}, "
                f"not '{self.social_transport}'"
            )
        if self.email_transport != "outbox" and not self.secret_key:
            raise OutreachError(
                f"OUTREACH_SECRET_KEY is required with the {self.email_transport} transport "
                "(it signs the unsubscribe links)"
            )


DEFAULT_PROCESSES_LIMIT = 4
"""Unless told otherwise, a send uses one process per core up to this many (each opens its
own SMTP connections and database connections: a big server should not open hundreds)."""


def _processes(raw: str) -> int:
    """OUTREACH_PROCESSES as a number of processes (empty: one per core, up to 4)."""
    if not raw.strip():
        return min(os.cpu_count() or 1, DEFAULT_PROCESSES_LIMIT)
    if not raw.strip().isdigit() or int(raw) < 1:
        raise OutreachError(f"OUTREACH_PROCESSES must be a whole number of 1 or more, not '{raw}'")
    return int(raw)
