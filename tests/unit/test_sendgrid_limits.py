"""SendGrid's limits: 1,000 personalizations a request, 10,000 bytes of substitutions each."""

from __future__ import annotations

from datetime import UTC, datetime

from outreach.messages import OutgoingEmail, Skeleton
from outreach.transports.sendgrid import MAX_PERSONALIZATIONS, SendGridTransport

SKELETON = Skeleton("Hi -{{city}}", "From -{{city}}\n", "<p>-{{city:html}}</p>", "en")


def email(index: int, city: str) -> OutgoingEmail:
    return OutgoingEmail(
        supporter_id=index,
        campaign="c",
        reminder="r",
        to_email=f"p{index}@example.org",
        to_name="",
        from_email="org@example.org",
        from_name="Org",
        language="en",
        message_id=f"<{index}@example.org>",
        skeleton=SKELETON,
        substitutions={"-{{city}}": city, "-{{city:html}}": city},
    )


def test_requests_carry_at_most_1000_and_oversized_substitutions_go_alone_whole() -> None:
    transport = SendGridTransport("key", clock=lambda: datetime(2018, 3, 1, tzinfo=UTC))
    big = "é" * 3000  # 6,000 bytes, twice: over 10,000
    emails = [email(i, f"City{i}") for i in range(2500)] + [email(9999, big)]
    requests = list(transport._requests(emails))
    sizes = sorted(len(r.personalizations) for r in requests)
    assert sizes == [1, 500, 1000, 1000]
    alone = next(r for r in requests if r.emails[0].supporter_id == 9999)
    body = alone.body()
    assert "substitutions" not in body["personalizations"][0]
    assert body["subject"] == f"Hi {big}" and body["content"][0]["value"] == f"From {big}\n"
    assert all(len(r.personalizations) <= MAX_PERSONALIZATIONS for r in requests)
    shared = [r for r in requests if len(r.emails) > 1]
    assert all(r.body()["subject"] == "Hi -{{city}}" for r in shared)
