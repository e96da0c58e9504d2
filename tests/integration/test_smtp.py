"""The SMTP transport against a real SMTP server (aiosmtpd) on loopback, with faults."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from outreach.campaign.loader import load_schedule
from outreach.config import Settings
from outreach.delivery.dispatch import Dispatcher
from outreach.errors import DeliveryError, OutreachError
from outreach.messages import Content, OutgoingEmail
from outreach.rendering.renderer import Renderer
from outreach.store import ledger
from outreach.store.db import open_database
from outreach.store.people import import_supporters
from outreach.store.schema import ledger as ledger_table
from outreach.store.schema import supporters
from outreach.supporters.csvfile import parse_supporters
from outreach.tokens import TokenSigner
from outreach.transports.base import PartialDelivery
from outreach.transports.mime import wire_bytes
from outreach.transports.outbox import OutboxPostTransport
from outreach.transports.smtp import ATTEMPTS, SmtpTransport
from outreach.transports.smtp_config import SmtpConfig
from tests.conftest import copy_demo
from tests.integration.loopback_server import OneConnectionServer

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2018, 3, 2, 4, 0, tzinfo=dt.UTC)  # the demo's reminder is due everywhere
ORG = "info@example.org"


def free_port() -> int:
    """A port nobody listens on (for a moment)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts and answers as a test tells it."""

    def __init__(self, pipelining: bool = True) -> None:
        self.pipelining = pipelining
        """Whether EHLO offers PIPELINING (RFC 2920), as most servers do."""
        self.accepted: list[tuple[str, bytes]] = []
        self.senders: set[str] = set()
        self.peers: set[tuple[str, int]] = set()
        self.scripts: dict[str, list[str]] = {}
        """Replies to RCPT for an address, used up one by one, then 250."""
        self.drop_on_data: set[int] = set()
        """Which DATA commands (1 = the first) drop the connection instead of replying."""
        self.data_replies: dict[int, str] = {}
        """Replies to a message's end of data (1 = the first) instead of taking it."""
        self.wait_for_peers = 0
        self.datas = 0
        self._enough_peers = asyncio.Event()

    def recipients(self) -> Counter[str]:
        """How many messages each recipient got."""
        return Counter(rcpt for rcpt, _ in self.accepted)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.peers.add(session.peer)
        if len(self.peers) >= self.wait_for_peers:
            self._enough_peers.set()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        script = self.scripts.get(address)
        if script:
            return script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.datas += 1
        if self.datas in self.drop_on_data:
            server.transport.close()  # the message was sent but never acknowledged
            return "250 unheard"
        if self.datas in self.data_replies:
            return self.data_replies[self.datas]
        if self.wait_for_peers:  # hold every reply until that many connections are open
            await asyncio.wait_for(self._enough_peers.wait(), 10)
        self.senders.add(envelope.mail_from)
        self.accepted.extend((rcpt, envelope.original_content) for rcpt in envelope.rcpt_tos)
        return f"250 2.0.0 Ok: queued as Q{len(self.accepted)}"


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def mailbox(request: pytest.FixtureRequest) -> Mailbox:
    return Mailbox(pipelining=request.param)


@contextmanager
def running(mailbox: Mailbox, **options: Any) -> Iterator[Controller]:
    """An aiosmtpd server on a free loopback port, for as long as the block lasts."""
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def server(mailbox: Mailbox) -> Iterator[Controller]:
    """A plain SMTP server on loopback."""
    with running(mailbox) as controller:
        yield controller


def transport(port: int, **options: Any) -> SmtpTransport:
    """A transport to a loopback server, retrying at once unless told otherwise."""
    settings = {"host": "127.0.0.1", "port": port, "security": "none"}
    settings.update({k: options.pop(k) for k in list(options) if k in SmtpConfig.__annotations__})
    options.setdefault("base_delay", 0.0)
    return SmtpTransport(SmtpConfig(**settings), lambda: NOW, **options)


