"""Settings that refuse to embarrass: what a real transport (smtp, sendgrid) demands.

Real mail carries unsubscribe links that must work, signed with a key that cannot be guessed,
through connections that do not give credentials away. The outbox accepts anything: it is for
local trials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from outreach.config import Settings

MIN_SECRET_BYTES = 32
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def refusals(settings: Settings) -> list[str]:
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
