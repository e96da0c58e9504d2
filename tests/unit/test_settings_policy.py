"""A real transport refuses settings that would embarrass: one line naming the variable."""

from __future__ import annotations

import pytest

from outreach.config import Settings
from outreach.errors import OutreachError

SECRET = "s" * 32
GOOD = {
    "OUTREACH_EMAIL_TRANSPORT": "sendgrid",
    "OUTREACH_PUBLIC_URL": "https://act.example.org",
    "OUTREACH_SECRET_KEY": SECRET,
    "SENDGRID_API_KEY": "SG.key",
}


def test_good_settings_pass() -> None:
    Settings.from_env(GOOD)
    Settings.from_env({**GOOD, "SENDGRID_HOST": "http://127.0.0.1:8025"})  # the tests' server


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"OUTREACH_PUBLIC_URL": ""}, "OUTREACH_PUBLIC_URL"),  # the localhost default
        ({"OUTREACH_PUBLIC_URL": "http://act.example.org"}, "OUTREACH_PUBLIC_URL"),
        ({"OUTREACH_PUBLIC_URL": "https://localhost:8000"}, "OUTREACH_PUBLIC_URL"),
        ({"OUTREACH_SECRET_KEY": "x"}, "OUTREACH_SECRET_KEY"),
        ({"SENDGRID_HOST": "http://sendgrid.evil.example"}, "SENDGRID_HOST"),
        (
            {
                "OUTREACH_EMAIL_TRANSPORT": "smtp",
                "SMTP_HOST": "mail.example.org",
                "SMTP_USERNAME": "bot",
                "SMTP_SECURITY": "none",
            },
            "SMTP_SECURITY",
        ),
    ],
)
def test_a_real_transport_refuses_embarrassing_settings(
    changes: dict[str, str], variable: str
) -> None:
    with pytest.raises(OutreachError) as caught:
        Settings.from_env({**GOOD, **changes})
    message = str(caught.value)
    assert message.startswith(variable) and "\n" not in message


def test_the_outbox_accepts_anything() -> None:
    Settings.from_env({"OUTREACH_PUBLIC_URL": "http://localhost:8000", "OUTREACH_SECRET_KEY": "x"})
