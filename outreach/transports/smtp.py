"""The SMTP transport: several reused connections in parallel, retries, an optional pace.

Each email is one SMTP transaction (MAIL, RCPT, DATA) carrying exactly the bytes the
outbox writes. A batch is shared by up to `connections` worker threads, each with its own
connection, kept open for the next batch. With PIPELINING (and no pace), a message's end of
data goes in one write with the next message's commands.

- 2xx after DATA: accepted, recorded with the server's reply (it names the queue id).
- 5xx for a recipient: that recipient failed, with the server's reply.
- 4xx, 421, a dropped connection: the message goes back in the queue and is tried again
  after a backoff, on a fresh connection if need be, at most `ATTEMPTS` times.
- The login refused, TLS failing, the server unreachable (after retries): `DeliveryError`
  when no email of the batch was handled, so dispatch releases the whole batch; else
  `PartialDelivery`, so dispatch records what was and releases the rest. Nothing is lost.

A message is tried again only when the server never said 2xx to its DATA. If the
connection drops after the message was sent but before the reply, the server may have
kept it; sending it again is the usual SMTP practice (a rare duplicate beats a loss).
"""

from __future__ import annotations

import contextlib
import heapq
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from outreach.config import Settings
from outreach.errors import DeliveryError
from outreach.messages import Outcome, OutgoingEmail
from outreach.transports.base import PartialDelivery
from outreach.transports.mime import wire_bytes
from outreach.transports.retry import backoff_delay
from outreach.transports.smtp_config import SmtpConfig
from outreach.transports.smtp_transaction import (
    END_OF_DATA,
    commands,
    envelope_refusal,
    envelope_safe,
    mail_options,
    transaction,
)

ATTEMPTS = 5
"""Tries per message (first send included) before a temporary failure is recorded."""
TIMEOUT = 60.0
"""Seconds to wait for the server before counting the connection as dropped."""
IDLE_LIMIT = 30.0
"""Seconds a connection may wait between batches before it is closed rather than reused."""
_DROPPED = (smtplib.SMTPServerDisconnected, OSError)


class _Unreachable(DeliveryError):
    """No connection after every retry; another worker's connection may still be fine."""


def smtp_data(email: OutgoingEmail, date: datetime) -> bytes:
    """The email's bytes as DATA carries them: the outbox's, dot-stuffed."""
    return wire_bytes(email, date, dot_stuffed=True)


class _Pacer:
    """Spaces messages out to at most `per_minute`, across all connections."""

    def __init__(self, per_minute: float, monotonic: Callable[[], float]) -> None:
        self._interval = 60.0 / per_minute
        self._monotonic = monotonic
        self._next = 0.0
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Take the next free slot; returns how long to wait for it."""
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        return slot - now


@dataclass(order=True)
class _Job:
    not_before: float
    index: int
    email: OutgoingEmail = field(compare=False)
    data: bytes | None = field(default=None, compare=False, repr=False)
    """The message's bytes, built by the worker that takes it first (while others wait on
    the network)."""
    options: list[str] = field(default_factory=list, compare=False)
    """Its MAIL FROM parameters on the connection that takes it."""
    attempts: int = field(default=0, compare=False)


class _Batch:
    """The messages of one `send` call, shared by the workers (thread-safe)."""

    def __init__(self, jobs: list[_Job], date: datetime) -> None:
        self._heap = jobs
        self.date = date
        self.outcomes: dict[int, Outcome] = {}
        self.reason = ""
        self._aborted = False
        self._lock = threading.Lock()

    def take(self) -> _Job | None:
        """The message due first, or None when none is left (or the batch was aborted)."""
        with self._lock:
            return None if self._aborted or not self._heap else heapq.heappop(self._heap)

    def put_back(self, job: _Job) -> None:
        """Queue a message again (its `not_before` says when)."""
        with self._lock:
            heapq.heappush(self._heap, job)

    def done(self, job: _Job, outcome: Outcome) -> None:
        """The server's last word on a message."""
        with self._lock:
            self.outcomes[job.index] = outcome

    def give_up(self, reason: str, *, everyone: bool) -> None:
        """A worker stops; with `everyone`, all do (retrying cannot help)."""
        with self._lock:
            self._aborted = self._aborted or everyone
            self.reason = reason

    def left(self) -> list[_Job]:
        """The messages no worker could hand over."""
        with self._lock:
            jobs, self._heap = self._heap, []
            return jobs