def emails(count: int) -> list[OutgoingEmail]:
    """Personalized emails to p0…p{count-1}@example.net, in French (8-bit text)."""
    return [
        OutgoingEmail(
            supporter_id=i,
            campaign="mexico-refugees",
            reminder="two-weeks-before",
            to_email=f"p{i}@example.net",
            to_name=f"Zoé {i}",
            from_email=ORG,
            from_name="Amnistie internationale",
            content=Content(
                f"Écrivez à la ministre, Zoé {i}",
                f"Bonjour Zoé {i},\n.\nUne ligne qui commence par un point.\n",
                f"<p>Bonjour Zoé {i}</p>",
            ),
            language="fr",
            message_id=f"<mexico-refugees.two-weeks-before.{i}@example.org>",
            headers={
                "List-Unsubscribe": f"<https://act.example.org/u/{'t' * 120}{i}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        for i in range(count)
    ]


def assert_each_once(mailbox: Mailbox, outcomes: list[ledger.Outcome], count: int) -> None:
    """Every recipient has exactly one accepted message or a recorded failure, never two."""
    got = mailbox.recipients()
    assert max(got.values(), default=1) == 1, got.most_common(3)
    assert [o.supporter_id for o in outcomes] == list(range(count))
    for outcome in outcomes:
        address = f"p{outcome.supporter_id}@example.net"
        assert got[address] == (1 if outcome.ok else 0), outcome


def test_each_email_goes_out_as_the_exact_bytes_the_outbox_writes(
    server: Controller, mailbox: Mailbox
) -> None:
    sending = emails(3)
    smtp = transport(server.port, connections=1)
    outcomes = smtp.send(sending)
    smtp.close()

    assert all(o.ok and o.detail.startswith("250 2.0.0 Ok: queued as") for o in outcomes)
    assert_each_once(mailbox, outcomes, 3)
    assert mailbox.senders == {ORG}
    assert len(mailbox.peers) == 1  # one connection for the three
    for email, (rcpt, data) in zip(sending, mailbox.accepted, strict=True):
        assert rcpt == email.to_email
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        assert data == wire_bytes(email, NOW)  # dot-stuffing undone: the bytes as built
        assert message["List-Unsubscribe"] == email.headers["List-Unsubscribe"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = message.get_body(("plain",))
        assert body is not None
        assert body.get_content().replace("\r\n", "\n") == email.text  # "." lines survive


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"org", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_server(mailbox: Mailbox) -> Iterator[Controller]:
    """A server that requires a login (allowed over plain text, for the test only)."""
    with running(
        mailbox, authenticator=_authenticator, auth_required=True, auth_require_tls=False
    ) as controller:
        yield controller


def test_login_then_send_and_a_refused_login_stops_before_anything(
    auth_server: Controller, mailbox: Mailbox
) -> None:
    wrong = transport(auth_server.port, username="org", password="not-the-password")
    with pytest.raises(DeliveryError) as refused:
        wrong.send(emails(2))
    assert "refused the login of org: 535" in str(refused.value)
    assert "not-the-password" not in str(refused.value)
    assert mailbox.accepted == []

    right = transport(auth_server.port, username="org", password="s3cret")
    assert all(o.ok for o in right.send(emails(2)))
    assert len(mailbox.accepted) == 2


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "outreach test SMTP")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_to_a_server_with_a_private_certificate(
    security: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    cert_file, key_file = _certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    tls = (
        {"tls_context": server_context, "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": server_context}
    )
    with running(mailbox, **tls) as controller:
        env = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port),
            "SMTP_SECURITY": security,
        }
        untrusted = SmtpTransport.from_settings(Settings.from_env(env), lambda: NOW)
        with pytest.raises(DeliveryError, match=r"TLS with the SMTP server \S+ failed"):
            untrusted.send(emails(1))
        assert mailbox.accepted == []

        trusting = SmtpTransport.from_settings(
            Settings.from_env({**env, "OUTREACH_SMTP_CA_FILE": str(cert_file)}), lambda: NOW
        )
        assert [o.ok for o in trusting.send(emails(2))] == [True, True]
        trusting.close()
    assert sorted(mailbox.recipients()) == ["p0@example.net", "p1@example.net"]


def test_temporary_refusals_are_retried_and_permanent_ones_recorded(
    server: Controller, mailbox: Mailbox
) -> None:
    mailbox.scripts = {
        "p1@example.net": ["451 4.3.0 Try again later"],
        "p2@example.net": ["550 5.1.1 <p2@example.net>: Recipient address rejected"],
        "p3@example.net": ["421 4.4.2 Closing connection, try later"],
        "p4@example.net": ["452 4.2.2 Mailbox full"] * ATTEMPTS,
    }
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    smtp = transport(server.port, connections=1, base_delay=0.001, sleep=sleep)
    outcomes = smtp.send(emails(6))

    assert_each_once(mailbox, outcomes, 6)
    assert [o.ok for o in outcomes] == [True, True, False, True, False, True]
    assert outcomes[2].detail == "550 5.1.1 <p2@example.net>: Recipient address rejected"
    assert outcomes[4].detail == f"452 4.2.2 Mailbox full (gave up after {ATTEMPTS} attempts)"
    assert len(mailbox.peers) == 2  # the 421 closed the first connection
    assert slept  # the retries waited for their backoff


def test_an_internationalized_address_needs_smtputf8_and_never_stops_the_others(
    mailbox: Mailbox,
) -> None:
    sending = emails(3)
    sending[1] = replace(sending[1], to_email="zoé@exemple.ca")
    outcomes = {}
    for smtputf8 in (False, True):
        with running(mailbox, enable_SMTPUTF8=smtputf8) as controller:
            outcomes[smtputf8] = transport(controller.port, connections=1).send(sending)

    assert [o.ok for o in outcomes[False]] == [True, False, True]
    assert outcomes[False][1].detail == (
        "the server does not accept non-ASCII addresses (no SMTPUTF8)"
    )
    assert all(o.ok for o in outcomes[True])
    assert mailbox.recipients() == {"p0@example.net": 2, "zoé@exemple.ca": 1, "p2@example.net": 2}


def test_a_connection_dropped_mid_batch_loses_nothing_and_sends_nothing_twice(
    server: Controller, mailbox: Mailbox
) -> None:
    mailbox.drop_on_data = {3, 7, 8}
    outcomes = transport(server.port, connections=2).send(emails(20))

    assert all(o.ok for o in outcomes)
    assert_each_once(mailbox, outcomes, 20)
    assert len(mailbox.peers) >= 4  # each drop cost a connection


def test_parallel_connections_each_carry_many_messages_and_are_kept_for_the_next_batch(
    server: Controller, mailbox: Mailbox
) -> None:
    mailbox.wait_for_peers = 4  # the server answers only once four connections are open
    smtp = transport(server.port, connections=4)
    first = smtp.send(emails(40))
    peers = set(mailbox.peers)
    second = smtp.send(emails(40)[::-1])
    smtp.close()

    assert len(peers) == 4
    assert mailbox.peers == peers  # the second batch reused the same four connections
    assert all(o.ok for o in first + second)
    assert len(mailbox.accepted) == 80


class BusyServer(Controller):
    """Turns away, with a 421 greeting, connections beyond `limit` open at once."""

    def __init__(self, handler: Mailbox, limit: int) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=free_port())
        self.limit = limit
        self.open = 0

    def factory(self) -> SMTP:
        controller = self

        class Limited(SMTP):
            def connection_made(self, transport: Any) -> None:
                super().connection_made(transport)
                controller.open += 1
                if controller.open > controller.limit:
                    transport.write(b"421 4.7.0 Too many connections, try later\r\n")
                    transport.close()

            def connection_lost(self, error: Exception | None) -> None:
                controller.open -= 1
                super().connection_lost(error)

        return Limited(self.handler)


