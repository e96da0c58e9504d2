"""The `outreach` command line: thin commands over the app's parts.

Exit status: 0 success, 1 user error (one clear line, no traceback), 2 delivery trouble.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta

import click

from outreach.app import App
from outreach.cli_db import db
from outreach.cli_queue import queue
from outreach.cli_supporters import supporters
from outreach.cli_web import campaign, serve
from outreach.clock import parse_now
from outreach.config import Settings
from outreach.console import RichProgress, err_console, out_console, plan_table, status_table
from outreach.dispatch import RunReport, all_sends
from outreach.errors import DeliveryError, OutreachError, ProblemsError
from outreach.posts import check_templates, per_recipient_notes, share_links
from outreach.preview import preview_supporter
from outreach.reports import plan as plan_sends
from outreach.reports import status as send_status
from outreach.store import ledger

NOW_HELP = "Pretend it is this time (ISO 8601; a naive time is in the schedule's time zone)."


@click.group()
@click.version_option(package_name="outreach")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Campaign outreach as code: scheduled, bilingual email reminders with suggested posts."""
    ctx.obj = App(Settings.from_env())


pass_app = click.make_pass_decorator(App)


@cli.command()
@pass_app
def check(app: App) -> None:
    """Validate schedules.yaml and every template."""
    problems = check_templates(app.schedule, app.renderer, str(app.settings.templates))
    if problems:
        raise ProblemsError(problems)
    campaigns = len(app.schedule.campaigns)
    reminders = sum(len(c.reminders) for c in app.schedule.campaigns.values())
    templates = len(app.renderer.template_names())
    click.echo(
        f"{app.settings.schedules}: ok ({campaigns} campaigns, {reminders} reminders, "
        f"{templates} templates in {', '.join(app.schedule.languages)})"
    )
    for note in per_recipient_notes(app.renderer, str(app.settings.templates)):
        click.echo(note)


@cli.command()
@click.option("--now", "now_text", help=NOW_HELP)
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=1))
@pass_app
def plan(app: App, now_text: str | None, days: int) -> None:
    """Upcoming sends: local time, UTC window and audience size."""
    now = parse_now(now_text, app.schedule.timezone)
    planned = plan_sends(
        app.schedule,
        app.engine,
        all_sends(app.schedule, app.engine),
        now,
        now + timedelta(days=days),
    )
    if not planned:
        click.echo(f"Nothing to send between {now:%Y-%m-%d %H:%M} UTC and {days} days later.")
        return
    out_console().print(plan_table(planned))


@cli.command()
@click.argument("campaign")
@click.argument("reminder")
@click.option("--email", help="Preview for this supporter (default: a sample supporter).")
@click.option("--language", help="Preview in this language.")
@click.option("--html", "show_html", is_flag=True, help="Print the HTML part too.")
@pass_app
def preview(
    app: App,
    campaign: str,
    reminder: str,
    email: str | None,
    language: str | None,
    show_html: bool,
) -> None:
    """Show the rendered subject, text, suggested post and share links."""
    send = next(
        (
            s
            for s in all_sends(app.schedule, app.engine)
            if (s.campaign.id, s.key) == (campaign, reminder)
        ),
        None,
    )
    if send is None:
        raise OutreachError(
            f"no reminder '{reminder}' in campaign '{campaign}' (see `outreach plan`)"
        )
    supporter, zone = preview_supporter(app.engine, app.schedule, email, language)
    rendered = app.renderer.render_email(
        campaign=send.campaign,
        template=send.template,
        target_ids=send.targets,
        milestone=send.milestone,
        supporter=supporter,
        send_date=send.local_date(zone),
        unsubscribe_url=f"{app.settings.public_url}/u/{app.signer.make(supporter.id, campaign)}",
    )
    click.echo(f"To: {supporter.name} <{supporter.email}>  ({rendered.language})")
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text)
    if show_html:
        click.echo("\n--- HTML ---\n" + rendered.html)
    if rendered.post:
        click.echo(f"\n--- Suggested post ---\n{rendered.post}\n")
        for network, url in share_links(rendered.post).items():
            click.echo(f"{network}: {url}")


@cli.command()
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
        from outreach.scheduler import run_forever

        run_forever(
            app, sweep_seconds=sweep_seconds, start=now_text, resend_uncertain=resend_uncertain
        )
        return
    now = parse_now(now_text, app.schedule.timezone)
    with RichProgress(err_console()) as progress:
        dispatcher = app.dispatcher(clock=lambda: now, progress=progress)
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


@cli.command()
@click.argument("campaign", required=False)
@click.option("--now", "now_text", help=NOW_HELP)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects.")
@pass_app
def status(app: App, campaign: str | None, now_text: str | None, as_json: bool) -> None:
    """Per reminder: sent, failed, suppressed, lapsed, uncertain, sending, pending."""
    if campaign is not None and campaign not in app.schedule.campaigns:
        raise OutreachError(f"no campaign '{campaign}' in {app.settings.schedules}")
    now = parse_now(now_text, app.schedule.timezone)
    sends = [s for s in all_sends(app.schedule, app.engine) if campaign in (None, s.campaign.id)]
    rows = send_status(app.schedule, app.engine, sends, now)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in rows], indent=2))
    else:
        out_console().print(status_table(rows))


@cli.command()
@click.option(
    "--max-age",
    default=180,
    show_default=True,
    type=click.IntRange(min=1),
    help="A worker heartbeat older than this (seconds) is unhealthy.",
)
@pass_app
def health(app: App, max_age: int) -> None:
    """Check the database, the campaign and the worker's heartbeat (OUTREACH_HEARTBEAT)."""
    from outreach.health import check_health

    fine, wrong = check_health(app.settings, timedelta(seconds=max_age))
    for line in fine:
        click.echo(line)
    if wrong:
        raise OutreachError("; ".join(wrong))


cli.add_command(supporters)
cli.add_command(queue)
cli.add_command(serve)
cli.add_command(campaign)
cli.add_command(db)


def main() -> None:
    """Entry point: runs the CLI and turns errors into one line and an exit status."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(1)
    except ProblemsError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except OutreachError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except DeliveryError as exc:
        click.echo(f"delivery trouble: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("OUTREACH_DEBUG"):
            raise
        click.echo(
            f"unexpected error: {type(exc).__name__}: {exc} "
            "(set OUTREACH_DEBUG=1 to see where; please report it)",
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
