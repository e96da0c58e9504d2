"""The SendGrid transport against a local server that checks every request against the contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from outreach.campaign.loader import load_schedule
from outreach.config import Settings
from outreach.delivery.dispatch import Dispatcher
from outreach.errors import DeliveryError, OutreachError
from outreach.messages import Content, OutgoingEmail, Skeleton
from outreach.rendering.renderer import Renderer
from outreach.store import ledger
from outreach.store.db import open_database
from outreach.store.people import import_supporters, supporter_from_row
from outreach.store.schema import ledger as ledger_table
from outreach.store.schema import supporters
from outreach.supporters.csvfile import parse_supporters
from outreach.timeline import reminder_sends
from outreach.tokens import TokenSigner
from outreach.transports.outbox import OutboxPostTransport
from outreach.transports.sendgrid import Retry, SendGridTransport
from tests.integration.sendgrid_server import CONTRACT, SendGridServer, as_sent, serving

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2018, 3, 2, 4, 0, tzinfo=UTC)  # the demo's two-weeks-before is due everywhere
EXPECTED = 49  # the demo's 50 supporters but one whose implied consent lapsed
REMINDER = ("mexico-refugees", "two-weeks-before")
WALL = 1_520_000_000.0
TAG = re.compile(r"-\{\{[a-z_]+(?::[a-z]+)?\}\}")


@dataclass
class Sleeps:
    """Stands in for time.sleep: remembers how long the transport would have waited."""

    seconds: list[float] = field(default_factory=list)

    def __call__(self, delay: float) -> None:
        self.seconds.append(delay)


@pytest.fixture
def server() -> Iterator[tuple[SendGridServer, str]]:
    state = SendGridServer()
    with serving(state) as url:
        yield state, url


def transport(url: str, key: str, sleeps: Sleeps, **options: Any) -> SendGridTransport:
    retry = Retry(attempts=4, sleep=sleeps, wall=lambda: WALL)
    return SendGridTransport(key, clock=lambda: NOW, host=url, retry=retry, **options)


def dispatcher(database_url: str, sender: SendGridTransport, tmp_path: Path) -> Dispatcher:
    schedule = load_schedule(REPO / "schedules.yaml")
    engine = open_database(database_url)
    with (REPO / "examples" / "supporters.csv").open(encoding="utf-8", newline="") as handle:
        import_supporters(engine, parse_supporters(handle, "supporters.csv"), NOW)
    return Dispatcher(
        engine=engine,
        schedule=schedule,
        renderer=Renderer(schedule, REPO / "templates"),
        email_transport=sender,
        post_transport=OutboxPostTransport(tmp_path / "outbox", lambda: NOW),
        signer=TokenSigner("test-secret"),
        public_url="https://act.example.org",
    )


def accepted_ids(state: SendGridServer) -> Counter[int]:
    """How many accepted messages each supporter has at the server."""
    return Counter(int(p["custom_args"]["supporter_id"]) for p in state.accepted)


def ledger_rows(dispatcher_: Dispatcher) -> dict[int, tuple[str, str]]:
    """Supporter id → (state, detail) of the demo reminder's emails."""
    query = select(ledger_table.c.supporter_id, ledger_table.c.state, ledger_table.c.detail).where(
        ledger_table.c.campaign == REMINDER[0],
        ledger_table.c.reminder == REMINDER[1],
        ledger_table.c.channel == "email",
    )
    with dispatcher_.engine.connect() as conn:
        return {int(sid): (state, detail) for sid, state, detail in conn.execute(query)}


def assert_exactly_once(state: SendGridServer, dispatcher_: Dispatcher) -> None:
    """Every eligible supporter: one accepted message or a recorded failure reason; none two."""
    accepted = accepted_ids(state)
    rows = ledger_rows(dispatcher_)
    failed = {sid for sid, (kind, detail) in rows.items() if kind == ledger.FAILED and detail}
    assert max(accepted.values()) == 1
    assert set(accepted).isdisjoint(failed)
    assert len(set(accepted) | failed) == len(rows) == EXPECTED
    assert {sid for sid, (kind, _) in rows.items() if kind == ledger.SENT} == set(accepted)
    assert state.invalid == []


