"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from outreach.store import accounts
from outreach.web.console.core import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    Console,
    Context,
    local_path,
)
from outreach.web.console.texts import LANGUAGES

YEAR = 365 * 24 * 3600


class SignIn:
    """`/login`, `/logout`, `/language/{code}`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.engine = console.app.engine

    def _client(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def form(self, request: Request) -> Response:
        """The sign-in form."""
        next_path = local_path(request.query_params.get("next", "/"))
        return self.console.render(request, "login.html", None, next_path=next_path, error="")

    async def submit(self, request: Request) -> Response:
        """Check the password; 429 after too many failures for the account or the address."""
        console = self.console
        form = await request.form()
        email = str(form.get("email", "")).strip()
        password = str(form.get("password", ""))
        next_path = local_path(str(form.get("next", "/")))
        if not console.same_site(request):
            return Response("cross-site request refused", 403, media_type="text/plain")
        now, client = console.clock(), self._client(request)
        if await run_in_threadpool(accounts.throttled, self.engine, email, client, now):
            await run_in_threadpool(accounts.note_failure, self.engine, email, client, now)
            return console.render(
                request, "login.html", None, 429, next_path=next_path, error="throttled"
            )
        user = await run_in_threadpool(accounts.authenticate, self.engine, email, password)
        if user is None:
            await run_in_threadpool(accounts.note_failure, self.engine, email, client, now)
            return console.render(
                request, "login.html", None, 401, next_path=next_path, error="bad_login"
            )
        token = await run_in_threadpool(accounts.open_session, self.engine, user, now)
        await run_in_threadpool(accounts.record, self.engine, user.email, "sign-in", client, now)
        response = RedirectResponse(next_path, 303)
        lifetime = int(accounts.SESSION_LIFETIME.total_seconds())
        console.set_cookie(response, SESSION_COOKIE, token, lifetime)
        return response

    async def sign_out(self, request: Request, context: Context) -> Response:
        """End this session, here and in the database."""
        token = request.cookies.get(SESSION_COOKIE, "")
        await run_in_threadpool(accounts.close_session, self.engine, token)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.console.secure, httponly=True)
        return response

    async def switch(self, request: Request) -> Response:
        """Remember the chosen interface language, then go back."""
        code = request.path_params["code"]
        response = RedirectResponse(local_path(request.query_params.get("next", "/")), 303)
        if code in LANGUAGES:
            self.console.set_cookie(response, LANGUAGE_COOKIE, code, YEAR)
        return response
