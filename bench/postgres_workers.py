"""Workers sharing one PostgreSQL: N supporters sent by 1, 2 and 4 independent workers.

    python bench/postgres_workers.py --admin-url postgresql+psycopg://postgres@host/postgres
        [--supporters 400000] [--workers 1 2 4] [--transport sendgrid|outbox] [--kill]

For each worker count, a fresh database is made on the server of --admin-url and filled with
the synthetic supporters of `sendgrid_throughput.py`; then that many worker processes (each
like `outreach run --once` on its own host: one process, its own lease, no shards) send the
demo's due reminder at once, to the local SendGrid server or to the outbox. They divide the
audience through the ledger's claims (`FOR UPDATE SKIP LOCKED`). Printed: wall time,
emails/s, HTTP requests, and each worker's emails and peak RSS.

With --kill, the first worker is killed (SIGKILL) once a quarter of the audience is sent;
the others finish, and the figures show what became of its batch: uncertain once its lease
(OUTREACH_LEASE_SECONDS, set to 5 here) ran out, then sent by `--resend-uncertain`. Nothing
is lost; at most that batch goes twice. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sendgrid_throughput import API_KEY, NOW, REPO, SERVER, fill_store

from outreach.campaign.loader import load_schedule
from outreach.delivery.dispatch import Dispatcher
from outreach.rendering.renderer import Renderer
from outreach.store import ledger
from outreach.store.db import open_database
from outreach.store.schema import ledger as ledger_table
from outreach.tokens import TokenSigner
from outreach.transports.base import EmailTransport
from outreach.transports.outbox import OutboxEmailTransport, OutboxPostTransport
from outreach.transports.sendgrid import SendGridTransport

_FORK = multiprocessing.get_context("fork")


def _dispatcher(url: str, transport: EmailTransport, folder: Path) -> Dispatcher:
    schedule = load_schedule(REPO / "schedules.yaml")
    return Dispatcher(
        engine=open_database(url),
        schedule=schedule,
        renderer=Renderer(schedule, REPO / "templates"),
        email_transport=transport,
        post_transport=OutboxPostTransport(folder / "outbox", lambda: NOW),
        signer=TokenSigner("bench-secret"),
        public_url="https://act.example.org",
        processes=1,
    )


def _worker(url: str, make: Callable[[], EmailTransport], folder: Path, out: Any) -> None:
    """One worker: send what is due, then say how much and at what peak memory."""
    report = _dispatcher(url, make(), folder).run_once(NOW)
    out.put((os.getpid(), report.sent, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _sent(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).where(
                ledger_table.c.state == ledger.SENT, ledger_table.c.channel == "email"
            )
        ).scalar_one()
    engine.dispose()
    return int(count)


def _fresh_database(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{admin_url.rpartition('/')[0]}/{name}"


def run(args: argparse.Namespace, workers: int, make: Callable[[], EmailTransport]) -> None:
    """One round: fill, send with `workers` processes, print the figures."""
    url = _fresh_database(args.admin_url, "outreach_bench_workers")
    filler = _FORK.Process(target=fill_store, args=(url, args.supporters))
    filler.start()
    filler.join()
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        out: Any = _FORK.Queue()
        started = time.perf_counter()
        procs = [
            _FORK.Process(target=_worker, args=(url, make, Path(tmp), out)) for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        if args.kill:
            while _sent(url) < args.supporters // 4:
                time.sleep(0.2)
            os.kill(procs[0].pid or 0, signal.SIGKILL)
        results = [out.get() for _ in range(workers - (1 if args.kill else 0))]
        for proc in procs:
            proc.join()
        seconds = time.perf_counter() - started
        sent = sum(r[1] for r in results)
        label = f"{workers} worker{'s' if workers > 1 else ''}" + (
            ", one killed" if args.kill else ""
        )
        print(f"{args.transport}, PostgreSQL, {label}: {sent:,} emails in {seconds:.1f} s "
              f"= {sent / seconds:,.0f} emails/s")  # fmt: skip
        for pid, count, rss in results:
            print(f"  worker {pid}: {count:,} emails, peak RSS {rss / 1024:.0f} MB")
        if args.kill:
            _recover(url, make, Path(tmp))


def _recover(url: str, make: Callable[[], EmailTransport], folder: Path) -> None:
    """After the kill: the dead worker's batch in hand (if it had one) is uncertain within its
    lease, then resent."""
    dispatcher = _dispatcher(url, make(), folder)
    waited = time.perf_counter()
    lease = float(os.environ["OUTREACH_LEASE_SECONDS"])
    while not (uncertain := ledger.uncertain_batches(dispatcher.engine)):
        if time.perf_counter() - waited > lease + 2:  # it died between two batches
            break
        time.sleep(0.2)
    count = sum(len(b.supporter_ids) for b in uncertain)
    print(f"  uncertain after {time.perf_counter() - waited:.1f} s: {count} (its batch in hand)")
    resent = dispatcher.resend_uncertain(NOW)
    print(f"  resent on request: {sum(s.sent for s in resent.sends)}; sent in all: {_sent(url):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", required=True, help="a PostgreSQL server's database")
    parser.add_argument("--supporters", type=int, default=400_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--transport", choices=["sendgrid", "outbox"], default="sendgrid")
    parser.add_argument("--kill", action="store_true", help="kill one worker mid-run")
    args = parser.parse_args()
    os.environ.setdefault("OUTREACH_LEASE_SECONDS", "5")
    server = subprocess.Popen(
        [sys.executable, SERVER, "--api-key", API_KEY, "--validate-every", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        host = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory(prefix="outreach-outbox-") as outbox:
            make: Callable[[], EmailTransport] = (
                (lambda: SendGridTransport(API_KEY, clock=lambda: NOW, host=host))
                if args.transport == "sendgrid"
                else (lambda: OutboxEmailTransport(Path(outbox), lambda: NOW))
            )
            for workers in args.workers:
                before = _requests(host)
                run(args, workers, make)
                if args.transport == "sendgrid":
                    print(f"  {_requests(host) - before} HTTP requests")
    finally:
        server.terminate()
        server.wait()


def _requests(host: str) -> int:
    with urllib.request.urlopen(f"{host}/stats") as response:
        return int(json.load(response)["requests"])


if __name__ == "__main__":
    main()
