"""The database's campaign: the digest of the campaign files its leading worker runs.

One row. The leader (`owner.leads`) publishes the digest of the campaign it has loaded, and
again whenever it loads another or finds itself leader; a worker whose digest differs from
the published one sends nothing (`differing_version`), so that one database sends one text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from outreach.store.dialects import conflict_insert
from outreach.store.owner import database_now, leads, lease_for
from outreach.store.schema import campaign_version

ROW = 1


@dataclass(frozen=True)
class CampaignVersion:
    """A campaign as published: its digest, and which worker published it, where and when."""

    digest: str
    host: str
    worker: str
    published_at: datetime


def publish(engine: Engine, digest: str, *, worker: str, host: str) -> None:
    """Make `digest` the database's campaign, published by `worker` on `host` (an upsert)."""
    with engine.begin() as conn:
        values = {
            "digest": digest,
            "host": host[:255],
            "worker": worker,
            "published_at": database_now(conn),
        }
        upsert = (
            conflict_insert(conn.dialect.name, campaign_version)
            .values(id=ROW, **values)
            .on_conflict_do_update(index_elements=["id"], set_=values)
        )
        conn.execute(upsert)


def published(engine: Engine) -> CampaignVersion | None:
    """The campaign last published; None before any."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                campaign_version.c.digest,
                campaign_version.c.host,
                campaign_version.c.worker,
                campaign_version.c.published_at,
            ).where(campaign_version.c.id == ROW)
        ).first()
    return None if row is None else CampaignVersion(*row)


def differing_version(engine: Engine, digest: str) -> CampaignVersion | None:
    """The published campaign when this worker, running the campaign of `digest`, must not
    send because it differs; None when it may send.

    The leader publishes `digest` (unless it already has, under its lease) and may send; a
    follower may send when nothing was published yet or the published digest is its own.
    """
    found = published(engine)
    if leads(engine):
        lease = lease_for(engine)
        if found is None or (found.digest, found.worker) != (digest, lease.id):
            publish(engine, digest, worker=lease.id, host=lease.host)
        return None
    if found is None or found.digest == digest:
        return None
    return found