def test_a_server_allowing_fewer_connections_gets_everything_over_those_it_allows(
    mailbox: Mailbox,
) -> None:
    busy = BusyServer(mailbox, limit=2)
    busy.start()
    try:
        outcomes = transport(busy.port, connections=4).send(emails(30))
    finally:
        busy.stop()
    assert all(o.ok for o in outcomes)
    assert_each_once(mailbox, outcomes, 30)
    assert len(mailbox.peers) <= 2


def test_an_unreachable_server_raises_before_anything_is_sent() -> None:
    with pytest.raises(DeliveryError, match=r"cannot reach the SMTP server 127\.0\.0\.1:\d+"):
        transport(free_port()).send(emails(3))


class Gate:
    """An authenticator that lets `logins` more logins in, then refuses every one."""

    def __init__(self) -> None:
        self.logins = 1

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins -= 1
        return AuthResult(success=self.logins >= 0, handled=False)


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def gated_server(mailbox: Mailbox, gate: Gate) -> Iterator[Controller]:
    """A server whose logins the test opens and closes (AUTH over plain text: tests only)."""
    with running(mailbox, authenticator=gate, auth_required=True, auth_require_tls=False) as c:
        yield c


def test_refusals_of_a_message_itself_are_retried_or_recorded_and_a_421_closes(
    server: Controller, mailbox: Mailbox
) -> None:
    mailbox.data_replies = {
        2: "451 4.3.0 Try again later",
        3: "554 5.7.1 Message refused",
        4: "421 4.4.2 Closing connection, try later",
    }
    outcomes = transport(server.port, connections=1).send(emails(6))

    assert_each_once(mailbox, outcomes, 6)
    assert [o.ok for o in outcomes] == [True, True, False, True, True, True]
    assert outcomes[2].detail == "554 5.7.1 Message refused"
    assert mailbox.datas == 8  # the two temporary refusals, then again
    assert len(mailbox.peers) == 2  # the 421 closed the first connection


