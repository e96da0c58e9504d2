"""Failed sends made due again, when the organizer says so (`outreach run --retry-failed`)."""

from __future__ import annotations

from sqlalchemy import Engine

from outreach.messages import Channel, State
from outreach.store.schema import ledger


def requeue_failed(engine: Engine, reminder: str | None = None) -> int:
    """Forget the failed email occurrences (of `reminder`, else all): the next run sends them.

    Returns how many were made due again. Suppressed supporters stay suppressed: the run
    selects its audience as always.
    """
    query = ledger.delete().where(
        ledger.c.state == State.FAILED.value, ledger.c.channel == Channel.EMAIL.value
    )
    if reminder is not None:
        query = query.where(ledger.c.reminder == reminder)
    with engine.begin() as conn:
        return int(conn.execute(query).rowcount)
