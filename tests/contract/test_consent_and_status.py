"""One consent rule in Python and SQL; `status` puts every member of an audience in
exactly one column, lapsed as of each occurrence's send date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from outreach.campaign.loader import load_schedule
from outreach.campaign.model import Audience
from outreach.delivery.reports import status
from outreach.delivery.sends import all_sends
from outreach.store import ledger, schema
from outreach.store.audience import Selection, lapsed
from outreach.store.db import open_database
from outreach.store.people import import_supporters, suppress
from outreach.supporters.consent import consent_lapsed
from outreach.supporters.csvfile import parse_supporters

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2018, 3, 10, tzinfo=UTC)  # the two-weeks-before window (March 1) is closed
SELECTION = Selection(Audience(), ("en", "fr"), "America/Toronto")
GIVEN = [date(2016, 2, 28), date(2016, 2, 29), date(2016, 3, 1), date(2016, 3, 2), None]
DAYS = [date(2018, 2, 28), date(2018, 3, 1), date(2018, 3, 2), date(2020, 2, 29)]


def _import(engine: Engine, csv_text: str) -> None:
    import_supporters(engine, parse_supporters(csv_text.splitlines(True), "t.csv"), NOW)


def _grid(engine: Engine) -> dict[int, tuple[str, date | None]]:
    rows = ["email,consent,consent_date"]
    rows += [
        f"{consent}{n}@example.org,{consent},{given or '2017-01-01'}"
        for consent in ("express", "implied")
        for n, given in enumerate(GIVEN)
    ]
    _import(engine, "\n".join(rows) + "\n")
    with engine.begin() as conn:  # a re-import can leave implied consent without a date
        conn.execute(
            update(schema.supporters)
            .where(schema.supporters.c.email == f"implied{len(GIVEN) - 1}@example.org")
            .values(consent_date=None)
        )
        found = conn.execute(
            select(
                schema.supporters.c.id,
                schema.supporters.c.consent,
                schema.supporters.c.consent_date,
            )
        ).all()
    return {int(i): (str(c), d) for i, c, d in found}


@pytest.mark.parametrize("day", DAYS)
def test_the_sql_rule_is_the_python_rule(database_url: str, day: date) -> None:
    engine = open_database(database_url)
    people = _grid(engine)
    with engine.connect() as conn:
        in_sql = set(conn.execute(select(schema.supporters.c.id).where(lapsed(SELECTION, day))))
    in_python = {i for i, (consent, given) in people.items() if consent_lapsed(consent, given, day)}
    assert {row[0] for row in in_sql} == in_python
    assert any(people[i] == ("implied", None) for i in in_python)  # undated: lapsed


PEOPLE = """email,timezone,consent,consent_date
sent@example.org,,express,2017-01-01
failed@example.org,,express,2017-01-01
dead@example.org,,express,2017-01-01
live@example.org,,express,2017-01-01
unsubscribed@example.org,,express,2017-01-01
sent-then-unsubscribed@example.org,,express,2017-01-01
lapsed-on-the-day@example.org,,implied,2016-03-01
leap-toronto@example.org,America/Toronto,implied,2016-02-29
leap-auckland@example.org,Pacific/Auckland,implied,2016-02-29
lapsed-since@example.org,,implied,2016-03-02
express@example.org,,express,2017-01-01
undated@example.org,,implied,2016-06-01
"""


def test_status_accounts_for_everyone_once(database_url: str) -> None:
    engine = open_database(database_url)
    _import(engine, PEOPLE)
    with engine.begin() as conn:
        ids = dict(conn.execute(select(schema.supporters.c.email, schema.supporters.c.id)).all())
        conn.execute(
            update(schema.supporters)
            .where(schema.supporters.c.email == "undated@example.org")
            .values(consent_date=None)
        )
    key = ("mexico-refugees", "two-weeks-before", "email")
    claim = datetime(2018, 3, 1, 14, tzinfo=UTC)
    dead, _ = ledger.claim(engine, *key, [ids["dead@example.org"]], claim)
    with engine.begin() as conn:  # its worker's lease is gone
        conn.execute(update(schema.ledger).where(schema.ledger.c.batch == dead).values(owner="x"))
    ledger.claim(engine, *key, [ids["live@example.org"]], claim)  # ours: a live worker's
    done = [ids[e] for e in ("sent@example.org", "sent-then-unsubscribed@example.org")]
    batch, _ = ledger.claim(engine, *key, [*done, ids["failed@example.org"]], claim)
    outcomes = [ledger.Outcome(i, True) for i in done]
    ledger.record(
        engine, batch, [*outcomes, ledger.Outcome(ids["failed@example.org"], False)], claim
    )
    for email in ("unsubscribed@example.org", "sent-then-unsubscribed@example.org"):
        suppress(engine, email, "unsubscribe", "", claim + timedelta(hours=1))

    schedule = load_schedule(REPO / "schedules.yaml")
    rows = {
        (r.campaign, r.reminder): r
        for r in status(schedule, engine, all_sends(schedule, engine), NOW)
    }
    row = rows[key[:2]]
    counts = {
        "sent": 2,
        "failed": 1,
        "suppressed": 1,
        "lapsed": 3,  # on March 1: on the day, the leap-day one in Toronto, the undated one
        "uncertain": 1,
        "sending": 1,
        "pending": 3,  # never sent: leap day in Auckland (Feb 28 UTC), lapsed since, express
        "audience": 12,
    }
    assert {k: getattr(row, k) for k in counts} == counts
