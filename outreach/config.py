"""Settings: every environment variable outreach reads, named, typed and checked here only.

A real transport (smtp, sendgrid) refuses settings that would embarrass: unsubscribe links
nobody can reach, a guessable signing key, credentials in clear. The outbox accepts anything:
it is for local trials.

`.env` in the working directory is loaded first (python-dotenv); the real environment wins
over it. An empty variable counts as unset. Secrets are `SecretStr`: they print as stars in
any log line, error or repr. A bad value stops the command with one line naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import load_dotenv
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from outreach.errors import OutreachError

DEBUG_VARIABLE = "OUTREACH_DEBUG"
"""Set to 1 to let an unexpected error show its traceback (read before settings load)."""

DEFAULT_PROCESSES_LIMIT = 4
"""Unless told otherwise, a send uses one process per core up to this many (each opens its
own SMTP connections and database connections: a big server should not open hundreds)."""

SPAM_PAUSE_RATE = 0.001
"""Google asks bulk senders to keep spam reports below 0.1% and never reach 0.3%."""

DEFAULT_LEASE_SECONDS = 30
"""A worker's claims are its own this long after its last renewal (OUTREACH_LEASE_SECONDS)."""
MIN_SECRET_BYTES = 32
"""A real transport's OUTREACH_SECRET_KEY is at least this long."""
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

EmailTransportName = Literal["outbox", "smtp", "sendgrid"]
SocialTransportName = Literal["outbox", "x"]
SmtpSecurity = Literal["starttls", "ssl", "none"]


def _default_processes() -> int:
    return min(os.cpu_count() or 1, DEFAULT_PROCESSES_LIMIT)


def _variable(name: str, default: Any, expected: str, **constraints: Any) -> Any:
    """A field read from the variable `name`; `expected` completes "NAME must be …"."""
    return Field(default, alias=name, description=expected, **constraints)


class Settings(BaseSettings):
    """Everything outreach reads from its environment."""

    model_config = SettingsConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )

    database_url: str = _variable(
        "OUTREACH_DATABASE_URL", "sqlite:///outreach.db", "a database URL"
    )
    schedules: Path = _variable("OUTREACH_SCHEDULES", Path("schedules.yaml"), "a file path")
    templates: Path = _variable("OUTREACH_TEMPLATES", Path("templates"), "a folder path")
    email_transport: EmailTransportName = _variable(
        "OUTREACH_EMAIL_TRANSPORT", "outbox", "one of outbox, smtp, sendgrid"
    )
    social_transport: SocialTransportName = _variable(
        "OUTREACH_SOCIAL_TRANSPORT", "outbox", "one of outbox, x"
    )
    outbox: Path = _variable("OUTREACH_OUTBOX", Path("outbox"), "a folder path")
    public_url: str = _variable("OUTREACH_PUBLIC_URL", "http://localhost:8000", "a URL")
    secret_key: SecretStr | None = _variable("OUTREACH_SECRET_KEY", None, "a secret")
    processes: int = Field(
        default_factory=_default_processes,
        alias="OUTREACH_PROCESSES",
        description="a whole number of 1 or more",
        ge=1,
        strict=False,
    )
    """Processes a large send is shared out across (default: one per core, up to 4)."""
    heartbeat: Path | None = _variable("OUTREACH_HEARTBEAT", None, "a file path")
    lease_seconds: int = _variable(
        "OUTREACH_LEASE_SECONDS",
        DEFAULT_LEASE_SECONDS,
        "a whole number of seconds from 1 to 3600",
        ge=1,
        le=3600,
    )
    """How long a worker's claims stay its own without a renewal (the store reads it)."""
    cache: Path = _variable("OUTREACH_CACHE", Path(".outreach-cache"), "a folder path")
    """Compiled templates, kept for the next process (created owner-only)."""
    webhook_public_key: SecretStr | None = _variable(
        "SENDGRID_WEBHOOK_PUBLIC_KEY", None, "SendGrid's verification key"
    )
    webhook_insecure: bool = _variable("OUTREACH_WEBHOOK_INSECURE", False, "0 or 1")
    spam_pause_rate: float = _variable(
        "OUTREACH_SPAM_PAUSE_RATE",
        SPAM_PAUSE_RATE,
        "a fraction above 0 and below 0.003 (0.001 is 0.1%)",
        gt=0,
        lt=0.003,
    )
    """Spam reports over delivered emails past which a campaign pauses (Google: below 0.1%)."""

    smtp_host: str | None = _variable("SMTP_HOST", None, "a host name")
    smtp_port: int | None = _variable("SMTP_PORT", None, "a positive number", gt=0, lt=65536)
    smtp_username: str | None = _variable("SMTP_USERNAME", None, "a user name")
    smtp_password: SecretStr | None = _variable("SMTP_PASSWORD", None, "a password")
    smtp_security: SmtpSecurity = _variable(
        "SMTP_SECURITY", "starttls", "one of starttls, ssl, none"
    )
    smtp_connections: int = _variable("OUTREACH_SMTP_CONNECTIONS", 4, "a positive number", gt=0)
    smtp_rate: float | None = _variable(
        "OUTREACH_SMTP_RATE", None, "a positive number (messages a minute)", gt=0
    )
    smtp_ca_file: Path | None = _variable("OUTREACH_SMTP_CA_FILE", None, "a file path")

    sendgrid_api_key: SecretStr | None = _variable("SENDGRID_API_KEY", None, "an API key")
    sendgrid_host: str = _variable("SENDGRID_HOST", "https://api.sendgrid.com", "a URL")
    sendgrid_asm_group: int | None = _variable(
        "OUTREACH_SENDGRID_ASM_GROUP", None, "an unsubscribe group id (a number)", ge=0
    )
    sendgrid_sandbox: bool = _variable("OUTREACH_SENDGRID_SANDBOX", False, "0 or 1")
    sendgrid_schedule_ahead: int = _variable(
        "OUTREACH_SENDGRID_SCHEDULE_AHEAD",
        0,
        "a whole number of hours from 0 to 72",
        ge=0,
        le=72,
    )

    x_consumer_key: SecretStr | None = _variable("X_CONSUMER_KEY", None, "a key")
    x_consumer_secret: SecretStr | None = _variable("X_CONSUMER_SECRET", None, "a secret")
    x_access_token: SecretStr | None = _variable("X_ACCESS_TOKEN", None, "a token")
    x_access_token_secret: SecretStr | None = _variable("X_ACCESS_TOKEN_SECRET", None, "a secret")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what `from_env` passes: the environment is read there, once."""
        return (init_settings,)

    @field_validator("public_url", "sendgrid_host")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default: `.env` merged under `os.environ`)."""
        if environ is None:
            load_dotenv(Path.cwd() / ".env", override=False)
            environ = os.environ
        names = {field.alias for field in cls.model_fields.values()}
        given = {name: value for name, value in environ.items() if name in names and value.strip()}
        try:
            settings = cls.model_validate(given)
        except ValidationError as exc:
            raise OutreachError(_explain(exc, given)) from None
        settings.validate_combination()
        return settings

    def validate_combination(self) -> None:
        """Refuse settings that cannot work together, naming the variable."""
        if self.email_transport != "outbox" and self.secret_key is None:
            raise OutreachError(
                f"OUTREACH_SECRET_KEY is required with the {self.email_transport} transport "
                "(it signs the unsubscribe links)"
            )
        if found := _refusals(self):
            raise OutreachError(found[0])

    @property
    def smtp_paced(self) -> bool:
        """Whether SMTP keeps a pace per minute (one process keeps it exactly)."""
        return self.email_transport == "smtp" and self.smtp_rate is not None


def setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting read and checked on its own, for code that runs where no `Settings` was
    handed down (the store's leases, in every process that claims)."""
    alias = str(Settings.model_fields[name].alias)
    raw = (os.environ if environ is None else environ).get(alias, "").strip()
    given = {alias: raw} if raw else {}
    try:
        return getattr(Settings.model_validate(given), name)
    except ValidationError as exc:
        raise OutreachError(_explain(exc, given)) from None


def _explain(exc: ValidationError, given: Mapping[str, str]) -> str:
    """The first problem, as one line naming the variable and what it must be."""
    error = exc.errors()[0]
    name = str(error["loc"][0])
    field = next(f for f in Settings.model_fields.values() if f.alias == name)
    return f"{name} must be {field.description}, not '{given.get(name, '')}'"


def _refusals(settings: Settings) -> list[str]:
    """One line per setting a real transport refuses, naming the variable (none: fine)."""
    if settings.email_transport == "outbox":
        return []
    found = []
    transport = settings.email_transport
    public = urlsplit(settings.public_url)
    if public.scheme != "https" or (public.hostname or "") in LOOPBACK:
        found.append(
            f"OUTREACH_PUBLIC_URL must be the public https:// address of `outreach serve` with "
            f"the {transport} transport (unsubscribe links), not '{settings.public_url}'"
        )
    secret = settings.secret_key
    if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
        found.append(
            f"OUTREACH_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes long "
            "(try: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if transport == "smtp" and settings.smtp_username and settings.smtp_security == "none":
        found.append(
            "SMTP_SECURITY=none would send SMTP_USERNAME's password in clear: use starttls or ssl"
        )
    if transport == "sendgrid":
        host = urlsplit(settings.sendgrid_host)
        if host.scheme != "https" and (host.hostname or "") not in LOOPBACK:
            found.append(
                f"SENDGRID_HOST must be an https:// URL (it carries the API key), "
                f"not '{settings.sendgrid_host}'"
            )
    return found
