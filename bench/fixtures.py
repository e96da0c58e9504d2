"""The benchmarks' campaigns: the demo, and one that personalizes its post and branches.

`demo` is the repository's schedules.yaml and templates/. `personalized` is
bench/campaigns/personalized/: the demo's due reminder whose suggested post names the
supporter's city and whose email branches on `supporter.city` and on
`supporter.fields.member_since`; it extends the demo's layouts, copied in beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CAMPAIGNS = ("demo", "personalized")
CITIES = ["Halifax", "Montréal", "Toronto", "Winnipeg", "Regina", "Calgary", "Vancouver", "Iqaluit"]


def copy_campaign(name: str, folder: Path) -> tuple[Path, Path]:
    """Campaign `name`'s schedules.yaml and templates folder, copied into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    schedules, templates = folder / "schedules.yaml", folder / "templates"
    if name == "demo":
        shutil.copy(REPO / "schedules.yaml", schedules)
        shutil.copytree(REPO / "templates", templates)
        return schedules, templates
    source = REPO / "bench" / "campaigns" / name
    shutil.copy(source / "schedules.yaml", schedules)
    shutil.copytree(source / "templates", templates)
    for layout in (REPO / "templates").glob("_*.j2"):
        shutil.copy(layout, templates / layout.name)
    return schedules, templates


def city(n: int) -> str:
    """Supporter `n`'s city: one in eleven has none (the branch without it)."""
    return "" if n % 11 == 10 else CITIES[n % 8]


def member_since(n: int) -> str:
    """Supporter `n`'s `member_since` field: a year from 2005 to 2018."""
    return str(2005 + n * 5 % 14)
