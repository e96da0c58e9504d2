"""`outreach run`: the worker, or `--once` everything due now."""

from __future__ import annotations

import sys

import click

from outreach.app import App
from outreach.cli.context import NOW_HELP, pass_app
from outreach.cli.progress import RichProgress
from outreach.clock import parse_now
from outreach.delivery.results import RunReport
from outreach.errors import DeliveryError, OutreachError
from outreach.store import ledger
from outreach.store.campaign_version import differing_version
from outreach.store.requeue import requeue_failed
from outreach.worker.agreement import differs_message
from outreach.worker.reload import campaign_digest
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
    "--retry-failed",
    is_flag=True,
    help="Make failed emails due again (with --once), then send them.",
)
@click.option(
    "--reminder",
    "retry_reminder",
    metavar="R",
    help="With --retry-failed: only the failed emails of reminder R.",
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
    retry_failed: bool,
    retry_reminder: str | None,
    sweep_seconds: int,
) -> None:
    """The worker (until SIGTERM; SIGHUP reloads); `--once` sends what is due and exits."""
    if not once:
        if dry_run:
            raise OutreachError("--dry-run works with --once only")
        from outreach.worker.scheduler import run_forever  # APScheduler: not for --once

        run_forever(
            app, sweep_seconds=sweep_seconds, start=now_text, resend_uncertain=resend_uncertain
        )
        return
    if retry_reminder is not None and not retry_failed:
        raise OutreachError("--reminder works with --retry-failed only")
    if retry_failed and (not once or dry_run):
        raise OutreachError("--retry-failed works with --once only, not with --dry-run")
    now = parse_now(now_text, app.schedule.timezone)
    if not dry_run:  # the leader publishes its campaign; a follower's must be the same
        differing = differing_version(app.engine, campaign_digest(app.settings))
        if differing is not None:
            raise DeliveryError(differs_message(differing))
    if retry_failed:
        count = requeue_failed(app.engine, retry_reminder)
        click.echo(f"{count} failed emails are due again.")
    with RichProgress() as progress:
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
    troubled = any(report.troubled for report in reports)
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
    if troubled and not dry_run:
        click.echo(
            "Attention: some sends failed (see above); fix the cause, then retry with "
            "`outreach run --once --retry-failed`.",
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
        if item.announcement_trouble:
            click.echo(
                f"  announcement not posted (next run tries again): {item.announcement_trouble}"
            )
        for failure in item.failures[:10]:
            click.echo(f"  failed: {failure}")
    prefix = "Dry run: nothing was sent or recorded. " if report.dry_run else ""
    click.echo(f"{prefix}Total at {stamp}: {verb} {report.sent}, failed {report.failed}.")
