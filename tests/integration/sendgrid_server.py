"""A local SendGrid: checks every Mail Send request against SendGrid's own OpenAPI contract.

It listens on 127.0.0.1, validates each body against the `POST /v3/mail/send` request schema
of `tests/contracts/sendgrid-mail-v3.openapi.json` (a copy of `../shared/contracts`; with
jsonschema, $refs resolved in the contract) plus the limits SendGrid states in words, checks
`Authorization: Bearer <key>`, records what it accepted, and answers 202, or on demand 400
(for chosen recipients, SendGrid-style), 401, 429 (with rate-limit headers), 5xx, or no
answer in time.

Run as a script (`python tests/integration/sendgrid_server.py [--validate-every N]
[--validate-during]`) it serves in its own process, prints its port, keeps one body in N and
reports counts at `GET /stats`. It validates the bodies kept once `/stats` is asked, after the
benchmark's clock has stopped (SendGrid checks bodies on its own machines, not on the cores
outreach sends from), or with `--validate-during` in a thread of its own while requests come
in; either way after answering, so that jsonschema never holds the client up.
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
"""SendGrid's published contract (MIT, see sendgrid-oai.LICENSE), kept with the tests so that
they run wherever the repository is cloned."""
CONTRACT = CONTRACTS / "sendgrid-mail-v3.openapi.json"
_BASE = "urn:sendgrid-mail-v3"
_SCHEMA = "/components/requestBodies/PostMailSend/content/application~1json/schema"
SUBSTITUTIONS_LIMIT = 10_000
SCHEDULE_LIMIT = 72 * 3600


def request_validator() -> Draft7Validator:
    """A validator for Mail Send bodies, straight from the contract file."""
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    resource = Resource.from_contents(contract, default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resource(_BASE, resource)
    return Draft7Validator(
        {"$ref": f"{_BASE}#{_SCHEMA}"}, registry=registry, format_checker=FormatChecker()
    )


def as_sent(body: dict[str, Any], personalization: dict[str, Any]) -> dict[str, Any]:
    """One email as SendGrid makes it: the request's fields, overridden by the
    personalization's; the headers of both, the personalization's first."""
    shared = {k: v for k, v in body.items() if k != "personalizations"}
    headers = {**shared.get("headers", {}), **personalization.get("headers", {})}
    return {**shared, **personalization, "headers": headers}


def stated_limits(body: dict[str, Any], now: float) -> list[str]:
    """What SendGrid's documentation demands beyond the schema."""
    problems = []
    content = [part.get("type") for part in body.get("content", [])]
    if "text/plain" in content and content.index("text/plain") != 0:
        problems.append("content: text/plain must come first")
    for index, personalization in enumerate(body.get("personalizations", [])):
        substitutions = personalization.get("substitutions", {})
        size = sum(len(k.encode()) + len(str(v).encode()) for k, v in substitutions.items())
        if size > SUBSTITUTIONS_LIMIT:
            problems.append(f"personalizations.{index}.substitutions: {size} bytes")
        sent = as_sent(body, personalization)
        for name in ("custom_args", "headers"):
            if not all(isinstance(v, str) for v in sent.get(name, {}).values()):
                problems.append(f"personalizations.{index}.{name}: values must be strings")
        send_at = personalization.get("send_at", body.get("send_at"))
        if send_at is not None and send_at > now + SCHEDULE_LIMIT:
            problems.append(f"personalizations.{index}.send_at: more than 72 hours ahead")
    return problems


@dataclass
class Fault:
    """An answer to give instead of 202."""

    status: int
    reset: float | None = None
    stall: float = 0.0


