"""The console's routes, each with the role it needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from outreach.app import App
from outreach.store.accounts import ADMIN, ORGANIZER, VIEWER
from outreach.web.console.auth import SignIn
from outreach.web.console.campaigns import CampaignPages
from outreach.web.console.core import Console, Context
from outreach.web.console.people import PeoplePages
from outreach.web.console.preview import PreviewPages
from outreach.web.console.queueing import QueuePages

STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_FILES = {"htmx.min.js": "text/javascript"}


def console_routes(app: App, clock: Callable[[], datetime]) -> list[Route]:
    """Every console route; all but `/login` and `/language/…` need a session."""
    console = Console(app, clock)
    sign_in = SignIn(console)
    campaigns = CampaignPages(console)
    previews = PreviewPages(console)
    queue = QueuePages(console)
    people = PeoplePages(console)
    page = console.page

    async def static(request: Request, context: Context) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found", 404, media_type="text/plain")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    get, post = ["GET"], ["POST"]
    return [
        Route("/login", sign_in.form, methods=get),
        Route("/login", sign_in.submit, methods=post),
        Route("/language/{code}", sign_in.switch, methods=get),
        Route("/logout", page(VIEWER)(sign_in.sign_out), methods=post),
        Route("/static/{name}", page(VIEWER)(static), methods=get),
        Route("/", page(VIEWER)(campaigns.index), methods=get),
        Route("/campaigns/{campaign}", page(VIEWER)(campaigns.show), methods=get),
        Route("/campaigns/{campaign}/pause", page(ORGANIZER)(campaigns.pause), methods=post),
        Route("/campaigns/{campaign}/resume", page(ORGANIZER)(campaigns.resume), methods=post),
        Route("/campaigns/{campaign}/preview", page(VIEWER)(previews.show), methods=get),
        Route("/campaigns/{campaign}/test", page(ORGANIZER)(previews.test), methods=post),
        Route("/queue", page(VIEWER)(queue.show), methods=get),
        Route("/queue/forecast", page(VIEWER)(queue.preview), methods=post),
        Route("/queue", page(ORGANIZER)(queue.add), methods=post),
        Route("/queue/{queued_id:int}/cancel", page(ORGANIZER)(queue.cancel), methods=post),
        Route("/supporters", page(VIEWER)(people.show), methods=get),
        Route("/supporters/unsubscribe", page(ORGANIZER)(people.unsubscribe), methods=post),
        Route("/supporters/import", page(ORGANIZER)(people.import_csv), methods=post),
        Route("/audit", page(ADMIN)(people.audit), methods=get),
        Route("/audit.csv", page(ADMIN)(people.audit_csv), methods=get),
    ]
