"""SendGrid throughput: N personalized emails through outreach's real path to a local SendGrid.

    python bench/sendgrid_throughput.py [--supporters 100000] [--validate-every 10]
                                        [--validate-while-sending] [--latency 0]
                                        [--outbox-supporters 10000] [--database-url URL]
                                        [--campaign demo|personalized|both] [--repeat 1]
                                        [--profile]

A child process fills a fresh store (SQLite in a temporary folder, or --database-url) with N
synthetic supporters: 70% English, 30% French (three in every ten), first and last names and
cities drawn from short lists (one in ten without a city), a `member_since` field, every
province. This process then runs the campaign's due reminder (two weeks before the dialogue:
letter-reminder; `bench/fixtures.py` describes the demo and the personalized campaign) with
the real Dispatcher, store, ledger, renderer and SendGrid transport, against the local server
of tests/integration/sendgrid_server.py, run in its own process (so that it takes none of this
one's CPU time or GIL). That server
answers 202 at once and keeps one body in --validate-every (default 10) to validate against
the OpenAPI contract once the clock has stopped: jsonschema takes ~0.4 s of CPU for 1,000
personalizations, longer than outreach takes to build them, and this machine has two cores,
while SendGrid checks bodies on machines of its own. The figures printed wait until every
kept body is checked. `--validate-while-sending` validates them as they come instead, in a
thread of the server's, as the README's figures before December 2026 were taken (it takes
about a fifth of the machine). `--latency` has the server take that many seconds to
answer each request, as SendGrid does across the internet.

It prints messages per second, HTTP requests, personalizations per request, renderings
(shared ones, and emails rendered alone) and this process's peak RSS, then the same run
through the outbox transport for a smaller N. `--campaign both` (the default) runs each
campaign in a process of its own (so that each has its own peak RSS), taking turns
`--repeat` times. `--profile` wraps the SendGrid run in pyinstrument and prints where the
time goes. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from counting import count_renderings, describe
from fixtures import CAMPAIGNS, city, copy_campaign, member_since
from sqlalchemy import text

from outreach.campaign.loader import load_schedule
from outreach.delivery.dispatch import Dispatcher
from outreach.rendering.renderer import Renderer
from outreach.store.db import open_database
from outreach.store.schema import supporters
from outreach.supporters.regions import ZONES
from outreach.tokens import TokenSigner
from outreach.transports.base import EmailTransport
from outreach.transports.outbox import OutboxEmailTransport, OutboxPostTransport
from outreach.transports.sendgrid import SendGridTransport

REPO = Path(__file__).resolve().parent.parent
SERVER = REPO / "tests" / "integration" / "sendgrid_server.py"
NOW = datetime(2018, 3, 2, 4, 0, tzinfo=UTC)  # the demo's two-weeks-before is due everywhere
API_KEY = "SG.bench-key"
FIRST = ["Amélie", "Jean-François", "Fiona", "Li", "María", "Olúwadé", "Geneviève", "Ahmed"]
LAST = ["Tremblay", "MacDonald", "Nguyen", "Santos", "Côté", "O'Brien", "Singh", "Roy"]


def fill_store(url: str, count: int) -> None:
    """`count` synthetic supporters, inserted in bulk (setup, not measured)."""
    engine = open_database(url)
    draw = random.Random(2018)
    regions = sorted(ZONES)
    with engine.begin() as conn:
        for start in range(0, count, 10_000):
            rows = []
            for n in range(start, min(count, start + 10_000)):
                region = draw.choice(regions)
                rows.append(
                    {
                        "email": f"supporter{n}@example.org",
                        "address_key": f"supporter{n}@example.org",
                        "first_name": draw.choice(FIRST),
                        "last_name": draw.choice(LAST),
                        "city": city(n),
                        "fields": json.dumps({"member_since": member_since(n)}),
                        "region": region,
                        "language": "fr" if n % 10 < 3 else "en",
                        "timezone": ZONES[region],
                        "consent": "express",
                        "consent_date": date(2017, 1, 1),
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                )
            conn.execute(supporters.insert(), rows)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))  # as autovacuum would have, long before a real send
    engine.dispose()


def prepared_store(url: str, count: int) -> None:
    """Fill the store in a child process, so its memory is not counted as this one's."""
    child = multiprocessing.get_context("fork").Process(target=fill_store, args=(url, count))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"filling the store failed ({child.exitcode})")