class SmtpTransport:
    """Sends each email as its own SMTP transaction over a few reused connections."""

    name = "smtp"
    batch_size = 200
    schedules_ahead = timedelta(0)

    def __init__(
        self,
        config: SmtpConfig,
        clock: Callable[[], datetime],
        *,
        context: ssl.SSLContext | None = None,
        encode: Callable[[OutgoingEmail, datetime], bytes] = smtp_data,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._encode = encode
        self._context = context or ssl.create_default_context(
            cafile=str(config.ca_file) if config.ca_file else None
        )
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._monotonic = monotonic
        self._pacer = _Pacer(config.rate_per_minute, monotonic) if config.rate_per_minute else None
        self._idle: list[tuple[float, smtplib.SMTP]] = []
        self._idle_lock = threading.Lock()
        self._workers = ThreadPoolExecutor(config.connections, thread_name_prefix="smtp")

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime]) -> SmtpTransport:
        """The transport the settings describe."""
        return cls(SmtpConfig.from_settings(settings), clock)

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        """Hand every email to the server; one outcome per email, in order."""
        if not emails:
            return []
        connections = self._reusable()
        if not connections:
            connections = [self._connect(retries=ATTEMPTS)]  # refusals raise before any send
        batch = _Batch([_Job(0.0, i, email) for i, email in enumerate(emails)], self._clock())
        count = min(self.config.connections, len(emails))
        starts = connections[:count] + [None] * (count - len(connections))
        self._keep(connections[count:])
        for future in [self._workers.submit(self._work, batch, conn) for conn in starts]:
            future.result()
        left = batch.left()
        if left:
            server = self.config.server
            reason = (
                batch.reason if server in batch.reason else f"SMTP server {server}: {batch.reason}"
            )
            if not batch.outcomes:
                raise DeliveryError(reason)
            raise PartialDelivery(
                f"{reason} ({len(left)} of {len(emails)} emails not sent; they stay due)",
                [batch.outcomes[i] for i in sorted(batch.outcomes)],
            )
        return [batch.outcomes[i] for i in range(len(emails))]

    def close(self) -> None:
        """Say QUIT on every open connection and stop the worker threads."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for _, conn in idle:
            _quit(conn)
        self._workers.shutdown()

    def _work(self, batch: _Batch, conn: smtplib.SMTP | None) -> None:
        """One worker: take messages and send them over one connection until none is left.

        A worker that has no connection yet tries once (the server may allow fewer
        connections than we would like: the others carry on); after a drop it tries again
        with backoff. It connects before it takes a message, so none is held up meanwhile.
        """
        retries = 0 if conn is None else ATTEMPTS
        while True:
            if conn is None:
                try:
                    conn = self._connect(retries)
                except _Unreachable as exc:
                    batch.give_up(str(exc), everyone=False)
                    return
                except DeliveryError as exc:  # the login or TLS refused: no worker can go on
                    batch.give_up(str(exc), everyone=True)
                    return
            retries = ATTEMPTS
            job = batch.take()
            if job is None:
                break
            wait = job.not_before - self._monotonic()
            if self._pacer is not None:
                wait = max(wait, self._pacer.delay())
            if wait > 0:
                self._sleep(wait)
            conn = self._attempt(batch, job, conn)
        self._keep([conn])

    def _attempt(self, batch: _Batch, job: _Job, conn: smtplib.SMTP) -> smtplib.SMTP | None:
        """Try one message, and with PIPELINING the messages ready after it; returns the
        connection, or None when it is no longer usable."""
        if not self._prepared(batch, job, conn):
            return conn
        if self._pacer is None and conn.has_extn("pipelining"):
            return self._pipelined(batch, job, conn)
        email = job.email
        assert job.data is not None
        try:
            code, reply = transaction(conn, email.from_email, email.to_email, job.options, job.data)
        except _DROPPED as exc:
            self._retry(batch, job, f"connection lost: {exc or type(exc).__name__}")
            _close(conn)
            return None
        if not self._settle(batch, job, code, reply):
            _close(conn)
            return None
        if 200 <= code < 300:
            return conn
        try:
            conn.rset()
        except _DROPPED:
            _close(conn)
            return None
        return conn

    def _pipelined(self, batch: _Batch, job: _Job, conn: smtplib.SMTP) -> smtplib.SMTP | None:
        """Send messages while any is ready, each one's end of data in one write with the next
        one's MAIL, RCPT and DATA (RFC 2920): one round trip a message.

        `pending` has been sent whole, its reply not read yet; `current` has had its
        commands sent. If the connection drops, both are tried again.
        """
        pending: _Job | None = None
        current: _Job | None = job
        try:
            conn.send(_commands(job))
            while pending is not None or current is not None:
                if pending is not None:
                    code, reply = conn.getreply()
                    sent, pending = pending, None
                    if not self._settle(batch, sent, code, reply):
                        if current is not None:  # its commands met a closing connection
                            batch.put_back(current)
                        _close(conn)
                        return None
                if current is None:
                    break
                refusal = envelope_refusal(conn)
                if refusal is not None:
                    refused, current = current, None
                    if not self._settle(batch, refused, *refusal):
                        _close(conn)
                        return None
                    conn.rset()
                    current = self._ready(batch, conn)
                    if current is not None:
                        conn.send(_commands(current))
                    continue
                pending, current = current, self._ready(batch, conn)
                assert pending.data is not None
                then = b"" if current is None else _commands(current)
                conn.send(pending.data + END_OF_DATA + then)
        except _DROPPED as exc:
            for unsettled in (pending, current):
                if unsettled is not None:
                    self._retry(batch, unsettled, f"connection lost: {exc or type(exc).__name__}")
            _close(conn)
            return None
        return conn

    def _ready(self, batch: _Batch, conn: smtplib.SMTP) -> _Job | None:
        """The next message that may go at once on `conn`, prepared (None: none is ready)."""
        while (job := batch.take()) is not None:
            if job.not_before > self._monotonic():
                batch.put_back(job)
                return None
            if self._prepared(batch, job, conn):
                return job
        return None

    def _prepared(self, batch: _Batch, job: _Job, conn: smtplib.SMTP) -> bool:
        """Build the message's bytes and MAIL parameters; False (and recorded failed) when its
        addresses cannot go over SMTP, or over this server."""
        email = job.email
        if not (envelope_safe(email.from_email) and envelope_safe(email.to_email)):
            reason = f"not an address SMTP can carry: {email.to_email!r}"
            batch.done(job, Outcome(email.supporter_id, False, reason))
            return False
        if job.data is None:
            job.data = self._encode(email, batch.date)
        options = mail_options(conn, email.from_email + email.to_email, job.data)
        if options is None:
            reason = "the server does not accept non-ASCII addresses (no SMTPUTF8)"
            batch.done(job, Outcome(email.supporter_id, False, reason))
            return False
        job.options = options
        return True

    def _settle(self, batch: _Batch, job: _Job, code: int, reply: bytes) -> bool:
        """Record the server's word on a message (a temporary failure: tried again later);
        False when the server is closing the connection (421)."""
        text = _reply(code, reply)
        if 200 <= code < 300:
            batch.done(job, Outcome(job.email.supporter_id, True, text))
        elif code >= 500 or code < 400:
            batch.done(job, Outcome(job.email.supporter_id, False, text))
        else:
            self._retry(batch, job, text)
        return code != 421

    def _retry(self, batch: _Batch, job: _Job, reason: str) -> None:
        """Queue a message again after a backoff, or record it failed after `ATTEMPTS`."""
        job.attempts += 1
        if job.attempts >= ATTEMPTS:
            detail = f"{reason} (gave up after {ATTEMPTS} attempts)"
            batch.done(job, Outcome(job.email.supporter_id, False, detail))
            return
        delay = backoff_delay(job.attempts - 1, self._base_delay, self._max_delay)
        job.not_before = self._monotonic() + delay
        batch.put_back(job)

    def _connect(self, retries: int) -> smtplib.SMTP:
        """A ready connection (secured, logged in); `DeliveryError` when none can be had."""
        config = self.config
        for attempt in range(retries + 1):
            try:
                return _open(config, self._context)
            except smtplib.SMTPAuthenticationError as exc:
                if exc.smtp_code < 500:
                    reason = f"login failed for now: {_reply(exc.smtp_code, exc.smtp_error)}"
                else:
                    raise DeliveryError(
                        f"the SMTP server {config.server} refused the login of "
                        f"{config.username}: {_reply(exc.smtp_code, exc.smtp_error)}"
                    ) from None
            except ssl.SSLError as exc:
                raise DeliveryError(
                    f"TLS with the SMTP server {config.server} failed: {exc.reason or exc} "
                    "(check SMTP_SECURITY; OUTREACH_SMTP_CA_FILE trusts a private CA)"
                ) from None
            except smtplib.SMTPNotSupportedError as exc:
                raise DeliveryError(f"the SMTP server {config.server}: {exc}") from None
            except smtplib.SMTPResponseException as exc:
                reason = _reply(exc.smtp_code, exc.smtp_error)
                if exc.smtp_code >= 500:
                    raise DeliveryError(f"the SMTP server {config.server}: {reason}") from None
            except smtplib.SMTPException as exc:
                raise DeliveryError(f"the SMTP server {config.server}: {exc}") from None
            except OSError as exc:
                reason = str(exc) or type(exc).__name__
            if attempt < retries:
                self._sleep(backoff_delay(attempt, self._base_delay, self._max_delay))
        raise _Unreachable(f"cannot reach the SMTP server {config.server}: {reason}")

    def _keep(self, connections: Sequence[smtplib.SMTP]) -> None:
        """Keep connections open for the next batch."""
        now = self._monotonic()
        with self._idle_lock:
            self._idle.extend((now, conn) for conn in connections)

    def _reusable(self) -> list[smtplib.SMTP]:
        """The kept connections, but for those idle so long the server may have dropped them."""
        now = self._monotonic()
        with self._idle_lock:
            idle, self._idle = self._idle, []
        fresh = [conn for since, conn in idle if now - since < IDLE_LIMIT]
        for since, conn in idle:
            if now - since >= IDLE_LIMIT:
                _quit(conn)
        return fresh


def _open(config: SmtpConfig, context: ssl.SSLContext) -> smtplib.SMTP:
    conn: smtplib.SMTP
    if config.security == "ssl":
        conn = smtplib.SMTP_SSL(config.host, config.port, timeout=TIMEOUT, context=context)
    else:
        conn = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT)
    try:
        conn.ehlo()
        if config.security == "starttls":
            conn.starttls(context=context)
            conn.ehlo()
        if config.username and config.password:
            conn.login(config.username, config.password)
    except BaseException:
        _close(conn)
        raise
    return conn


def _commands(job: _Job) -> bytes:
    return commands(job.email.from_email, job.email.to_email, job.options)


def _bytes(text: bytes | str) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


def _reply(code: int, text: bytes | str) -> str:
    """A server reply as one line of text, as recorded in the ledger."""
    return f"{code} {_bytes(text).decode('utf-8', 'replace')}".strip()


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        _close(conn)


def _close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()
