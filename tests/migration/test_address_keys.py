"""Revision 0010: the address key is filled for existing rows, and supporters the old
`lower(email)` rule let in twice are merged into the oldest, keeping every suppression."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import Engine, select, text

from outreach.store import schema, versions
from outreach.store.db import connect
from outreach.supporters.addresses import address_key

THEN = datetime(2018, 3, 1, 14, 0)
# Both engines' lower() keep these apart (no final sigma, no ß folding); casefold() does not.
OLDER, NEWER, OTHER = "σοφίας@example.org", "ΣΟΦΊΑΣ@example.org", "ana@example.org"


def _at_0002(url: str) -> Engine:
    engine = connect(url)
    with engine.begin() as conn:
        command.upgrade(versions.alembic_config(conn), "0002")
        for n, (email, at) in enumerate(
            [(OLDER, THEN), (OTHER, THEN), (NEWER, THEN.replace(hour=15))], start=1
        ):
            conn.execute(
                text(
                    "INSERT INTO supporters (id, email, first_name, last_name, city, region, "
                    "postal_code, country, language, tags, consent, consent_source, fields, "
                    "created_at, updated_at) VALUES (:id, :email, '', '', '', '', '', '', '', "
                    "'', 'express', '', '{}', :at, :at)"
                ),
                {"id": n, "email": email, "at": at},
            )
        ledger = (
            "INSERT INTO ledger (campaign, reminder, supporter_id, channel, state, batch, "
            "owner, claimed_at, detail) VALUES ('c', :r, :s, 'email', 'sent', 'b', '', :at, '')"
        )
        for reminder, supporter in [("r1", 1), ("r1", 3), ("r2", 3)]:
            conn.execute(text(ledger), {"r": reminder, "s": supporter, "at": THEN})
        for email, reason in [("strasse@example.org", "bounce"), ("straße@example.org", "manual")]:
            conn.execute(
                text(
                    "INSERT INTO suppressions (email, reason, detail, created_at) "
                    "VALUES (:e, :r, 'x', :at)"
                ),
                {"e": email, "r": reason, "at": THEN},
            )
    return engine


def test_duplicates_merge_into_the_oldest_and_keys_are_filled(database_url: str) -> None:
    engine = _at_0002(database_url)
    assert versions.upgrade(engine) == ("0002", versions.HEAD)
    with engine.connect() as conn:
        people = conn.execute(
            select(schema.supporters.c.id, schema.supporters.c.address_key).order_by("id")
        ).all()
        sends = conn.execute(
            select(schema.ledger.c.reminder, schema.ledger.c.supporter_id).order_by("reminder")
        ).all()
        blocked = conn.execute(select(schema.suppressions)).all()
    assert [tuple(p) for p in people] == [(1, address_key(OLDER)), (2, OTHER)]
    assert [tuple(s) for s in sends] == [("r1", 1), ("r2", 1)]  # no duplicate ledger key
    assert len(blocked) == 1
    assert blocked[0].address_key == "strasse@example.org"
    assert "bounce" in f"{blocked[0].reason} {blocked[0].detail}"
    assert "manual" in f"{blocked[0].reason} {blocked[0].detail}"
