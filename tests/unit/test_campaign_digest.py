"""The digest workers compare: the campaign's files, by path and bytes, wherever they live."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from outreach.config import Settings
from outreach.errors import OutreachError
from outreach.worker.reload import campaign_digest
from tests.conftest import copy_demo


def _digest(folder: Path) -> str:
    return campaign_digest(
        Settings(schedules=folder / "schedules.yaml", templates=folder / "templates")
    )


def test_the_same_files_anywhere_have_one_digest_and_any_change_shows(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = copy_demo(tmp_path / "a", examples=False), copy_demo(tmp_path / "b", examples=False)
    digest = _digest(a)
    assert len(digest) == 64 and _digest(b) == digest
    (b / "examples").mkdir()  # outside the campaign: not in it
    assert _digest(b) == digest

    template = b / "templates" / "last-call.en.j2"
    template.write_bytes(template.read_bytes() + b" ")
    assert _digest(b) != digest
    shutil.copy(a / "templates" / "last-call.en.j2", template)
    assert _digest(b) == digest

    template.rename(b / "templates" / "other.en.j2")  # the same bytes under another name
    assert _digest(b) != digest
    (b / "templates" / "other.en.j2").rename(template)
    (b / "templates" / "drafts").mkdir()
    (b / "templates" / "drafts" / "note.txt").write_text("", encoding="utf-8")
    assert _digest(b) != digest  # every file under templates/ counts


def test_an_unreadable_schedule_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(OutreachError, match=r"schedules.yaml: cannot be read"):
        _digest(tmp_path)
