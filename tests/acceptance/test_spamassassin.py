"""Every demo email, as the outbox writes it, passes SpamAssassin's local rules with room."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.conftest import Outreach, read_eml

MAX_SCORE = 0.5
DUE = ["2018-02-13T18:00:00Z", "2018-03-02T04:00:00Z", "2018-03-15T03:00:00Z"]
"""After each demo reminder's local send time, everywhere in Canada."""
TEMPLATES = {"week-before": "open-letter", "two-weeks-before": "letter-reminder"}
TEMPLATES["day-before"] = "last-call"
SPAMASSASSIN = shutil.which("spamassassin")


def one_email_each(project: Path) -> dict[tuple[str, str], Path]:
    """One written email per template and language: (template, language) → file."""
    found: dict[tuple[str, str], Path] = {}
    for path in sorted((project / "outbox").rglob("*.eml")):
        language = str(read_eml(path)["Content-Language"])
        found.setdefault((TEMPLATES[path.parent.name], language), path)
    return found


def score(path: Path) -> tuple[float, str]:
    """SpamAssassin's score with local rules only (no network tests), and its report."""
    assert SPAMASSASSIN is not None
    result = subprocess.run(
        [SPAMASSASSIN, "-L", "-t"],
        input=path.read_bytes(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    report = result.stdout.decode("utf-8", "replace")
    found = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, re.MULTILINE)
    assert found, f"no X-Spam-Status in SpamAssassin's output:\n{report[:2000]}"
    return float(found.group(1)), report[report.find("Content analysis details") :]


@pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed (.ci/run does)")
def test_every_demo_template_and_language_scores_at_most_half_a_point(
    project: Path, outreach: Outreach
) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    for now in DUE:
        outreach("run", "--once", "--now", now)
    emails = one_email_each(project)
    assert set(emails) == {(t, lang) for t in TEMPLATES.values() for lang in ("en", "fr")}
    for (template, language), path in sorted(emails.items()):
        points, report = score(path)
        assert points <= MAX_SCORE, f"{template}.{language}: {points}\n{report}"