def test_a_server_that_stops_taking_us_mid_batch_keeps_the_rest_due(
    gated_server: Controller, mailbox: Mailbox, gate: Gate
) -> None:
    mailbox.drop_on_data = {3}  # then the login is refused: retrying cannot help
    smtp = transport(gated_server.port, connections=1, username="org", password="pw")
    with pytest.raises(PartialDelivery, match="3 of 5 emails not sent; they stay due") as partial:
        smtp.send(emails(5))
    assert [(o.supporter_id, o.ok) for o in partial.value.outcomes] == [(0, True), (1, True)]
    assert "refused the login of org: 535" in str(partial.value)

    gate.logins, mailbox.drop_on_data = 1, {4}  # this time the first message is cut off
    with pytest.raises(DeliveryError, match="refused the login of org: 535") as refused:
        transport(gated_server.port, connections=1, username="org", password="pw").send(emails(5))
    assert not isinstance(refused.value, PartialDelivery)
    assert sorted(mailbox.recipients()) == ["p0@example.net", "p1@example.net"]


def test_a_rate_limit_spaces_messages_out() -> None:
    slept: list[float] = []
    with running(Mailbox()) as controller:
        smtp = transport(
            controller.port,
            connections=2,
            rate_per_minute=600.0,
            sleep=slept.append,
            monotonic=lambda: 100.0,  # time stands still: every wait is the pacer's
        )
        smtp.send(emails(5))
    assert sorted(round(s, 6) for s in slept) == [0.1, 0.2, 0.3, 0.4]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SMTP_HOST is required"),
        ({"SMTP_HOST": "mail", "SMTP_SECURITY": "tls"}, "SMTP_SECURITY must be one of"),
        ({"SMTP_HOST": "mail", "SMTP_PORT": "smtp"}, "SMTP_PORT must be a positive number"),
        ({"SMTP_HOST": "mail", "OUTREACH_SMTP_CONNECTIONS": "0"}, "OUTREACH_SMTP_CONNECTIONS"),
        ({"SMTP_HOST": "mail", "SMTP_USERNAME": "org"}, "SMTP_PASSWORD is required"),
        ({"SMTP_HOST": "mail", "OUTREACH_SMTP_CA_FILE": "/nonexistent"}, "not found"),
    ],
)
def test_bad_settings_are_user_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(OutreachError, match=message):
        SmtpConfig.from_settings(Settings.from_env(env))


def test_settings_are_read_with_their_defaults() -> None:
    config = SmtpConfig.from_settings(
        Settings.from_env(
            {"SMTP_HOST": "smtp.example.org", "SMTP_USERNAME": "org", "SMTP_PASSWORD": "pw"}
        )
    )
    assert (config.port, config.security, config.connections, config.rate_per_minute) == (
        587,
        "starttls",
        4,
        None,
    )
    assert "pw" not in repr(config)


def demo_dispatcher(url: str, smtp: SmtpTransport, tmp_path: Path) -> Dispatcher:
    """Dispatch of the demo campaign to its 50 example supporters, in batches of 10."""
    schedule = load_schedule(REPO / "schedules.yaml")
    dispatcher = Dispatcher(
        engine=open_database(url),
        schedule=schedule,
        renderer=Renderer(schedule, REPO / "templates"),
        email_transport=smtp,
        post_transport=OutboxPostTransport(tmp_path / "outbox", lambda: NOW),
        signer=TokenSigner("test-secret"),
        public_url="https://act.example.org",
        chunk_size=10,
    )
    with (REPO / "examples" / "supporters.csv").open(encoding="utf-8", newline="") as handle:
        import_supporters(dispatcher.engine, parse_supporters(handle, "supporters.csv"), NOW)
    return dispatcher


def _id_of(dispatcher: Dispatcher, email: str) -> int:
    with dispatcher.engine.connect() as conn:
        query = select(supporters.c.id).where(supporters.c.email == email)
        return int(conn.execute(query).scalar_one())


def ledger_states(dispatcher: Dispatcher) -> Counter[str]:
    with dispatcher.engine.connect() as conn:
        query = select(ledger_table.c.state).where(ledger_table.c.channel == "email")
        return Counter(conn.execute(query).scalars())


