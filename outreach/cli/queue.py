"""`outreach queue`: the organizer's ad-hoc reminders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from outreach.app import App
from outreach.campaign.model import Campaign, Milestone
from outreach.campaign.values import parse_expires, parse_language, parse_region
from outreach.cli.context import pass_app
from outreach.clock import parse_datetime, parse_now
from outreach.delivery.preview import SAMPLE
from outreach.errors import OutreachError
from outreach.store import queue as queue_store
from outreach.timeline import next_milestone


@click.group()
def queue() -> None:
    """Queue, list and cancel ad-hoc reminders."""


def _checked(option: str, parse: Callable[[str], str], values: tuple[str, ...]) -> tuple[str, ...]:
    result = []
    for value in values:
        try:
            result.append(parse(value))
        except ValueError as exc:
            raise OutreachError(f"{option} '{value}': {exc}") from None
    return tuple(result)


@queue.command("add")
@click.argument("campaign")
@click.option("--template", required=True, help="Template name, e.g. letter-reminder.")
@click.option(
    "--at",
    "at_text",
    required=True,
    help="When (ISO 8601). A naive time is each supporter's local time.",
)
@click.option("--tag", "tags", multiple=True, help="Only supporters with this tag (repeatable).")
@click.option("--language", "languages", multiple=True, help="Only this language (repeatable).")
@click.option("--region", "regions", multiple=True, help="Only this region code (repeatable).")
@click.option("--targets", default="", help="Comma-separated target ids (default: all).")
@click.option("--milestone", help="Milestone for the template (default: the next one).")
@click.option("--expires", default="1d", show_default=True, help="Still send this late.")
@click.option("--now", "now_text", help="Pretend it is this time (ISO 8601).")
@pass_app
def add_command(
    app: App,
    campaign: str,
    template: str,
    at_text: str,
    tags: tuple[str, ...],
    languages: tuple[str, ...],
    regions: tuple[str, ...],
    targets: str,
    milestone: str | None,
    expires: str,
    now_text: str | None,
) -> None:
    """Queue an ad-hoc reminder; prints its id last."""
    schedule = app.schedule
    found = schedule.campaigns.get(campaign)
    if found is None:
        known = ", ".join(schedule.campaigns)
        raise OutreachError(f"no campaign '{campaign}' in {app.settings.schedules} ({known})")
    if template not in app.renderer.template_names():
        known = ", ".join(sorted(app.renderer.template_names()))
        raise OutreachError(f"no template '{template}' in {app.settings.templates} ({known})")
    target_ids = tuple(t.strip() for t in targets.split(",") if t.strip())
    unknown = [t for t in target_ids if t not in found.targets]
    if unknown:
        raise OutreachError(f"campaign '{campaign}' has no target '{unknown[0]}'")
    at = parse_datetime(at_text, "--at")
    now = parse_now(now_text, schedule.timezone)
    earliest = at.astimezone(UTC) if at.tzinfo else _earliest_local(at)
    if earliest <= now:
        raise OutreachError(f"--at {at_text} is in the past")
    try:
        window = parse_expires(expires)
    except ValueError as exc:
        raise OutreachError(f"--expires '{expires}': {exc}") from None
    languages = _checked("--language", parse_language, languages)
    bad = [lang for lang in languages if lang not in schedule.languages]
    if bad:
        raise OutreachError(f"--language '{bad[0]}' is not one of {', '.join(schedule.languages)}")
    if milestone is not None and milestone not in found.milestones:
        raise OutreachError(f"campaign '{campaign}' has no milestone '{milestone}'")
    chosen = found.milestones[milestone] if milestone else next_milestone(found, at.date())
    _check_renders(app, found, template, chosen, target_ids)
    queued_id = queue_store.add(
        app.engine,
        campaign=campaign,
        template=template,
        milestone=chosen.id if chosen else None,
        at=at,
        targets=target_ids,
        tags=tags,
        languages=languages,
        regions=_checked("--region", parse_region, tuple(r.upper() for r in regions)),
        expires=window,
        now=now,
    )
    click.echo(f"Queued {template} for {campaign} at {at_text}: {queued_id}")


def _earliest_local(at: datetime) -> datetime:
    """The first instant a naive local time happens anywhere (UTC+14)."""
    return at.replace(tzinfo=ZoneInfo("Pacific/Kiritimati")).astimezone(UTC)


def _check_renders(
    app: App,
    campaign: Campaign,
    template: str,
    milestone: Milestone | None,
    targets: tuple[str, ...],
) -> None:
    """Render the template in every language it has, so a broken one is refused now."""
    for language in sorted(app.renderer.languages_of(template)):
        app.renderer.render_email(
            campaign=campaign,
            template=template,
            target_ids=targets or tuple(campaign.targets),
            milestone=milestone,
            supporter=replace(SAMPLE, language=language),
            send_date=datetime.now(UTC).date(),
            unsubscribe_url="https://example.org/u/sample",
        )


@queue.command("list")
@pass_app
def list_command(app: App) -> None:
    """Queued reminders, oldest first."""
    items = queue_store.listing(app.engine)
    if not items:
        click.echo("The queue is empty.")
        return
    for item in items:
        audience = " ".join(
            f"{name}={','.join(values)}"
            for name, values in (
                ("tags", item.tags),
                ("languages", item.languages),
                ("regions", item.regions),
            )
            if values
        )
        click.echo(
            f"{item.id}  {item.state:<9}  {item.campaign}  {item.template}  "
            f"{item.at.isoformat()}  {audience or 'everyone'}"
        )


@queue.command("cancel")
@click.argument("queued_id", type=int)
@pass_app
def cancel_command(app: App, queued_id: int) -> None:
    """Cancel a queued reminder that has not been sent yet."""
    if not queue_store.cancel(app.engine, queued_id):
        raise OutreachError(f"no pending queued reminder with id {queued_id}")
    click.echo(f"Cancelled queued reminder {queued_id}.")
