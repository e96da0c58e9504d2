"""Where and how the SMTP transport connects, read from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from outreach.config import Settings
from outreach.errors import OutreachError


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to connect (SMTP_* and OUTREACH_SMTP_* variables)."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "starttls"
    connections: int = 4
    rate_per_minute: float | None = None
    ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        """The SMTP_* and OUTREACH_SMTP_* settings; a missing one is an `OutreachError`."""
        if not settings.smtp_host:
            raise OutreachError("SMTP_HOST is required with OUTREACH_EMAIL_TRANSPORT=smtp")
        password = settings.smtp_password
        if settings.smtp_username and password is None:
            raise OutreachError("SMTP_PASSWORD is required with SMTP_USERNAME")
        ca_file = settings.smtp_ca_file
        if ca_file is not None and not ca_file.is_file():
            raise OutreachError(f"OUTREACH_SMTP_CA_FILE: {ca_file} not found")
        default_port = 465 if settings.smtp_security == "ssl" else 587
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port or default_port,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            security=settings.smtp_security,
            connections=settings.smtp_connections,
            rate_per_minute=settings.smtp_rate,
            ca_file=ca_file,
        )

    @property
    def server(self) -> str:
        """`host:port`, for messages."""
        return f"{self.host}:{self.port}"