def test_every_request_is_valid_and_carries_many_personalized_emails(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path
) -> None:
    state, url = server
    dispatcher_ = dispatcher(database_url, transport(url, state.api_key, Sleeps()), tmp_path)
    assert dispatcher_.run_once(NOW).sent == EXPECTED
    assert_exactly_once(state, dispatcher_)
    assert len(state.bodies) == 2  # English (and Spanish, falling back to it), and French
    assert sorted(len(b["personalizations"]) for b in state.bodies) == [20, 29]
    send = next(s for s in reminder_sends(dispatcher_.schedule) if s.key == REMINDER[1])
    with dispatcher_.engine.connect() as conn:
        people = {int(r.id): dict(r._mapping) for r in conn.execute(select(supporters))}
    for body in state.bodies:
        assert body["categories"] == list(REMINDER)
        assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
        for personalization in body["personalizations"]:
            assert personalization["headers"].keys() == {"List-Unsubscribe"}
            sent = as_sent(body, personalization)
            sid = int(sent["custom_args"]["supporter_id"])
            assert sent["custom_args"] == {
                "campaign": REMINDER[0],
                "reminder": REMINDER[1],
                "supporter_id": str(sid),
                "channel": "email",
            }
            token = personalization["substitutions"]["-{{unsubscribe}}"]
            assert sent["headers"] == {
                "List-Unsubscribe": f"<https://act.example.org/u/{token}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": "Protect refugees in Mexico <mexico-refugees.example.org>",
                "Feedback-ID": f"{REMINDER[0]}:{REMINDER[1]}:reminder:example.org",
            }
            # What SendGrid makes of it is what rendering for the supporter alone gives.
            supporter = supporter_from_row(people[sid])
            day = send.local_date(people[sid]["timezone"] or "America/Toronto")
            link = f"https://act.example.org/u/{token}"
            rendered = dispatcher_.renderer.render_send(send, supporter, day, link)
            values = personalization["substitutions"]

            def fill(text: str, values: dict[str, str] = values) -> str:
                return TAG.sub(lambda m: values[m[0]], text)

            assert fill(body["subject"]) == rendered.subject
            assert fill(body["content"][0]["value"]) == rendered.text
            assert fill(body["content"][1]["value"]) == rendered.html
            assert personalization["to"] == [{"email": supporter.email, "name": supporter.name}]


def test_the_server_refuses_what_the_contract_forbids(server: tuple[SendGridServer, str]) -> None:
    state, url = server
    assert CONTRACT.is_file()
    assert transport(url, state.api_key, Sleeps()).send([outgoing(1)])[0].ok
    [body] = state.bodies
    for broken in (
        {**body, "personalizations": [{"custom_args": {}}]},  # no `to`
        {**body, "categories": ["same", "same"]},
        {**body, "from": {"email": "not an address"}},
        {k: v for k, v in body.items() if k != "from"},
        {**body, "personalizations": body["personalizations"] * 1001},
    ):
        assert state.answer(f"Bearer {state.api_key}", json.dumps(broken).encode())[0] == 400
    assert len(state.invalid) >= 5


def outgoing(sid: int, **fields: Any) -> OutgoingEmail:
    defaults: dict[str, Any] = {
        "supporter_id": sid,
        "campaign": "c",
        "reminder": "r",
        "to_email": f"p{sid}@example.org",
        "to_name": "Ann\r\nBcc: evil@example.org",
        "from_email": "info@example.org",
        "from_name": "Org",
        "content": Content("Hello", "Hello\n", "<p>Hello</p>"),
        "language": "en",
        "message_id": f"<{sid}@example.org>",
        "headers": {"List-Unsubscribe": "<https://act.example.org/u/t>"},
    }
    return OutgoingEmail(**{**defaults, **fields})


