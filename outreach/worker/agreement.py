"""One campaign per database: the leading worker's.

Each host loads its own copy of schedules.yaml and templates. The leading worker publishes
the digest of the campaign it runs (`store/campaign_version.py`); a worker whose files differ
sends nothing, and says so once, until its files match again.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from outreach.store.campaign_version import CampaignVersion, differing_version

log = logging.getLogger("outreach.worker.agreement")


def differs_message(version: CampaignVersion) -> str:
    """What a worker whose campaign files differ from the leader's tells the organizer."""
    return (
        "this host's campaign files differ from the leading worker's (host "
        f"{version.host}, published at {version.published_at:%Y-%m-%d %H:%M:%S} UTC): sending "
        "nothing until they match; deploy the same schedules.yaml and templates here"
    )


class Agreement:
    """Whether this worker may send its campaign; logs when that changes, not every time."""

    def __init__(self) -> None:
        self.held_by: CampaignVersion | None = None
        """The leader's version this worker's files differ from; None while it may send."""

    def allows(self, engine: Engine, digest: str) -> bool:
        """Whether the worker running the campaign of `digest` may dispatch now."""
        version = differing_version(engine, digest)
        if version is None:
            if self.held_by is not None:
                log.info("this host's campaign files match the leading worker's: sending again")
            self.held_by = None
            return True
        if self.held_by is None or self.held_by.digest != version.digest:
            log.warning("%s", differs_message(version))
        self.held_by = version
        return False
