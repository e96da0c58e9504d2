"""Who a preview is rendered for: a real supporter, or a sample one."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine

from outreach.campaign.model import Schedule, Supporter
from outreach.errors import OutreachError
from outreach.store.people import find_supporter

SAMPLE = Supporter(
    id=0,
    email="alex.sample@example.org",
    first_name="Alex",
    last_name="Sample",
    city="Halifax",
    region="NS",
    language="",
    timezone="America/Halifax",
)


def preview_supporter(
    engine: Engine, schedule: Schedule, email: str | None, language: str | None
) -> tuple[Supporter, str]:
    """The supporter to preview for and their time zone; `language` overrides theirs."""
    if email is None:
        supporter = SAMPLE
    else:
        with engine.connect() as conn:
            found = find_supporter(conn, email)
        if found is None:
            raise OutreachError(f"no supporter with the email '{email}'")
        supporter = found
    if language is not None:
        if language not in schedule.languages:
            raise OutreachError(
                f"language '{language}' is not one of the campaign languages "
                f"({', '.join(schedule.languages)})"
            )
        supporter = replace(supporter, language=language)
    elif not supporter.language:
        supporter = replace(supporter, language=schedule.fallback_language)
    return supporter, supporter.timezone or schedule.timezone