def dispatch(
    url: str,
    transport: Callable[[], EmailTransport],
    folder: Path,
    processes: int,
    campaign: tuple[Path, Path],
) -> tuple[int, float]:
    """Run the due reminder of `campaign` (schedules, templates) through `transport()` in
    `processes` processes, as `outreach run` does: (emails sent, seconds)."""
    schedule = load_schedule(campaign[0])
    dispatcher = Dispatcher(
        engine=open_database(url),
        schedule=schedule,
        renderer=Renderer(schedule, campaign[1]),
        email_transport=transport(),
        post_transport=OutboxPostTransport(folder / "outbox", lambda: NOW),
        signer=TokenSigner("bench-secret"),
        public_url="https://act.example.org",
        processes=processes,
        helper_parts=lambda: (open_database(url), transport()),
    )
    started, cpu = time.perf_counter(), time.process_time()
    report = dispatcher.run_once(NOW)
    seconds = time.perf_counter() - started
    print(f"  ({time.process_time() - cpu:.1f} s of CPU time in this process)")
    return report.sent, seconds


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """The peak resident memory so far of this process (or of the largest child), in MB."""
    return resource.getrusage(who).ru_maxrss / 1024


def _forwarded(arguments: list[str]) -> list[str]:
    """The command line without its `--campaign` option (as `--campaign X` or `--campaign=X`)."""
    kept, skip = [], False
    for argument in arguments:
        if skip:
            skip = False
        elif argument == "--campaign":
            skip = True
        elif not argument.startswith("--campaign="):
            kept.append(argument)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--supporters", type=int, default=100_000)
    parser.add_argument("--validate-every", type=int, default=10)
    parser.add_argument(
        "--validate-while-sending",
        action="store_true",
        help="validate the kept bodies as they come, not once the clock has stopped",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the server takes to answer a request"
    )
    parser.add_argument("--outbox-supporters", type=int, default=10_000, help="0: no outbox run")
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--profile", action="store_true", help="profile with pyinstrument")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--campaign", choices=[*CAMPAIGNS, "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="turns of each campaign (both)")
    args = parser.parse_args()
    if args.campaign != "both":
        run_campaign(args)
        return
    for turn in range(args.repeat):  # each in a process of its own, taking turns
        for campaign in CAMPAIGNS:
            print(f"== {campaign} (turn {turn + 1} of {args.repeat})", flush=True)
            command = [sys.executable, __file__, *_forwarded(sys.argv[1:]), "--campaign", campaign]
            subprocess.run(command, check=True)


def run_campaign(args: argparse.Namespace) -> None:
    """One campaign: SendGrid for --supporters, then the outbox for --outbox-supporters."""
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        folder = Path(tmp)
        campaign = copy_campaign(args.campaign, folder / "campaign")
        url = args.database_url or f"sqlite:///{folder / 'sendgrid.db'}"
        prepared_store(url, args.supporters)
        server = subprocess.Popen(
            [
                sys.executable,
                SERVER,
                "--api-key",
                API_KEY,
                "--validate-every",
                f"{args.validate_every}",
                "--latency",
                f"{args.latency}",
                *(["--validate-during"] if args.validate_while_sending else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        renderings = count_renderings()
        try:
            assert server.stdout is not None
            host = f"http://127.0.0.1:{server.stdout.readline().strip()}"
            profiler = _profiler() if args.profile else None
            sent, seconds = dispatch(
                url,
                lambda: SendGridTransport(API_KEY, clock=lambda: NOW, host=host),
                folder,
                args.processes,
                campaign,
            )
            if profiler is not None:
                profiler.stop()
            with urllib.request.urlopen(f"{host}/stats") as response:
                stats = json.load(response)
        finally:
            server.terminate()
            server.wait()
        rss = peak_rss_mb()
        print(
            f"SendGrid, {args.campaign} campaign, {args.processes} processes: {sent} emails in "
            f"{seconds:.1f} s = {sent / seconds:,.0f} emails/s"
        )
        print(
            f"  {stats['requests']} HTTP requests, "
            f"{stats['personalizations'] / max(1, stats['requests']):.0f} personalizations each, "
            f"{stats['validated']} validated against the contract, {stats['invalid']} invalid"
        )
        print(f"  {describe(renderings())} (alone: including each group's check)")
        children = peak_rss_mb(resource.RUSAGE_CHILDREN)
        print(
            f"  peak RSS of the dispatching process: {rss:.0f} MB; of the largest child "
            f"(the store filler or a helper process): {children:.0f} MB"
        )
        if profiler is not None:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        if not args.outbox_supporters:
            return
        outbox_url = f"sqlite:///{folder / 'outbox.db'}"
        prepared_store(outbox_url, args.outbox_supporters)
        outbox = OutboxEmailTransport(folder / "outbox", lambda: NOW)
        sent, seconds = dispatch(outbox_url, lambda: outbox, folder, args.processes, campaign)
        print(f"Outbox: {sent} emails in {seconds:.1f} s = {sent / seconds:,.0f} emails/s")


def _profiler():  # type: ignore[no-untyped-def]
    """A running pyinstrument profiler (pip install pyinstrument)."""
    from pyinstrument import Profiler

    profiler = Profiler()
    profiler.start()
    return profiler


if __name__ == "__main__":
    main()
