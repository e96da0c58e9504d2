"""The web app on a real server: unsubscribe links, health, errors and limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from outreach.app import App
from outreach.store.schema import supporters, suppressions
from outreach.tokens import MAX_AGE_SECONDS, TokenSigner
from outreach.web.app import create_app
from tests.integration.web_support import (
    SECRET,
    demo_app,
    serving,
    supporter_id,
    suppressed,
)

NOW = datetime(2018, 3, 2, 12, 0, tzinfo=UTC)
CAMPAIGN = "mexico-refugees"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> App:
    return demo_app(database_url, tmp_path)


@pytest.fixture
def base(app: App) -> Iterator[str]:
    with serving(create_app(app, clock=lambda: NOW)) as url:
        yield url


def link(app: App, email: str, campaign: str = CAMPAIGN) -> str:
    """The path of the unsubscribe link this supporter's email carries."""
    return f"/u/{app.signer.make(supporter_id(app, email), campaign)}"


def test_the_link_shows_the_masked_address_in_the_supporters_language_and_changes_nothing(
    app: App, base: str
) -> None:
    french = httpx.get(base + link(app, "amelie.tremblay@example.org"))
    assert french.status_code == 200
    assert '<html lang="fr">' in french.text
    assert "Me désabonner" in french.text
    assert "Protéger les personnes réfugiées au Mexique" in french.text
    assert "a***@example.org" in french.text
    assert "amelie.tremblay" not in french.text
    assert 'name="List-Unsubscribe" value="One-Click"' in french.text
    assert "Amnesty International Canada" in french.text

    english = httpx.get(base + link(app, "fiona.macdonald@example.org"))
    assert '<html lang="en">' in english.text and "Protect refugees in Mexico" in english.text
    spanish = httpx.get(base + link(app, "maria.santos@example.org"))  # no Spanish pages
    assert '<html lang="en">' in spanish.text
    assert suppressed(app) == {}


def test_one_click_post_unsubscribes_at_once_with_no_cookie_login_or_redirect(
    app: App, base: str
) -> None:
    url = base + link(app, "amelie.tremblay@example.org")
    answer = httpx.post(url, data=ONE_CLICK)
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers and "location" not in answer.headers
    assert "Votre désabonnement est confirmé" in answer.text
    found = suppressed(app)
    reason, detail, when = found["amelie.tremblay@example.org"]
    assert (reason, detail, when) == ("unsubscribe", "unsubscribe link, campaign " + CAMPAIGN, NOW)

    again = httpx.post(url, data=ONE_CLICK)
    assert again.status_code == 200
    assert suppressed(app) == found
    assert "Adresse déjà désabonnée" in httpx.get(url).text


def test_one_click_post_as_multipart_form_data_works_too(app: App, base: str) -> None:
    url = base + link(app, "fiona.macdonald@example.org")
    answer = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200
    assert "fiona.macdonald@example.org" in suppressed(app)


@pytest.mark.parametrize("body", [{}, {"List-Unsubscribe": "yes"}], ids=["empty", "other"])
def test_a_post_without_the_one_click_body_changes_nothing(
    app: App, base: str, body: dict[str, str]
) -> None:
    answer = httpx.post(base + link(app, "fiona.macdonald@example.org"), data=body)
    assert answer.status_code == 400
    assert suppressed(app) == {}


def expired_token(signer: TokenSigner, sid: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """A token signed one day longer ago than tokens stay valid."""
    signed_at = time.time() - MAX_AGE_SECONDS - 24 * 3600
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: signed_at)
        return signer.make(sid, CAMPAIGN)


def test_forged_tampered_and_expired_tokens_get_a_4xx_page_and_change_nothing(
    app: App, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = supporter_id(app, "fiona.macdonald@example.org")
    genuine = app.signer.make(sid, CAMPAIGN)
    # Someone else's id with this token's signature (changing the last base64 character
    # can leave the decoded signature intact, so tamper with what the token says instead).
    _payload, stamp, signature = genuine.split(".")
    tampered = ".".join([app.signer.make(sid + 1, CAMPAIGN).split(".")[0], stamp, signature])
    tokens = {
        "forged": TokenSigner("another organization's key").make(sid, CAMPAIGN),
        "tampered": tampered,
        "expired": expired_token(app.signer, sid, monkeypatch),
        "guessed": str(sid),
    }
    for name, token in tokens.items():
        for method in ("GET", "POST"):
            answer = httpx.request(method, f"{base}/u/{token}", data=ONE_CLICK)
            assert answer.status_code == 400, (name, method)
            assert "This link does not work" in answer.text
            assert "Ce lien ne fonctionne pas" in answer.text
    assert suppressed(app) == {}
    assert httpx.get(f"{base}/u/{genuine}").status_code == 200  # the genuine one still works


def test_pages_escape_what_they_show(app: App, base: str) -> None:
    hostile = '<script>alert("x")</script>'
    answer = httpx.get(base + link(app, "fiona.macdonald@example.org", campaign=hostile))
    assert answer.status_code == 200
    assert "<script>" not in answer.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in answer.text


def test_a_deleted_supporter_still_gets_an_answer(app: App, base: str) -> None:
    path = link(app, "fiona.macdonald@example.org")
    with app.engine.begin() as conn:
        conn.execute(supporters.delete().where(supporters.c.email == "fiona.macdonald@example.org"))
    assert httpx.get(base + path).status_code == 200
    assert httpx.post(base + path, data=ONE_CLICK).status_code == 200


def test_every_response_has_safe_headers_and_no_server_banner(app: App, base: str) -> None:
    for answer in (
        httpx.get(base + link(app, "fiona.macdonald@example.org")),
        httpx.get(f"{base}/u/nonsense"),
        httpx.get(f"{base}/healthz"),
    ):
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "server" not in answer.headers


def test_health_check_answers_ok(base: str) -> None:
    answer = httpx.get(f"{base}/healthz")
    assert (answer.status_code, answer.text) == (200, "ok")


def test_unknown_pages_and_methods_get_a_plain_page(app: App, base: str) -> None:
    missing = httpx.get(f"{base}/admin.php")
    assert missing.status_code == 404
    assert "Page not found" in missing.text and "Page introuvable" in missing.text
    wrong = httpx.put(base + link(app, "fiona.macdonald@example.org"))
    assert wrong.status_code == 405
    assert "Bad request" in wrong.text


def test_bodies_over_the_limit_get_413_and_change_nothing(app: App, base: str) -> None:
    url = base + link(app, "fiona.macdonald@example.org")

    def chunks() -> Iterator[bytes]:
        yield b"List-Unsubscribe=One-Click&padding="
        for _ in range(20):
            yield b"x" * 65536

    streamed = httpx.post(
        url, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413
    assert "Request too large" in streamed.text
    declared = httpx.post(url, content=b"List-Unsubscribe=One-Click&" + b"x" * 2_000_000)
    assert declared.status_code == 413
    assert suppressed(app) == {}


def test_an_unexpected_error_shows_a_plain_page_without_trace_or_secret(
    app: App, base: str
) -> None:
    path = link(app, "fiona.macdonald@example.org")
    suppressions.drop(app.engine)
    answer = httpx.get(base + path)
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text
    for leak in ("Traceback", "suppressions", "sqlalchemy", SECRET):
        assert leak not in answer.text
