"""The console over HTTP: signed-out access, cookies, roles, CSRF, throttling, revocation."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from outreach.store import accounts, feedback
from outreach.store import queue as queue_store
from tests.integration.console_support import (
    CAMPAIGN,
    PASSWORD,
    Console,
    console,
    csrf_of,
)

PAGES = [
    "/",
    f"/campaigns/{CAMPAIGN}",
    f"/campaigns/{CAMPAIGN}/preview?reminder=day-before",
    "/queue",
    "/supporters?email=amelie.tremblay@example.org",
    "/audit",
    "/audit.csv",
    "/static/htmx.min.js",
]
POSTS = [
    "/logout",
    f"/campaigns/{CAMPAIGN}/pause",
    f"/campaigns/{CAMPAIGN}/test",
    "/queue",
    "/queue/forecast",
    "/queue/1/cancel",
    "/supporters/unsubscribe",
    "/supporters/import",
]
QUEUE_FORM = {"campaign": CAMPAIGN, "template": "last-call", "at": "2018-03-01T09:00"}


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Console]:
    with console(database_url, tmp_path) as found:
        yield found


def test_signed_out_every_page_sends_to_login_and_shows_no_supporter(served: Console) -> None:
    client = served.client()
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login")
        assert "example.org" not in answer.text
    for path in POSTS:
        answer = client.post(path, data={"email": "amelie.tremblay@example.org"})
        assert answer.status_code == 401, path
    assert client.get("/healthz").text == "ok"
    assert feedback.paused_campaigns(served.app.engine) == {}


def test_the_sign_in_form_is_labelled_in_english_and_french(served: Console) -> None:
    english = served.client().get("/login")
    assert '<label for="email">Email</label>' in english.text
    assert '<label for="password">Password</label>' in english.text
    french = served.client().get("/login", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert '<html lang="fr">' in french.text
    assert '<label for="email">Courriel</label>' in french.text
    assert '<label for="password">Mot de passe</label>' in french.text


def test_the_session_cookie_is_httponly_lax_and_only_secure_over_https(
    served: Console, database_url: str, tmp_path: Path
) -> None:
    answer = served.client().post(
        "/login", data={"email": "viewer@example.org", "password": PASSWORD}
    )
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie
    https = {"OUTREACH_PUBLIC_URL": "https://act.example.org"}
    with console(f"sqlite:///{tmp_path / 'https.db'}", tmp_path, **https) as s:
        secure = s.client().post(
            "/login", data={"email": "admin@example.org", "password": PASSWORD}
        )
    assert "Secure" in secure.headers["set-cookie"]


def test_a_wrong_password_is_refused_and_nothing_opens(served: Console) -> None:
    client = served.client()
    answer = client.post("/login", data={"email": "org@example.org", "password": "wrong"})
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert client.get("/").status_code == 303


def test_viewers_see_organizers_act_admins_read_the_audit_log(served: Console) -> None:
    viewer = served.signed_in("viewer@example.org")
    assert viewer.get("/").status_code == 200
    assert viewer.get(f"/campaigns/{CAMPAIGN}").status_code == 200
    refused = viewer.post("/queue", data={"csrf": csrf_of(viewer), **QUEUE_FORM})
    assert refused.status_code == 403
    assert queue_store.listing(served.app.engine) == []
    assert viewer.get("/audit").status_code == 403

    organizer = served.signed_in("org@example.org")
    queued = organizer.post("/queue", data={"csrf": csrf_of(organizer), **QUEUE_FORM})
    assert queued.status_code == 200 and "Queued reminder 1." in queued.text
    assert [q.campaign for q in queue_store.listing(served.app.engine)] == [CAMPAIGN]
    assert organizer.get("/audit").status_code == 403

    admin = served.signed_in("admin@example.org")
    log = admin.get("/audit")
    assert log.status_code == 200
    assert "org@example.org" in log.text and "queue" in log.text
    exported = admin.get("/audit.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["at", "actor", "action", "detail"]
    assert any(r[1:3] == ["org@example.org", "queue"] and r[3].startswith("1: ") for r in rows)
    assert any(r[1:3] == ["org@example.org", "sign-in"] for r in rows)


def test_cross_site_or_tokenless_posts_are_refused_and_change_nothing(served: Console) -> None:
    organizer = served.signed_in("org@example.org")
    token = csrf_of(organizer)
    path = f"/campaigns/{CAMPAIGN}/pause"
    assert organizer.post(path, data={}).status_code == 403
    assert organizer.post(path, data={"csrf": "forged"}).status_code == 403
    evil = {"Origin": "https://evil.example"}
    assert organizer.post(path, data={"csrf": token}, headers=evil).status_code == 403
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert organizer.post(path, data={"csrf": token}, headers=cross).status_code == 403
    other = served.signed_in("admin@example.org")
    assert organizer.post(path, data={"csrf": csrf_of(other)}).status_code == 403
    assert feedback.paused_campaigns(served.app.engine) == {}
    assert organizer.post("/login", data={}, headers=cross).status_code == 403

    same = {"Origin": served.base, "Sec-Fetch-Site": "same-origin"}
    done = organizer.post(path, data={"csrf": token, "reason": "press embargo"}, headers=same)
    assert done.status_code == 303
    assert feedback.paused_campaigns(served.app.engine) == {CAMPAIGN: "press embargo"}
    page = organizer.get(f"/campaigns/{CAMPAIGN}").text
    assert "Paused: press embargo" in page


def test_ten_failures_in_a_minute_answer_429_for_the_account_then_clear(served: Console) -> None:
    client = served.client()
    for _ in range(10):
        wrong = client.post("/login", data={"email": "org@example.org", "password": "nope"})
        assert wrong.status_code == 401
    right = {"email": "org@example.org", "password": PASSWORD}
    assert client.post("/login", data=right).status_code == 429
    served.clock.advance(61)
    assert client.post("/login", data=right).status_code == 303


def test_ten_failures_from_one_address_answer_429_for_every_account(served: Console) -> None:
    client = served.client()
    for n in range(10):
        client.post("/login", data={"email": f"guess{n}@example.org", "password": "nope"})
    right = {"email": "admin@example.org", "password": PASSWORD}
    answer = client.post("/login", data=right)
    assert answer.status_code == 429
    assert "Too many failed attempts" in answer.text


def test_sign_out_role_change_and_removal_end_sessions(served: Console) -> None:
    client = served.signed_in("org@example.org")
    cookie = client.cookies["outreach_session"]
    assert client.post("/logout", data={"csrf": csrf_of(client)}).status_code == 303
    replay = served.client()
    replay.cookies.set("outreach_session", cookie)
    assert replay.get("/").status_code == 303

    changed = served.signed_in("org@example.org")
    assert accounts.set_role(served.app.engine, "org@example.org", "viewer")
    assert changed.get("/").status_code == 303
    again = served.signed_in("org@example.org")
    assert again.post("/queue", data={"csrf": csrf_of(again), **QUEUE_FORM}).status_code == 403

    removed = served.signed_in("viewer@example.org")
    assert accounts.remove_user(served.app.engine, "viewer@example.org")
    assert removed.get("/").status_code == 303
    answer = served.client().post(
        "/login", data={"email": "viewer@example.org", "password": PASSWORD}
    )
    assert answer.status_code == 401


def test_the_language_switch_is_remembered_and_redirects_only_here(served: Console) -> None:
    client = served.signed_in("viewer@example.org")
    switched = client.get("/language/fr?next=/queue")
    assert switched.status_code == 303 and switched.headers["location"] == "/queue"
    assert "File d&#39;attente" in client.get("/queue").text
    assert client.get("/language/en?next=//evil.example").headers["location"] == "/"
    assert isinstance(client, httpx.Client)