def test_names_lose_their_line_breaks_and_single_emails_go_whole(
    server: tuple[SendGridServer, str],
) -> None:
    state, url = server
    [outcome] = transport(url, state.api_key, Sleeps()).send([outgoing(1)])
    assert outcome.ok and outcome.detail == "X-Message-Id msg-1"
    [body] = state.bodies
    assert body["personalizations"][0]["to"] == [
        {"email": "p1@example.org", "name": "Ann Bcc: evil@example.org"}
    ]
    assert body["subject"] == "Hello" and "substitutions" not in body["personalizations"][0]


def test_emails_of_one_skeleton_share_a_request_unless_their_values_are_too_big(
    server: tuple[SendGridServer, str],
) -> None:
    state, url = server
    skeleton = Skeleton(
        "Hi -{{first_name}}", "Hi -{{first_name}}\n", "<p>-{{first_name:html}}</p>", "en"
    )

    def filled(sid: int, name: str) -> OutgoingEmail:
        values = {"-{{first_name}}": name, "-{{first_name:html}}": name}
        return outgoing(sid, content=None, skeleton=skeleton, substitutions=values)

    emails = [filled(1, "Ann"), filled(2, "Bo"), filled(3, "x" * 6000)]
    assert all(o.ok for o in transport(url, state.api_key, Sleeps()).send(emails))
    alone, shared = sorted(state.bodies, key=lambda b: len(b["personalizations"]))
    assert shared["subject"] == "Hi -{{first_name}}"
    assert [p["substitutions"]["-{{first_name}}"] for p in shared["personalizations"]] == [
        "Ann",
        "Bo",
    ]
    assert alone["subject"] == "Hi " + "x" * 6000
    assert "substitutions" not in alone["personalizations"][0]


def test_refused_recipients_are_isolated_and_the_rest_still_goes(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path
) -> None:
    state, url = server
    state.refuse("amelie.tremblay@example.org", "mei.chen@example.org")
    dispatcher_ = dispatcher(database_url, transport(url, state.api_key, Sleeps()), tmp_path)
    report = dispatcher_.run_once(NOW)
    assert (report.sent, report.failed) == (EXPECTED - 2, 2)
    assert_exactly_once(state, dispatcher_)
    failures = [detail for kind, detail in ledger_rows(dispatcher_).values() if kind == "failed"]
    assert failures == ["SendGrid: Does not contain a valid address. (400)"] * 2
    assert len(state.bodies) < 2 + 2 * 2 * 6  # a binary split, not one request per recipient


def test_rate_limited_then_accepted_waits_for_the_reset(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path
) -> None:
    state, url = server
    state.fail_next(429, reset=WALL + 7)
    sleeps = Sleeps()
    dispatcher_ = dispatcher(database_url, transport(url, state.api_key, sleeps), tmp_path)
    assert dispatcher_.run_once(NOW).sent == EXPECTED
    assert sleeps.seconds == [7.0]
    assert_exactly_once(state, dispatcher_)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_with_growing_jittered_delays(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path, status: int
) -> None:
    state, url = server
    state.fail_next(status, times=2)
    sleeps = Sleeps()
    dispatcher_ = dispatcher(database_url, transport(url, state.api_key, sleeps), tmp_path)
    assert dispatcher_.run_once(NOW).sent == EXPECTED
    first, second = sleeps.seconds
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0
    assert_exactly_once(state, dispatcher_)


def test_a_timeout_is_retried(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path
) -> None:
    state, url = server
    state.stall_next(2.0)
    sleeps = Sleeps()
    sender = transport(url, state.api_key, sleeps, timeout=0.5)
    dispatcher_ = dispatcher(database_url, sender, tmp_path)
    assert dispatcher_.run_once(NOW).sent == EXPECTED
    assert len(sleeps.seconds) == 1
    assert_exactly_once(state, dispatcher_)


