"""The web app served by a real uvicorn on loopback, over a store holding the demo."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from sqlalchemy import select
from starlette.types import ASGIApp

from outreach.app import App
from outreach.config import Settings
from outreach.messages import Channel
from outreach.store import ledger
from outreach.store.people import import_supporters
from outreach.store.schema import supporters, suppressions
from outreach.supporters.addresses import address_key
from outreach.supporters.csvfile import parse_supporters

REPO = Path(__file__).resolve().parents[2]
SENT_AT = datetime(2018, 3, 2, 4, 0, tzinfo=UTC)  # the two-weeks-before reminder went out
SECRET = "a-test-secret-that-must-never-be-shown"


def demo_app(database_url: str, tmp_path: Path, **env: str) -> App:
    """The demo campaign over a fresh store holding the 50 example supporters."""
    settings = Settings.from_env(
        {
            "OUTREACH_DATABASE_URL": database_url,
            "OUTREACH_SCHEDULES": str(REPO / "schedules.yaml"),
            "OUTREACH_TEMPLATES": str(REPO / "templates"),
            "OUTREACH_OUTBOX": str(tmp_path / "outbox"),
            "OUTREACH_SECRET_KEY": SECRET,
            **env,
        }
    )
    app = App(settings)
    with (REPO / "examples" / "supporters.csv").open(encoding="utf-8-sig", newline="") as handle:
        import_supporters(app.engine, parse_supporters(handle, "supporters.csv"), SENT_AT)
    return app


def supporter_id(app: App, email: str) -> int:
    """The id of the supporter with this address."""
    with app.engine.connect() as conn:
        return int(
            conn.execute(
                select(supporters.c.id).where(supporters.c.address_key == address_key(email))
            ).scalar_one()
        )


def record_sent(app: App, campaign: str, reminder: str, ids: list[int]) -> None:
    """Put these occurrences in the ledger as sent, as a run does."""
    batch, won = ledger.claim(app.engine, campaign, reminder, Channel.EMAIL, ids, SENT_AT)
    ledger.record(app.engine, batch, [ledger.Outcome(i, True) for i in won], SENT_AT)


def suppressed(app: App) -> dict[str, tuple[str, str, datetime]]:
    """Every suppression: address → (reason, detail, when)."""
    with app.engine.connect() as conn:
        rows = conn.execute(select(suppressions)).all()
    return {row.email: (row.reason, row.detail, row.created_at) for row in rows}


@contextmanager
def serving(asgi: ASGIApp) -> Iterator[str]:
    """Serve `asgi` with uvicorn on a free loopback port; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(asgi, log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
