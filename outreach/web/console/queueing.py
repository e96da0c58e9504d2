"""`/queue`: queue an ad-hoc reminder after seeing its per-zone forecast; list; cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from outreach.campaign.model import Audience
from outreach.campaign.values import parse_language, parse_region
from outreach.errors import OutreachError
from outreach.store import queue as queue_store
from outreach.timeline import next_milestone, queued_send
from outreach.web.console.core import Console, Context
from outreach.web.console.forecast import Forecast, forecast

EXPIRES = timedelta(days=1)


@dataclass(frozen=True)
class QueueForm:
    """A queue form, checked."""

    campaign: str
    template: str
    at: datetime  # naive: each supporter's local time
    tags: tuple[str, ...]
    languages: tuple[str, ...]
    regions: tuple[str, ...]


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class QueuePages:
    """The queue form, its forecast, the list and cancelling."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.app = console.app

    def _check(self, context: Context) -> QueueForm:
        schedule = self.app.schedule
        campaign = context.field("campaign")
        if campaign not in schedule.campaigns:
            raise OutreachError(f"no campaign '{campaign}'")
        template = context.field("template")
        if template not in self.app.renderer.template_names():
            raise OutreachError(f"no template '{template}'")
        try:
            at = datetime.fromisoformat(context.field("at"))
        except ValueError:
            raise OutreachError("the local time must be a date and time") from None
        if at.tzinfo is not None:
            raise OutreachError("give a local time, without an offset")
        earliest = at.replace(tzinfo=ZoneInfo("Pacific/Kiritimati")).astimezone(UTC)
        if earliest <= self.console.clock():
            raise OutreachError(f"{at:%Y-%m-%d %H:%M} is in the past")
        languages = tuple(v for v in self._values(context, "languages") if v)
        try:
            checked = tuple(parse_language(v) for v in languages)
            regions = tuple(parse_region(v.upper()) for v in _split(context.field("regions")))
        except ValueError as exc:
            raise OutreachError(str(exc)) from None
        unknown = [lang for lang in checked if lang not in schedule.languages]
        if unknown:
            raise OutreachError(f"language '{unknown[0]}' is not a campaign language")
        tags = tuple(tag.lower() for tag in _split(context.field("tags")))
        return QueueForm(campaign, template, at, tags, checked, regions)

    def _values(self, context: Context, name: str) -> list[str]:
        if context.form is None:
            return []
        return [str(v).strip() for v in context.form.getlist(name)]

    def _forecast(self, wanted: QueueForm) -> Forecast:
        campaign = self.app.schedule.campaigns[wanted.campaign]
        send = queued_send(
            campaign,
            0,
            wanted.template,
            next_milestone(campaign, wanted.at.date()),
            wanted.at,
            (),
            Audience(wanted.tags, wanted.languages, wanted.regions),
            EXPIRES,
        )
        with self.app.engine.connect() as conn:
            return forecast(conn, self.app.schedule, send, self.console.clock())

    async def _page(
        self, request: Request, context: Context, status_code: int = 200, **values: object
    ) -> Response:
        items = await run_in_threadpool(queue_store.listing, self.app.engine)
        defaults: dict[str, object] = {
            "wanted": None,
            "forecast": None,
            "problem": "",
            "done": "",
            "done_id": 0,
        }
        return self.console.render(
            request,
            "queue.html",
            context,
            status_code,
            items=list(reversed(items)),
            campaigns=self.app.schedule.campaigns,
            templates=sorted(self.app.renderer.template_names()),
            languages=self.app.schedule.languages,
            **(defaults | values),
        )

    async def show(self, request: Request, context: Context) -> Response:
        """The form and the list."""
        return await self._page(request, context)

    async def preview(self, request: Request, context: Context) -> Response:
        """The form's forecast by zone, and a button to confirm it."""
        try:
            wanted = self._check(context)
        except OutreachError as exc:
            return await self._page(request, context, 400, problem=str(exc))
        found = await run_in_threadpool(self._forecast, wanted)
        return await self._page(request, context, wanted=wanted, forecast=found)

    async def add(self, request: Request, context: Context) -> Response:
        """Queue the confirmed reminder (organizers)."""
        try:
            wanted = self._check(context)
        except OutreachError as exc:
            return await self._page(request, context, 400, problem=str(exc))
        campaign = self.app.schedule.campaigns[wanted.campaign]
        milestone = next_milestone(campaign, wanted.at.date())

        def act() -> int:
            queued_id = queue_store.add(
                self.app.engine,
                campaign=wanted.campaign,
                template=wanted.template,
                milestone=milestone.id if milestone else None,
                at=wanted.at,
                targets=(),
                tags=wanted.tags,
                languages=wanted.languages,
                regions=wanted.regions,
                expires=EXPIRES,
                now=self.console.clock(),
            )
            self.console.audit(
                context,
                "queue",
                f"{queued_id}: {wanted.campaign} {wanted.template} at {wanted.at:%Y-%m-%d %H:%M} "
                f"local, tags={','.join(wanted.tags)} languages={','.join(wanted.languages)} "
                f"regions={','.join(wanted.regions)}",
            )
            return queued_id

        queued_id = await run_in_threadpool(act)
        return await self._page(request, context, done="queued", done_id=queued_id)

    async def cancel(self, request: Request, context: Context) -> Response:
        """Cancel a pending queued reminder (organizers)."""
        queued_id = int(request.path_params["queued_id"])

        def act() -> bool:
            cancelled = queue_store.cancel(self.app.engine, queued_id)
            if cancelled:
                self.console.audit(context, "cancel", str(queued_id))
            return cancelled

        if not await run_in_threadpool(act):
            return await self._page(
                request, context, 404, problem=f"no pending queued reminder {queued_id}"
            )
        return await self._page(request, context, done="cancelled", done_id=queued_id)