@dataclass
class SendGridServer:
    """The server's state: its key, faults to come, and what it received."""

    api_key: str = "SG.test-key"
    validate_every: int = 1
    keep: bool = True
    """Keep each request body (tests); the benchmark only counts."""
    background: bool = False
    """Validate after answering, in a thread of its own (the benchmark: it never holds the
    client up, and `stats` waits until every body is checked)."""
    deferred: bool = False
    """With `background`: validate only once `stats` is asked (the benchmark, by default:
    SendGrid checks bodies on its own machines, not on the two cores outreach sends from)."""
    latency: float = 0.0
    """Seconds before each answer, as the API takes across the internet (the benchmark)."""
    refused: set[str] = field(default_factory=set)
    refused_senders: set[str] = field(default_factory=set)
    """Senders answered 400 about `from.email` (an unverified sender, say)."""
    faults: list[Fault | None] = field(default_factory=list)
    """What to answer the next requests, one each (None: answer as usual)."""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    """Each accepted personalization, with the request's subject and content."""
    invalid: list[str] = field(default_factory=list)
    requests: int = 0
    personalizations: int = 0
    seen: int = 0
    validated: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._validator = request_validator()
        self._backlog: queue.Queue[bytes] = queue.Queue()
        self._validating = threading.Event()
        if not self.deferred:
            self._validating.set()
        if self.background:
            threading.Thread(target=self._validate_backlog, daemon=True).start()

    def refuse(self, *emails: str) -> None:
        """Answer 400 to any request that has one of these recipients."""
        self.refused.update(emails)

    def fail_next(self, status: int, times: int = 1, reset: float | None = None) -> None:
        """Answer `status` to the next `times` requests (429: with this X-RateLimit-Reset)."""
        self.faults.extend(Fault(status, reset) for _ in range(times))

    def pass_next(self, times: int) -> None:
        """Answer the next `times` requests as usual (before the faults queued after)."""
        self.faults.extend(None for _ in range(times))

    def stall_next(self, seconds: float) -> None:
        """Answer the next request (503, accepting nothing) only after `seconds`."""
        self.faults.append(Fault(503, stall=seconds))

    def answer(self, authorization: str, raw: bytes) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body for one request."""
        with self.lock:
            self.requests += 1
            fault = self.faults.pop(0) if self.faults else None
        time.sleep(self.latency)
        if authorization != f"Bearer {self.api_key}":
            return (
                401,
                {},
                _errors("The provided authorization grant is invalid, expired, or revoked"),
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {}, _errors("Bad Request", None)
        problems = []
        if self._sampled():
            if self.background:
                self._backlog.put(raw)
            else:
                problems = self._check(body)
        with self.lock:
            if self.keep:
                self.bodies.append(body)
        if problems:
            return 400, {}, _errors("; ".join(problems[:5]), None)
        if fault is not None:
            time.sleep(fault.stall)  # a stall outlasts the client: it accepts nothing either
            headers = {}
            if fault.status == 429:
                headers = {
                    "X-RateLimit-Limit": "600",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(fault.reset or time.time())),
                }
            return fault.status, headers, _errors(f"simulated {fault.status}", None)
        if body["from"]["email"] in self.refused_senders:
            return (
                400,
                {},
                _errors("The from address does not match a verified Sender", "from.email"),
            )
        personalizations = body["personalizations"]
        for index, personalization in enumerate(personalizations):
            if personalization["to"][0]["email"] in self.refused:
                field_name = f"personalizations.{index}.to.0.email"
                return 400, {}, _errors("Does not contain a valid address.", field_name)
        with self.lock:
            self.personalizations += len(personalizations)
            if self.keep:
                self.accepted.extend(as_sent(body, p) for p in personalizations)
        return 202, {"X-Message-Id": f"msg-{self.requests}"}, None

    def _sampled(self) -> bool:
        """Whether the body just received is one of those checked (one in `validate_every`)."""
        with self.lock:
            self.seen += 1
            return (self.seen - 1) % self.validate_every == 0

    def _check(self, body: Any) -> list[str]:
        """Contract violations of a body, also kept in `invalid`."""
        problems = [
            f"{'.'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
            for e in self._validator.iter_errors(body)
        ]
        problems = problems or stated_limits(body, time.time())
        with self.lock:
            self.validated += 1
            self.invalid.extend(problems)
        return problems

    def _validate_backlog(self) -> None:
        self._validating.wait()
        while True:
            self._check(json.loads(self._backlog.get()))
            self._backlog.task_done()

    def stats(self) -> dict[str, int]:
        """Counts so far (once every body sampled is checked)."""
        self._validating.set()
        self._backlog.join()
        with self.lock:
            return {
                "requests": self.requests,
                "personalizations": self.personalizations,
                "validated": self.validated,
                "invalid": len(self.invalid),
            }


def _errors(message: str, field_name: str | None = None) -> dict[str, Any]:
    """A SendGrid error body."""
    return {"errors": [{"message": message, "field": field_name, "help": None}]}


def _handler(state: SendGridServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v3/mail/send":
                self._reply(404, {}, _errors("not found"))
                return
            self._reply(*state.answer(self.headers.get("Authorization", ""), raw))

        def do_GET(self) -> None:
            self._reply(200, {}, state.stats())

        def _reply(self, status: int, headers: dict[str, str], body: Any) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(state: SendGridServer) -> Iterator[str]:
    """Serve `state` on a free port of 127.0.0.1; yields the base URL (SENDGRID_HOST)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    """Serve until killed, for a benchmark in another process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-key", default="SG.bench-key")
    parser.add_argument("--validate-every", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--validate-during",
        action="store_true",
        help="validate while requests come in (default: once GET /stats is asked)",
    )
    args = parser.parse_args()
    state = SendGridServer(
        args.api_key,
        args.validate_every,
        keep=False,
        background=True,
        deferred=not args.validate_during,
        latency=args.latency,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
