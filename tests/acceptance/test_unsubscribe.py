"""Unsubscribing and provider feedback as users meet them: a real `outreach serve`, the CLI."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.acceptance.conftest import Outreach, read_eml, sent_emails

ALL_ZONES_DUE = "2018-03-02T04:00:00Z"  # two-weeks-before: 09:00 has passed everywhere
DAY_BEFORE_DUE = "2018-03-15T02:00:00Z"  # day-before: 18:00 on the 14th has passed everywhere
RESUME_HINT = "resume with `outreach campaign resume mexico-refugees`"


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read their settings from the project's `.env` only."""
    for name in [n for n in os.environ if n.startswith(("OUTREACH_", "SENDGRID_"))]:
        monkeypatch.delenv(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def configure(project: Path, **settings: str) -> None:
    """Settings in the project's `.env`, which every command run there reads."""
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))


@contextmanager
def running_server(project: Path, port: int) -> Iterator[str]:
    """`outreach serve` as a subprocess on loopback, until the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SENDGRID_"))}
    log = (project / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "outreach.cli", "serve", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a guard against hanging, not a measurement
        while True:
            try:
                if httpx.get(f"{base}/healthz").text == "ok":
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("outreach serve did not start:\n" + log_text(project))
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def log_text(project: Path) -> str:
    return (project / "serve.log").read_text()


def emails_of(project: Path, reminder: str) -> dict[str, int]:
    """Recipients of one reminder's emails → supporter id (from the file name)."""
    folder = project / "outbox" / "mexico-refugees" / reminder
    return {
        read_eml(path)["To"].addresses[0].addr_spec.lower(): int(path.stem)
        for path in folder.glob("*.eml")
    }


def exported(outreach: Outreach) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(outreach("supporters", "export").stdout))
    return {row["email"]: row for row in rows}


def test_one_click_on_a_sent_emails_link_stops_the_next_reminder(
    project: Path, outreach: Outreach
) -> None:
    port = free_port()
    configure(project, OUTREACH_PUBLIC_URL=f"http://127.0.0.1:{port}")
    outreach("supporters", "import", "examples/supporters.csv")
    outreach("run", "--once", "--now", ALL_ZONES_DUE)
    message = sent_emails(project)["amelie.tremblay@example.org"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"http://127.0.0.1:{port}/u/")

    with running_server(project, port):
        answer = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        assert "set-cookie" not in answer.headers
        assert "Votre désabonnement est confirmé" in answer.text
        assert "Ce lien ne fonctionne pas" in httpx.get(url[:-2] + "xx").text  # tampered

    run = outreach("run", "--once", "--now", DAY_BEFORE_DUE)
    day_before = emails_of(project, "day-before")
    assert "amelie.tremblay@example.org" not in day_before
    assert "genevieve.roy@example.org" in day_before  # also tagged `refugees`
    assert f"mexico-refugees / day-before: sent {len(day_before)}" in run.stdout

    amelie = exported(outreach)["amelie.tremblay@example.org"]
    assert amelie["status"] == "suppressed"
    assert amelie["suppression_reason"] == "unsubscribe"
    assert amelie["suppressed_at"]
    assert (amelie["consent"], amelie["consent_date"], amelie["consent_source"]) == (
        "express",
        "2017-03-12",
        "event:montreal-march",
    )


def signed(key: ec.EllipticCurvePrivateKey, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def test_a_spam_report_pauses_the_campaign_until_an_organizer_resumes_it(
    project: Path, outreach: Outreach
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    port = free_port()
    configure(
        project,
        OUTREACH_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SENDGRID_WEBHOOK_PUBLIC_KEY=base64.b64encode(public).decode(),
    )
    outreach("supporters", "import", "examples/supporters.csv")
    outreach("run", "--once", "--now", ALL_ZONES_DUE)
    fiona = emails_of(project, "two-weeks-before")["fiona.macdonald@example.org"]
    report = {
        "email": "fiona.macdonald@example.org",
        "timestamp": int(time.time()),
        "event": "spamreport",
        "sg_event_id": "spam-1",
        "campaign": "mexico-refugees",
        "reminder": "two-weeks-before",
        "supporter_id": str(fiona),
        "channel": "email",
    }
    body = json.dumps([report]).encode()
    with running_server(project, port) as base:
        unsigned = httpx.post(f"{base}/webhooks/sendgrid", content=body)
        assert unsigned.status_code == 403
        answer = httpx.post(f"{base}/webhooks/sendgrid", content=body, headers=signed(key, body))
        assert answer.json()["paused"] == ["mexico-refugees"]
    assert "campaign mexico-refugees paused" in log_text(project)

    reason = "spam reports at 2.04% of sent (1 of 49)"
    assert f"mexico-refugees PAUSED: {reason}; {RESUME_HINT}" in outreach("status").stdout
    rows = json.loads(outreach("status", "--json", "--now", ALL_ZONES_DUE).stdout)
    two_weeks = next(r for r in rows if r["reminder"] == "two-weeks-before")
    assert (two_weeks["spam_reports"], two_weeks["paused"]) == (1, reason)
    assert exported(outreach)["fiona.macdonald@example.org"]["suppression_reason"] == "spamreport"

    paused_run = outreach("run", "--once", "--now", DAY_BEFORE_DUE)
    assert f"campaign mexico-refugees is paused: {reason}; {RESUME_HINT}" in paused_run.stderr
    assert "Nothing due" in paused_run.stdout
    assert emails_of(project, "day-before") == {}

    assert "mexico-refugees resumed" in outreach("campaign", "resume", "mexico-refugees").stdout
    assert "PAUSED" not in outreach("status").stdout
    outreach("run", "--once", "--now", DAY_BEFORE_DUE)
    day_before = emails_of(project, "day-before")
    assert day_before and "fiona.macdonald@example.org" not in day_before


def test_an_organizer_pauses_and_resumes_a_campaign_by_name(outreach: Outreach) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    paused = outreach("campaign", "pause", "mexico-refugees")
    assert f"mexico-refugees paused; {RESUME_HINT}" in paused.stdout
    run = outreach("run", "--once", "--now", ALL_ZONES_DUE)
    assert "campaign mexico-refugees is paused: paused by an organizer" in run.stderr
    assert "Nothing due" in run.stdout
    assert "was not paused" in outreach("campaign", "resume", "pm-visits").stdout
    assert "mexico-refugees resumed" in outreach("campaign", "resume", "mexico-refugees").stdout
    assert "sent 49" in outreach("run", "--once", "--now", ALL_ZONES_DUE).stdout

    unknown = outreach("campaign", "pause", "nope", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr == "error: no campaign 'nope' in schedules.yaml\n"


def test_serve_refuses_a_bad_webhook_key_in_one_line(project: Path, outreach: Outreach) -> None:
    configure(project, SENDGRID_WEBHOOK_PUBLIC_KEY="c2VjcmV0LWJ1dC1ub3QtYS1rZXk=")
    result = outreach("serve", "--port", str(free_port()), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: SENDGRID_WEBHOOK_PUBLIC_KEY is not a verification key")
    assert "c2VjcmV0" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_check_fails_when_an_email_does_not_name_the_organization(
    project: Path, outreach: Outreach
) -> None:
    for template in (project / "templates").glob("*.j2"):
        text = template.read_text().replace("{{ organization.name }}", "us")
        template.write_text(text)
    result = outreach("check", check=False)
    assert result.returncode == 1
    assert "does not show the organization's name" in result.stderr
