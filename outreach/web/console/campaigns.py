"""Campaign pages: the list, one campaign's timeline, forecasts and figures, pause/resume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from outreach.campaign.model import Campaign
from outreach.delivery.reports import SendStatus, status
from outreach.delivery.sends import all_sends
from outreach.store import accounts, feedback
from outreach.store.audience import zones_in_use
from outreach.timeline import Send
from outreach.web.console.core import Console, Context
from outreach.web.console.forecast import Forecast, forecast, upcoming_sends

FIGURES = ("sent", "failed", "uncertain", "sending", "suppressed", "bounces", "spam_reports")


@dataclass(frozen=True)
class Figure:
    """One count and its rate."""

    name: str
    count: int
    rate: str


def figures(row: SendStatus) -> list[Figure]:
    """A send's counts with rates: of the audience, and bounces and spam of those sent."""
    values: dict[str, Any] = row.as_json()
    audience = sum(
        int(values.get(k, 0))
        for k in ("sent", "failed", "uncertain", "sending", "suppressed", "lapsed", "pending")
    )
    shown = []
    for name in FIGURES:
        count = int(values.get(name, 0))
        base = row.sent if name in ("bounces", "spam_reports") else audience
        shown.append(Figure(name, count, f"{count / base:.1%}" if base else "\u2013"))
    return shown


@dataclass(frozen=True)
class TimelineEntry:
    """A milestone or a reminder on the campaign's timeline."""

    day: date
    kind: str  # "milestone" or "reminder"
    id: str
    title: str
    when: str


def timeline(campaign: Campaign, sends: list[Send], zone: str, language: str) -> list[Any]:
    """Milestones and reminders in date order (reminders at the schedule's zone)."""
    entries = [
        TimelineEntry(m.day, "milestone", m.id, m.title.resolve(language, language), f"{m.day}")
        for m in campaign.milestones.values()
    ]
    for send in sends:
        fires = send.fires_at(zone)
        local = send.local_date(zone)
        label = send.reminder.id if send.reminder else f"{send.key} ({send.template})"
        entries.append(
            TimelineEntry(local, "reminder", send.key, label, f"{fires:%Y-%m-%d %H:%M} UTC")
        )
    return sorted(entries, key=lambda e: (e.day, e.kind != "milestone", e.when))


class CampaignPages:
    """`/`, `/campaigns/{id}`, and pausing and resuming."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.app = console.app

    def _campaign(self, request: Request) -> Campaign | None:
        return self.app.schedule.campaigns.get(request.path_params["campaign"])

    async def index(self, request: Request, context: Context) -> Response:
        """Every campaign, its pause state, and its reminders' figures."""
        schedule, engine = self.app.schedule, self.app.engine
        now = self.console.clock()

        def load() -> tuple[list[SendStatus], dict[str, str]]:
            return status(schedule, engine, all_sends(schedule, engine), now), (
                feedback.paused_campaigns(engine)
            )

        rows, paused = await run_in_threadpool(load)
        per_campaign = {
            cid: [(row, figures(row)) for row in rows if row.campaign == cid]
            for cid in schedule.campaigns
        }
        return self.console.render(
            request,
            "campaigns.html",
            context,
            campaigns=schedule.campaigns,
            per_campaign=per_campaign,
            paused=paused,
            figure_names=FIGURES,
        )

    async def show(self, request: Request, context: Context) -> Response:
        """One campaign: timeline, forecast of each upcoming reminder, figures so far."""
        campaign = self._campaign(request)
        if campaign is None:
            return self.console.render(request, "notice.html", context, 404, key="not_found_page")
        schedule, engine = self.app.schedule, self.app.engine
        now = self.console.clock()

        def load() -> tuple[list[Send], list[tuple[Send, Forecast]], list[Any], str | None]:
            sends = [s for s in all_sends(schedule, engine) if s.campaign.id == campaign.id]
            with engine.connect() as conn:
                zones = zones_in_use(conn, schedule.timezone) or [schedule.timezone]
                ahead = upcoming_sends(sends, zones, now)
                forecasts = [(send, forecast(conn, schedule, send, now)) for send in ahead]
            rows = status(schedule, engine, sends, now)
            return sends, forecasts, rows, feedback.paused_campaigns(engine).get(campaign.id)

        sends, forecasts, rows, paused = await run_in_threadpool(load)
        return self.console.render(
            request,
            "campaign.html",
            context,
            campaign=campaign,
            title=campaign.title.resolve(context.language, schedule.fallback_language),
            timeline=timeline(campaign, sends, schedule.timezone, context.language),
            forecasts=forecasts,
            past=[(row, figures(row)) for row in rows if row.sent or row.failed or row.uncertain],
            paused=paused,
            may_act=context.user.may(accounts.ORGANIZER),
            reasons=("outside", "no_language", "suppressed", "lapsed", "already"),
        )

    async def pause(self, request: Request, context: Context) -> Response:
        """Stop a campaign's sends until it is resumed (organizers)."""
        campaign = self._campaign(request)
        if campaign is not None:
            reason = context.field("reason") or f"paused by {context.user.email}"
            now = self.console.clock()

            def act() -> None:
                if feedback.pause(self.app.engine, campaign.id, reason, now):
                    self.console.audit(context, "pause", f"{campaign.id}: {reason}")

            await run_in_threadpool(act)
        return self.console.redirect(f"/campaigns/{request.path_params['campaign']}")

    async def resume(self, request: Request, context: Context) -> Response:
        """Send a paused campaign's emails again (organizers)."""
        campaign = self._campaign(request)
        if campaign is not None:

            def act() -> None:
                if feedback.resume(self.app.engine, campaign.id):
                    self.console.audit(context, "resume", campaign.id)

            await run_in_threadpool(act)
        return self.console.redirect(f"/campaigns/{request.path_params['campaign']}")
