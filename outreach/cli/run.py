"""`outreach run`: the worker, or `--once` everything due now."""

from __future__ import annotations

import sys

import click

from outreach.app import App
from outreach.cli.context import NOW_HELP, pass_app
from outreach.cli.output import RichProgress, err_console
from outreach.clock import parse_now
from outreach.delivery.results import RunReport
from outreach.errors import OutreachError
from outreach.store import ledger
from outreach.worker.scheduler import run_forever
from outreach.worker.wiring import build_dispatcher


@click.command()
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@click.option(
    "--now",
    "now_text",
    help=NOW_HELP + " The worker's clock starts there and runs at real speed.",
)
@click.option("--dry-run", is_flag=True, help="Render and count, but send and record nothing.")
@click.option(
    "--resend-uncertain",
    is_flag=True,
    help="Send again what a crashed run claimed but never recorded.",
)
@click.option(
    "--sweep",
    "sweep_seconds",
    default=60,
    show_default=True,
    type=click.IntRange(min=1),
    help="The worker looks for due sends this often (seconds).",
)
@pass_app
def run(
    app: App,
    once: bool,
    now_text: str | None,
    dry_run: bool,
    resend_uncertain: bool,
    sweep_seconds: int,
) -> None:
    """The worker (until SIGTERM; SIGHUP reloads); `--once` sends what is due and exits."""
    if not once:
        if dry_run:
            raise OutreachError("--dry-run works with --once only")
        run_forever(
            app, sweep_seconds=sweep_seconds, start=now_text, resend_uncertain=resend_uncertain
        )
        return
    now = parse_now(now_text, app.schedule.timezone)
    with RichProgress(err_console()) as progress:
        dispatcher = build_dispatcher(app, lambda: now, progress)
        reports = []
        try:
            if resend_uncertain:
                reports.append(dispatcher.resend_uncertain(now))
            reports.append(dispatcher.run_once(now, dry_run=dry_run))
        finally:
            dispatcher.email_transport.close()
    for report in reports:
        _print_run(report)
    uncertain = ledger.uncertain_batches(app.engine)
    if uncertain and not dry_run:
        count = sum(len(b.supporter_ids) for b in uncertain)
        click.echo(
            f"Attention: {count} emails in {len(uncertain)} batches are uncertain (claimed by a "
            "run that stopped before recording them). See `outreach status`; send them with "
            "`outreach run --once --resend-uncertain`.",
            err=True,
        )
        sys.exit(2)


def _print_run(report: RunReport) -> None:
    verb = "would send" if report.dry_run else "sent"
    stamp = f"{report.now:%Y-%m-%d %H:%M} UTC"
    if not report.sends:
        click.echo(f"Nothing due at {stamp}.")
        return
    for item in report.sends:
        line = f"{item.campaign} / {item.reminder}: {verb} {item.sent}"
        if item.scheduled:
            line += f" ({item.scheduled} held by the provider until their time)"
        if item.failed:
            line += f", failed {item.failed}"
        if item.announced:
            line += ", announcement " + ("drafted" if not report.dry_run else "would be drafted")
        click.echo(f"{line} ({item.seconds:.1f} s)")
        for failure in item.failures[:10]:
            click.echo(f"  failed: {failure}")
    prefix = "Dry run: nothing was sent or recorded. " if report.dry_run else ""
    click.echo(f"{prefix}Total at {stamp}: {verb} {report.sent}, failed {report.failed}.")
