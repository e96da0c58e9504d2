"""What every console page shares: the signed-in session, roles, CSRF checks and rendering.

A page is an `async (request, context) -> Response` wrapped by `Console.page(role)`: signed
out, a GET is redirected to `/login` and anything else answered 401; a role too low is
answered 403; a state-changing request must come from this site (`Origin`, `Sec-Fetch-Site`)
and carry the session's form token, or it is answered 403 before anything changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from outreach.app import App
from outreach.store import accounts
from outreach.web.console.texts import LANGUAGES, negotiate, translator

SESSION_COOKIE = "outreach_session"
LANGUAGE_COOKIE = "outreach_language"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""Scripts only from this site (htmx); the preview iframe is sandboxed and runs none."""
SAFE_METHODS = frozenset({"GET", "HEAD"})
SAME_SITE = frozenset({"same-origin", "none"})

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def local_label(moment: datetime) -> str:
    """`2018-03-01 09:00 NST (UTC-03:30)` for a zone-aware time."""
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()} (UTC{offset[:3]}:{offset[3:]})"


_environment.filters["local"] = local_label


@dataclass
class Context:
    """One request's user, language and (for a POST) form."""

    session: accounts.Session
    language: str
    form: FormData | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> accounts.User:
        """The signed-in account."""
        return self.session.user

    def field(self, name: str) -> str:
        """A text field of the form (blank when absent)."""
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""


Page = Callable[[Request, Context], Awaitable[Response]]


def local_path(target: str) -> str:
    """`target` when it is a path on this site, else `/` (no open redirect)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


class Console:
    """Sessions, guards and rendering over one app."""

    def __init__(self, app: App, clock: Callable[[], datetime]) -> None:
        self.app = app
        self.clock = clock
        public = urlsplit(app.settings.public_url)
        self.secure = public.scheme == "https"
        self.public_origin = f"{public.scheme}://{public.netloc}"

    def language(self, request: Request) -> str:
        """The interface language for this request."""
        return negotiate(
            request.headers.get("accept-language", ""), request.cookies.get(LANGUAGE_COOKIE)
        )

    def render(
        self,
        request: Request,
        template: str,
        context: Context | None,
        status_code: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        """A page of the console, in the request's language."""
        language = context.language if context else self.language(request)
        html = _environment.get_template(template).render(
            t=translator(language),
            language=language,
            other_language=next(lang for lang in LANGUAGES if lang != language),
            path=request.url.path,
            user=context.user if context else None,
            csrf=context.session.csrf if context else "",
            organization=self.app.schedule.organization,
            **values,
        )
        # same-origin: a browser sends `Origin: null` from a no-referrer page, and the CSRF
        # check needs the real one; nothing leaves for another site.
        headers = {"Content-Security-Policy": CSP, "Referrer-Policy": "same-origin"}
        return HTMLResponse(html, status_code, headers=headers)

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        """HttpOnly, SameSite=Lax, Secure when the site is served over HTTPS."""
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=self.secure, httponly=True,
            samesite="lax",
        )  # fmt: skip

    def same_site(self, request: Request) -> bool:
        """Whether the browser says this request comes from this site (or says nothing)."""
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in SAME_SITE:
            return False
        origin = request.headers.get("origin")
        if origin is None:
            return True
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin in (own, self.public_origin)

    async def session(self, request: Request) -> accounts.Session | None:
        """The live session of this request's cookie, if any."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return await run_in_threadpool(accounts.session_for, self.app.engine, token, self.clock())

    def page(self, role: str = accounts.VIEWER) -> Callable[[Page], Callable[..., Any]]:
        """Wrap a page: signed in, with `role`, and CSRF-checked when it changes state."""

        def wrap(handler: Page) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                session = await self.session(request)
                if session is None:
                    if request.method in SAFE_METHODS:
                        return RedirectResponse(f"/login?next={request.url.path}", 303)
                    return Response("sign in first", 401, media_type="text/plain")
                context = Context(session, self.language(request))
                if not session.user.may(role):
                    return self.render(request, "notice.html", context, 403, key="forbidden")
                if request.method not in SAFE_METHODS:
                    context.form = await request.form()
                    token = context.field("csrf")
                    if not self.same_site(request) or not secrets.compare_digest(
                        token.encode(), session.csrf.encode()
                    ):
                        return Response("cross-site request refused", 403, media_type="text/plain")
                return await handler(request, context)

            return endpoint

        return wrap

    def audit(self, context: Context, action: str, detail: str) -> None:
        """Log an organizer action (call from a worker thread)."""
        accounts.record(self.app.engine, context.user.email, action, detail, self.clock())

    def redirect(self, target: str) -> Response:
        """Back to a console page after a POST (303)."""
        return RedirectResponse(local_path(target), 303)