def test_an_outage_loses_nothing(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path
) -> None:
    state, url = server
    state.fail_next(500, times=4)
    sleeps = Sleeps()
    dispatcher_ = dispatcher(database_url, transport(url, state.api_key, sleeps), tmp_path)
    with pytest.raises(DeliveryError, match="did not take the batch after 4 attempts: 500"):
        dispatcher_.run_once(NOW)
    assert len(sleeps.seconds) == 3 and state.accepted == []
    assert ledger_rows(dispatcher_) == {}
    assert dispatcher_.run_once(NOW).sent == EXPECTED
    assert_exactly_once(state, dispatcher_)


def test_trouble_after_part_of_a_batch_went_records_that_part(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path
) -> None:
    state, url = server
    dispatcher_ = dispatcher(database_url, transport(url, state.api_key, Sleeps()), tmp_path)
    with dispatcher_.engine.connect() as conn:
        french = conn.execute(
            select(supporters.c.email).where(supporters.c.language.like("fr%"))
        ).scalars()
        state.refuse(list(french)[-1])  # the French batch goes first; this one, last in it
    state.pass_next(2)  # the French batch: 400; its first half: 202
    state.fail_next(500, times=4)  # its second half: an outage
    with pytest.raises(DeliveryError, match="after 4 attempts"):
        dispatcher_.run_once(NOW)
    first_half = len(state.accepted)
    assert 0 < first_half < 20
    assert [kind for kind, _ in ledger_rows(dispatcher_).values()] == ["sent"] * first_half
    dispatcher_.run_once(NOW)
    assert_exactly_once(state, dispatcher_)
    assert sum(kind == "failed" for kind, _ in ledger_rows(dispatcher_).values()) == 1


def test_send_at_holds_emails_due_later_within_72_hours(
    server: tuple[SendGridServer, str],
) -> None:
    state, url = server
    sender = transport(url, state.api_key, Sleeps())
    later = NOW + timedelta(hours=5)
    outcomes = sender.send([outgoing(1, send_at=later), outgoing(2, send_at=NOW - timedelta(1))])
    assert all(o.ok for o in outcomes)
    first, second = (b["personalizations"][0] for b in state.bodies)
    assert first["send_at"] == int(later.timestamp()) and "send_at" not in second
    with pytest.raises(DeliveryError, match="more than 72 hours ahead"):
        sender.send([outgoing(3, send_at=NOW + timedelta(hours=73))])


@pytest.mark.parametrize("hours", [72, 0])
def test_a_run_hands_sends_due_within_the_horizon_over_early_with_send_at(
    server: tuple[SendGridServer, str], database_url: str, tmp_path: Path, hours: int
) -> None:
    state, url = server
    early = NOW - timedelta(hours=40)  # the reminder fires 16 to 29 hours later, zone by zone
    sender = SendGridTransport(
        state.api_key,
        clock=lambda: early,
        host=url,
        retry=Retry(attempts=1, sleep=Sleeps(), wall=lambda: WALL),
        schedules_ahead=timedelta(hours=hours),
    )
    dispatcher_ = dispatcher(database_url, sender, tmp_path)

    report = dispatcher_.run_once(early)

    if hours == 0:
        assert report.sent == 0 and state.bodies == []
        return
    assert report.sent == report.sends[0].scheduled == EXPECTED
    assert state.invalid == []
    send = next(s for s in reminder_sends(dispatcher_.schedule) if s.key == REMINDER[1])
    with dispatcher_.engine.connect() as conn:
        rows = conn.execute(select(supporters.c.id, supporters.c.timezone))
        zones = {int(i): zone or dispatcher_.schedule.timezone for i, zone in rows}
    for personalization in (p for body in state.bodies for p in body["personalizations"]):
        sid = int(personalization["custom_args"]["supporter_id"])
        assert personalization["send_at"] == int(send.fires_at(zones[sid]).timestamp())
    assert len({p["send_at"] for body in state.bodies for p in body["personalizations"]}) > 1
    dispatcher_.email_transport = transport(url, state.api_key, Sleeps())
    assert dispatcher_.run_once(NOW).sent == 0  # at their time, nothing is sent again
    assert_exactly_once(state, dispatcher_)


