"""Failures that are not the recipient's stop the batch and say so; only a refusal is `failed`."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from outreach.errors import DeliveryError
from outreach.messages import ORGANIZATION, Outcome, OutgoingEmail, OutgoingPost
from outreach.store import ledger
from outreach.store.requeue import requeue_failed
from outreach.testing import MemoryEmailTransport
from outreach.transports.outbox import OutboxEmailTransport
from tests.integration.sendgrid_server import SendGridServer, serving
from tests.integration.test_dispatch import (
    EXPECTED,
    NOW,
    _dispatcher,
    _with_demo_supporters,
)
from tests.integration.test_sendgrid import Sleeps, dispatcher, ledger_rows, transport

REMINDER = ("mexico-refugees", "two-weeks-before", "email")


def _counts(engine: object) -> dict[str, int]:
    return ledger.counts_by_reminder(engine).get(REMINDER, {})  # type: ignore[arg-type]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KB file system: room for a few emails only."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


class OutboxOn(MemoryEmailTransport):
    """The outbox transport, under dispatch's test harness."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.outbox = OutboxEmailTransport(folder, lambda: NOW)

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        return self.outbox.send(emails)


def test_a_full_disk_stops_the_batch_and_fails_nobody(
    database_url: str, tmp_path: Path, tiny_disk: Path
) -> None:
    full = _with_demo_supporters(_dispatcher(database_url, OutboxOn(tiny_disk), tmp_path))
    with pytest.raises(DeliveryError, match=r"cannot write to the outbox .*No space left"):
        full.run_once(NOW)
    written = list(tiny_disk.rglob("*.eml"))
    assert 0 < len(written) < EXPECTED
    assert list(tiny_disk.rglob("*.tmp")) == []  # no stray temporary files
    assert _counts(full.engine) == {"sent": len(written)}  # nobody failed, nothing claimed

    roomy = _dispatcher(database_url, OutboxOn(tmp_path / "roomy"), tmp_path)
    assert roomy.run_once(NOW).sent == EXPECTED - len(written)  # the rest, once
    assert _counts(roomy.engine) == {"sent": EXPECTED}


def test_an_injected_enospc_removes_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(self: Path, target: Path) -> Path:
        assert self.is_file()  # the temporary file was written, then the disk filled up
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "replace", no_space)
    outbox = OutboxEmailTransport(tmp_path, lambda: NOW)
    email = OutgoingEmail.__new__(OutgoingEmail)
    monkeypatch.setattr(outbox, "path_for", lambda _: tmp_path / "c" / "r" / "1.eml")
    monkeypatch.setattr("outreach.transports.outbox.wire_bytes", lambda *_: b"x" * 100)
    with pytest.raises(DeliveryError, match="No space left"):
        outbox.send([email])
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_sendgrid_400_about_the_sender_stops_the_batch_and_fails_nobody(
    database_url: str, tmp_path: Path
) -> None:
    state = SendGridServer()
    state.refused_senders.add("info@example.org")
    with serving(state) as url:
        dispatcher_ = dispatcher(database_url, transport(url, state.api_key, Sleeps()), tmp_path)
        with pytest.raises(DeliveryError, match=r"from address .*fix the sender"):
            dispatcher_.run_once(NOW)
        assert ledger_rows(dispatcher_) == {}
        state.refused_senders.clear()
        assert dispatcher_.run_once(NOW).sent == EXPECTED


class BrokenX:
    """An X that is down (a failed outcome) or refuses the credentials (DeliveryError)."""

    name = "x"

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.posted: list[str] = []

    def publish(self, post: OutgoingPost) -> Outcome:
        if self.refuse:
            raise DeliveryError("X refused the credentials (401)")
        return Outcome(ORGANIZATION, False, "X is over capacity (503, gave up after 4 attempts)")


@pytest.mark.parametrize("refuse", [False, True], ids=["outage", "refused-credentials"])
def test_x_trouble_fails_the_announcement_and_never_holds_back_email(
    database_url: str, tmp_path: Path, refuse: bool
) -> None:
    dispatcher_ = _with_demo_supporters(_dispatcher(database_url, MemoryEmailTransport(), tmp_path))
    good_x = dispatcher_.post_transport
    dispatcher_.post_transport = BrokenX(refuse)
    report = dispatcher_.run_once(NOW)
    assert report.sent == EXPECTED and report.troubled
    [troubled] = [s for s in report.sends if s.announcement_trouble]
    assert not troubled.announced
    dispatcher_.post_transport = good_x  # X is back: the next run posts it, once
    again = dispatcher_.run_once(NOW)
    assert any(s.announced for s in again.sends) and not again.troubled


class RefusingFirst(MemoryEmailTransport):
    """Refuses the first recipient it sees for good (their mailbox does not exist: 550)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: int | None = None

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        if self.refused is None:
            self.refused = emails[0].supporter_id
            self.reject = frozenset({self.refused})
        return super().send(emails)


def test_failed_sends_are_sent_again_only_when_requeued(database_url: str, tmp_path: Path) -> None:
    refusing = RefusingFirst()
    dispatcher_ = _with_demo_supporters(_dispatcher(database_url, refusing, tmp_path))
    report = dispatcher_.run_once(NOW)
    assert report.failed == 1 and report.troubled
    assert _dispatcher(database_url, MemoryEmailTransport(), tmp_path).run_once(NOW).sent == 0
    assert requeue_failed(dispatcher_.engine, "no-such-reminder") == 0
    assert requeue_failed(dispatcher_.engine, "two-weeks-before") == 1
    again = MemoryEmailTransport()
    assert _dispatcher(database_url, again, tmp_path).run_once(NOW).sent == 1
    assert [sid for _, sid in again.received] == [refusing.refused]
