"""A console over the demo store on a real server, with accounts and a clock the test moves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from outreach.app import App
from outreach.store import accounts
from outreach.web.app import create_app
from tests.integration.web_support import demo_app, serving

NOW = datetime(2018, 2, 20, 12, 0, tzinfo=UTC)  # before every demo reminder
PASSWORD = "a long enough password"
CAMPAIGN = "mexico-refugees"
ROLES = {
    "viewer@example.org": "viewer",
    "org@example.org": "organizer",
    "admin@example.org": "admin",
}


@dataclass
class Clock:
    """The web app's clock."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Console:
    """A served console: its app, base URL and clock."""

    app: App
    base: str
    clock: Clock

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base)

    def signed_in(self, email: str) -> httpx.Client:
        client = self.client()
        answer = client.post("/login", data={"email": email, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        return client


def csrf_of(client: httpx.Client, path: str = "/queue") -> str:
    """The form token a page of this session carries."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


@contextmanager
def console(database_url: str, tmp_path: Path, **env: str) -> Iterator[Console]:
    """The demo, an account per role, served."""
    app = demo_app(database_url, tmp_path, **env)
    for email, role in ROLES.items():
        accounts.add_user(app.engine, email, PASSWORD, role, NOW)
    clock = Clock()
    with serving(create_app(app, clock=clock)) as base:
        yield Console(app, base, clock)