def test_settings_give_the_unsubscribe_group_and_sandbox_mode(
    server: tuple[SendGridServer, str],
) -> None:
    state, url = server
    env = {
        "SENDGRID_API_KEY": state.api_key,
        "SENDGRID_HOST": url,
        "OUTREACH_SENDGRID_ASM_GROUP": "4242",
        "OUTREACH_SENDGRID_SANDBOX": "1",
    }
    assert (
        SendGridTransport.from_settings(Settings.from_env(env), lambda: NOW)
        .send([outgoing(1)])[0]
        .ok
    )
    [body] = state.bodies
    assert body["asm"] == {"group_id": 4242}
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    with pytest.raises(OutreachError, match="SENDGRID_API_KEY is required"):
        SendGridTransport.from_settings(Settings.from_env({"SENDGRID_HOST": url}), lambda: NOW)
    with pytest.raises(OutreachError, match="OUTREACH_SENDGRID_ASM_GROUP"):
        SendGridTransport.from_settings(
            Settings.from_env({**env, "OUTREACH_SENDGRID_ASM_GROUP": "x"}), lambda: NOW
        )
    assert SendGridTransport.from_settings(
        Settings.from_env(env), lambda: NOW
    ).schedules_ahead == timedelta(0)
    ahead = {**env, "OUTREACH_SENDGRID_SCHEDULE_AHEAD": "72"}
    assert SendGridTransport.from_settings(
        Settings.from_env(ahead), lambda: NOW
    ).schedules_ahead == timedelta(hours=72)
    for wrong in ("73", "-1", "a day"):
        with pytest.raises(OutreachError, match="from 0 to 72, not"):
            ahead = {**env, "OUTREACH_SENDGRID_SCHEDULE_AHEAD": wrong}
            SendGridTransport.from_settings(Settings.from_env(ahead), lambda: NOW)


def outreach(project: Path, url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`outreach ARGS…` as a user runs it, with the sendgrid transport."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SENDGRID_"))}
    env |= {
        "OUTREACH_EMAIL_TRANSPORT": "sendgrid",
        "OUTREACH_SECRET_KEY": "a-secret-for-the-tests-32-bytes-long",
        "OUTREACH_PUBLIC_URL": "https://act.example.org",
        "SENDGRID_HOST": url,
        "SENDGRID_API_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "-m", "outreach.cli", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_demo_goes_through_sendgrid_from_the_command_line(
    server: tuple[SendGridServer, str], project: Path
) -> None:
    state, url = server
    assert outreach(project, url, state.api_key, "supporters", "import", "examples/supporters.csv")
    run = outreach(project, url, state.api_key, "run", "--once", "--now", "2018-03-02T04:00Z")
    assert run.returncode == 0, run.stderr
    assert "sent 49" in run.stdout
    assert len(state.bodies) == 2 and len(accepted_ids(state)) == EXPECTED
    assert state.invalid == []
    again = outreach(project, url, state.api_key, "run", "--once", "--now", "2018-03-02T04:00Z")
    assert again.returncode == 0 and len(state.bodies) == 2


def test_a_refused_key_stops_at_once_with_exit_2_and_records_nothing(
    server: tuple[SendGridServer, str], project: Path
) -> None:
    state, url = server
    wrong = "SG.not-the-key-0123456789"
    outreach(project, url, wrong, "supporters", "import", "examples/supporters.csv")
    run = outreach(project, url, wrong, "run", "--once", "--now", "2018-03-02T04:00Z")
    assert run.returncode == 2
    assert "SendGrid refused the API key (401)" in run.stderr
    assert wrong not in run.stdout + run.stderr
    assert state.requests == 1 and state.accepted == []
    status = outreach(project, url, wrong, "status", "--json")
    assert '"sent": 0' in status.stdout and '"uncertain": 0' in status.stdout


def test_the_contract_copy_is_the_shared_one() -> None:
    shared = REPO.parent / "shared" / "contracts" / CONTRACT.name
    if not shared.is_file():
        pytest.skip("no ../shared beside this clone: nothing to compare the copy with")
    assert CONTRACT.read_bytes() == shared.read_bytes()
