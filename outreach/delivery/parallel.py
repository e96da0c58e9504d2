"""Helper processes: a large send shared out across the machine's cores.

Python runs one thread at a time, so one process composes, encodes and hands over emails
on one core. For a large send the dispatcher forks helpers; the supporters are cut into
shards by id, and the dispatcher and its helpers take shards from a shared counter until
none is left (a helper that starts late takes fewer). Each helper opens its own database
connections and its own transport: nothing open is shared across a fork. The ledger's
claims still decide who sends what, so no supporter is emailed twice whatever happens.

A helper reports progress and, at the end, what it did, over a pipe. A helper that fails
or dies leaves its unsent supporters due (claims are released or shown as uncertain,
as for any run); the dispatcher then raises `DeliveryError` naming it.

Signals: a helper ignores SIGINT and SIGHUP (the dispatcher's process decides), and takes
SIGTERM (systemd stops every process of the service) as a request to finish its batch in
hand and stop, as the dispatcher does.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import Engine

from outreach.delivery.results import ProgressReporter, SendReport
from outreach.errors import DeliveryError, OutreachError
from outreach.store.audience import Shard, shards
from outreach.store.owner import end_leases, place

log = logging.getLogger("outreach.delivery.parallel")

SHARDS_PER_PROCESS = 8
"""Enough shards that the processes finish close together."""
_FORK = multiprocessing.get_context("fork")


class StopFlag:
    """A stop request seen by the dispatcher and every helper it forks.

    A plain shared byte: setting it from a signal handler cannot deadlock.
    """

    def __init__(self) -> None:
        self._flag = _FORK.RawValue("b", 0)

    def set(self) -> None:
        """Ask everyone to stop after the batch in hand."""
        self._flag.value = 1

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return bool(self._flag.value)


def shards_from_place(engine: Engine, count: int) -> list[Shard]:
    """`count` shards of the supporters, from where this worker's place among the
    database's workers says: workers on other hosts start elsewhere in the audience and
    divide it, rather than all claiming the same supporters first."""
    index, workers = place(engine)
    with engine.connect() as conn:
        found = shards(conn, count)
    start = index * count // workers
    return found[start:] + found[:start]


class ShardCounter:
    """Hands out the shards of a send, each once, across processes."""

    def __init__(self, shards: Sequence[Shard]) -> None:
        self._shards = tuple(shards)
        self._next = _FORK.Value("i", 0)

    def __iter__(self) -> Iterator[Shard]:
        """The shards this process takes, one at a time, until none is left."""
        while (shard := self.take()) is not None:
            yield shard

    def take(self) -> Shard | None:
        """The next shard to send, or None when all are taken."""
        with self._next.get_lock():
            index = int(self._next.value)
            if index >= len(self._shards):
                return None
            self._next.value = index + 1
        return self._shards[index]


class _PipeProgress:
    """A helper's progress, sent to the dispatcher."""

    def __init__(self, pipe: Connection) -> None:
        self._pipe = pipe

    def start(self, label: str, total: int) -> None:
        """The dispatcher shows the send's total itself."""

    def advance(self, count: int) -> None:
        self._pipe.send(("advance", count))


@dataclass
class _Helper:
    process: BaseProcess
    pipe: Connection
    report: SendReport | None = None
    failure: str | None = None


Work = Callable[["ProgressReporter", StopFlag], "SendReport"]
"""What a helper does in its process: send shards until none is left or the flag is set;
what it did."""


class Helpers:
    """Forked helper processes working on one send beside the dispatcher."""

    def __init__(self, count: int, work: Work) -> None:
        self.halt = StopFlag()
        """Set: every helper finishes its batch in hand and stops."""
        self._helpers: list[_Helper] = []
        for number in range(1, count + 1):
            ours, theirs = _FORK.Pipe(duplex=False)
            process = _FORK.Process(
                target=_helper_main,
                args=(work, theirs, self.halt),
                name=f"outreach-helper-{number}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self._helpers.append(_Helper(process, ours))

    def relay(self, progress: ProgressReporter) -> None:
        """Pass on what the helpers said so far (without waiting)."""
        for helper in self._helpers:
            while helper.report is None and helper.failure is None and helper.pipe.poll():
                self._receive(helper, progress)

    def finish(self, progress: ProgressReporter, into: SendReport) -> None:
        """Wait for every helper and add what each did to `into`; `DeliveryError` if one
        failed (after all have stopped: what they sent is in `into` and the ledger)."""
        self._collect(progress)
        for helper in self._helpers:
            if helper.report is not None:
                _add(into, helper.report)
        failures = [f"{h.process.name}: {h.failure}" for h in self._helpers if h.failure]
        if failures:
            raise DeliveryError("; ".join(failures))

    def abandon(self, progress: ProgressReporter) -> None:
        """The dispatcher is failing: the helpers finish their batch in hand and stop.

        Interrupted while waiting for them (a second Ctrl-C), it ends them at once; a batch
        one was sending is then left uncertain, as after a crash.
        """
        self.halt.set()
        try:
            self._collect(progress)
        except BaseException:
            for helper in self._helpers:
                if helper.process.is_alive():
                    helper.process.terminate()
            for helper in self._helpers:
                helper.process.join()
            raise

    def _collect(self, progress: ProgressReporter) -> None:
        """Read what the helpers say until each has said what it did (or died); then reap
        them. (A helper's last words may not fit in the pipe: they must be read.)"""
        waiting = {h.pipe: h for h in self._helpers if h.report is None and h.failure is None}
        while waiting:
            for pipe in wait(list(waiting)):
                helper = waiting[pipe]  # type: ignore[index]
                self._receive(helper, progress)
                if helper.report is not None or helper.failure is not None:
                    del waiting[pipe]  # type: ignore[arg-type]
        for helper in self._helpers:
            helper.process.join()

    def _receive(self, helper: _Helper, progress: ProgressReporter) -> None:
        try:
            kind, value = helper.pipe.recv()
        except EOFError:
            helper.process.join()
            helper.failure = (
                f"stopped (exit code {helper.process.exitcode}) before saying what it sent; "
                "its unsent supporters stay due"
            )
            return
        if kind == "advance":
            progress.advance(value)
        elif kind == "done":
            helper.report = value
        else:
            helper.failure = value


def _helper_main(work: Work, pipe: Connection, halt: StopFlag) -> None:
    """A helper process: do the work, then say what was done (or why it failed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: halt.set())
    message: tuple[str, Any]
    try:
        message = ("done", work(_PipeProgress(pipe), halt))
    except (DeliveryError, OutreachError) as exc:
        message = ("failed", str(exc))
    except Exception as exc:  # reported to the dispatcher, which stops with an error
        log.exception("helper failed")
        message = ("failed", f"{type(exc).__name__}: {exc}")
    end_leases()  # what it claimed is recorded or released; anything left is uncertain now
    pipe.send(message)
    pipe.close()


def _add(into: SendReport, other: SendReport) -> None:
    into.sent += other.sent
    into.scheduled += other.scheduled
    into.failed += other.failed
    into.failures.extend(other.failures)