def test_dispatch_over_smtp_records_each_supporter_once_through_faults(
    database_url: str, server: Controller, mailbox: Mailbox, tmp_path: Path
) -> None:
    mailbox.scripts = {
        "amelie.tremblay@example.org": ["550 5.1.1 <amelie.tremblay@example.org>: unknown"],
        "fiona.macdonald@example.org": ["451 4.7.1 Greylisted, try again"],
    }
    mailbox.drop_on_data = {5, 30}
    dispatcher = demo_dispatcher(database_url, transport(server.port, connections=3), tmp_path)

    report = dispatcher.run_once(NOW)
    again = dispatcher.run_once(NOW)
    dispatcher.email_transport.close()

    assert (report.sent, report.failed, again.sent) == (48, 1, 0)
    assert report.sends[0].failures == [
        f"supporter {_id_of(dispatcher, 'amelie.tremblay@example.org')}: "
        "550 5.1.1 <amelie.tremblay@example.org>: unknown"
    ]
    got = mailbox.recipients()
    assert len(got) == 48 and set(got.values()) == {1}
    assert "amelie.tremblay@example.org" not in got
    assert ledger_states(dispatcher) == {ledger.SENT: 48, ledger.FAILED: 1}


def test_an_outage_mid_run_loses_nothing_and_the_next_run_sends_the_rest_once(
    database_url: str, gated_server: Controller, mailbox: Mailbox, gate: Gate, tmp_path: Path
) -> None:
    mailbox.drop_on_data = {15}  # in the second batch; then every login is refused
    smtp = transport(gated_server.port, connections=1, username="org", password="pw")
    dispatcher = demo_dispatcher(database_url, smtp, tmp_path)

    with pytest.raises(PartialDelivery):
        dispatcher.run_once(NOW)
    assert ledger_states(dispatcher) == {ledger.SENT: 14}  # the rest stays due, none uncertain
    assert ledger.uncertain_batches(dispatcher.engine) == []

    gate.logins = 10  # the server takes us again
    report = dispatcher.run_once(NOW)
    smtp.close()

    assert report.sent == 49 - 14
    got = mailbox.recipients()
    assert len(got) == 49 and set(got.values()) == {1}
    assert ledger_states(dispatcher) == {ledger.SENT: 49}


def test_the_cli_sends_the_demo_over_smtp(
    server: Controller, mailbox: Mailbox, tmp_path: Path
) -> None:
    copy_demo(tmp_path)
    (tmp_path / ".env").write_text(
        "OUTREACH_EMAIL_TRANSPORT=smtp\n"
        "OUTREACH_SECRET_KEY=a-test-secret-of-at-least-32-bytes\n"
        "OUTREACH_PUBLIC_URL=https://act.example.org\n"
        "SMTP_HOST=127.0.0.1\n"
        f"SMTP_PORT={server.port}\n"
        "SMTP_SECURITY=none\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}

    def outreach(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "outreach.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    outreach("supporters", "import", "examples/supporters.csv")
    run = outreach("run", "--once", "--now", "2018-03-02T04:00:00Z")

    assert "mexico-refugees / two-weeks-before: sent 49" in run.stdout
    got = mailbox.recipients()
    assert len(got) == 49 and set(got.values()) == {1}
    assert "claire.boudreau@example.org" not in got  # her implied consent lapsed
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").rglob("*.eml"))


class EagerClientProbe(OneConnectionServer):
    """A bare SMTP server offering PIPELINING that, before answering each message's end of
    data, waits a moment to see whether the client has sent its next MAIL already."""

    def __init__(self) -> None:
        self.next_mail_before_reply: list[bool] = []
        self._unread = b""
        super().__init__()

    def converse(self, conn: socket.socket) -> None:
        conn.sendall(b"220 probe\r\n")
        while (line := self._line(conn).upper()) != b"QUIT":
            if line.startswith(b"EHLO"):
                conn.sendall(b"250-probe\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif line == b"DATA":
                conn.sendall(b"354 go on\r\n")
                while self._line(conn) != b".":
                    pass
                if not self._unread:
                    conn.settimeout(0.5)
                    with contextlib.suppress(TimeoutError):
                        self._unread = conn.recv(65536)
                    conn.settimeout(None)
                self.next_mail_before_reply.append(bool(self._unread))
                conn.sendall(b"250 queued\r\n")
            else:
                conn.sendall(b"250 ok\r\n")
        conn.sendall(b"221 bye\r\n")

    def _line(self, conn: socket.socket) -> bytes:
        while b"\r\n" not in self._unread:
            self._unread += conn.recv(65536) or b"QUIT\r\n"
        line, self._unread = self._unread.split(b"\r\n", 1)
        return line


def test_with_pipelining_each_end_of_data_goes_with_the_next_messages_commands() -> None:
    probe = EagerClientProbe()
    smtp = transport(probe.port, connections=1)
    outcomes = smtp.send(emails(5))
    smtp.close()
    probe.stop()

    assert all(o.ok for o in outcomes)
    # one round trip a message: the next MAIL is there before each reply, but the last's
    assert probe.next_mail_before_reply == [True, True, True, True, False]
