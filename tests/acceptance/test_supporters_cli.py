"""`outreach supporters` on more rows than one chunk, and the export's record of consent."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.acceptance.conftest import Outreach

ROWS = 2500  # more than two import chunks


def _write(path: Path, city: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "city", "region", "consent", "consent_date"])
        for i in range(ROWS):
            consent = ("implied", "2015-01-01") if i == 0 else ("express", "2017-01-01")
            writer.writerow([f"p{i}@Example.org", f"P{i}", city, "ON", *consent])


def test_import_update_and_export_many_rows(project: Path, outreach: Outreach) -> None:
    _write(project / "many.csv", "Ottawa")
    assert f"imported {ROWS}, updated 0" in outreach("supporters", "import", "many.csv").stdout
    _write(project / "many.csv", "Kingston")
    assert f"imported 0, updated {ROWS}" in outreach("supporters", "import", "many.csv").stdout
    outreach("supporters", "unsubscribe", "p1@example.org")
    outreach("supporters", "export", "out.csv")
    with (project / "out.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["email"]: row for row in csv.DictReader(handle)}
    assert len(rows) == ROWS
    assert {row["city"] for row in rows.values()} == {"Kingston"}
    assert rows["p0@example.org"]["status"] == "lapsed"
    assert rows["p0@example.org"]["consent"] == "implied"
    assert rows["p0@example.org"]["consent_date"] == "2015-01-01"
    assert rows["p1@example.org"]["status"] == "suppressed"
    assert rows["p1@example.org"]["suppression_reason"] == "manual"
    assert rows["p1@example.org"]["suppressed_at"]
    assert rows["p2@example.org"]["status"] == "active"
