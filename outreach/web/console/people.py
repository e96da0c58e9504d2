"""`/supporters`: look one up, unsubscribe by hand, import a CSV; `/audit` for admins."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from outreach.delivery.sends import all_sends
from outreach.store import accounts
from outreach.store.audience import zones_in_use
from outreach.store.people import ImportReport, find_supporter, import_supporters, suppress
from outreach.store.schema import supporters, suppressions
from outreach.supporters.csvfile import parse_supporters
from outreach.web.console.core import Console, Context
from outreach.web.console.forecast import upcoming_sends, verdicts

AUDIT_SHOWN = 500


class PeoplePages:
    """Supporters and the audit log."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.app = console.app

    def _lookup(self, email: str, now: datetime) -> dict[str, Any] | None:
        schedule, engine = self.app.schedule, self.app.engine
        with engine.connect() as conn:
            found = find_supporter(conn, email)
            if found is None:
                return None
            row = conn.execute(select(supporters).where(supporters.c.id == found.id)).one()
            suppression = conn.execute(
                select(suppressions).where(suppressions.c.address_key == row.address_key)
            ).first()
            zones = zones_in_use(conn, schedule.timezone) or [schedule.timezone]
            ahead = upcoming_sends(list(all_sends(schedule, engine)), zones, now)
            found_verdicts = verdicts(conn, schedule, found.id, ahead)
        return {
            "supporter": found,
            "row": row,
            "zone": found.timezone or schedule.timezone,
            "suppression": suppression,
            "verdicts": found_verdicts,
        }

    async def show(self, request: Request, context: Context) -> Response:
        """The lookup form, and the supporter asked for."""
        email = request.query_params.get("email", "").strip()
        return await self._page(request, context, email)

    async def _page(
        self, request: Request, context: Context, email: str, status_code: int = 200, **extra: Any
    ) -> Response:
        found = None
        if email:
            found = await run_in_threadpool(self._lookup, email, self.console.clock())
        values: dict[str, Any] = {"done": "", "report": None, "source": ""} | extra
        return self.console.render(
            request,
            "supporters.html",
            context,
            status_code,
            email=email,
            found=found,
            may_act=context.user.may(accounts.ORGANIZER),
            **values,
        )

    async def unsubscribe(self, request: Request, context: Context) -> Response:
        """Suppress an address by hand (organizers)."""
        email = context.field("email")
        if "@" not in email:
            return await self._page(request, context, "", 400)
        now = self.console.clock()

        def act() -> str:
            with self.app.engine.connect() as conn:
                found = find_supporter(conn, email)
            address = found.email if found else email
            if suppress(self.app.engine, address, "manual", f"by {context.user.email}", now):
                self.console.audit(context, "unsubscribe", address)
            return address

        address = await run_in_threadpool(act)
        return await self._page(request, context, address, done="unsubscribed")

    async def import_csv(self, request: Request, context: Context) -> Response:
        """Import a CSV, with the CLI's report (organizers)."""
        upload = context.form.get("file") if context.form is not None else None
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self._page(request, context, "", 400)
        data = await upload.read()
        name = upload.filename

        def act() -> ImportReport:
            text = data.decode("utf-8-sig")
            report = import_supporters(
                self.app.engine,
                parse_supporters(io.StringIO(text, newline=""), name),
                self.console.clock(),
            )
            self.console.audit(
                context,
                "import",
                f"{name}: imported {report.imported}, updated {report.updated}, "
                f"rejected {len(report.rejected)}",
            )
            return report

        try:
            report = await run_in_threadpool(act)
        except UnicodeDecodeError:
            return self.console.render(
                request, "notice.html", context, 400, key="problem", message=f"{name}: not UTF-8"
            )
        return await self._page(request, context, "", report=report, source=name)

    async def audit(self, request: Request, context: Context) -> Response:
        """The latest organizer actions (admins)."""
        entries = await run_in_threadpool(accounts.audit_log, self.app.engine, AUDIT_SHOWN)
        return self.console.render(request, "audit.html", context, entries=entries)

    async def audit_csv(self, request: Request, context: Context) -> Response:
        """The whole audit log as CSV (admins)."""
        entries = await run_in_threadpool(accounts.audit_log, self.app.engine)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["at", "actor", "action", "detail"])
        for entry in entries:
            cells = [entry.at.isoformat(), entry.actor, entry.action, entry.detail]
            writer.writerow([_inert(cell) for cell in cells])
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )


def _inert(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
