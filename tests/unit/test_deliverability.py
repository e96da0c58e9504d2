"""What mailbox providers look at: hidden text, list headers, Message-IDs, folded subjects."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_preheader_is_hidden_by_display_not_by_a_colour_trick() -> None:
    layout = (REPO / "templates" / "_layout.j2").read_text(encoding="utf-8")
    style = re.search(r'class="preheader" style="([^"]*)"', layout)
    assert style is not None
    declarations = {d.split(":")[0].strip() for d in style.group(1).split(";") if d.strip()}
    assert {"display", "max-height", "overflow", "mso-hide", "opacity"} <= declarations
    assert "color" not in declarations
