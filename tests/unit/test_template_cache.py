"""The templates' bytecode cache: shared across renderers, one per environment, never stale."""

from __future__ import annotations

import logging
import shutil
import stat
from pathlib import Path

import pytest
from jinja2.bccache import BytecodeCache

import outreach
from outreach.app import App
from outreach.config import Settings
from outreach.rendering.environment import template_environment
from outreach.rendering.fingerprint import environment_key
from outreach.rendering.renderer import Renderer
from outreach.rendering.sandbox import BudgetedSandbox
from outreach.template_cache import bytecode_caches
from tests.unit.test_render import TEMPLATES, render, schedule, supporter, write

MARKUP = {
    "letter-reminder.en.j2": (
        "{% block subject %}Hello {{ supporter.first_name }}{% endblock %}"
        "{% block text %}{{ '<b>' }} from {{ supporter.city }}{% endblock %}"
        "{% block html %}<p>{{ '<b>' }} from {{ supporter.city }}</p>{% endblock %}"
    )
}


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The template files compiled from source, in any environment (not `from_string`)."""
    names: list[str] = []
    original = BudgetedSandbox.compile

    def counting(self: BudgetedSandbox, source: object, name: str | None = None, *a, **k):  # type: ignore[no-untyped-def]
        if name is not None:
            names.append(name)
        return original(self, source, name, *a, **k)

    monkeypatch.setattr(BudgetedSandbox, "compile", counting)
    return names


def cache_files(folder: Path) -> dict[str, int]:
    """Subfolder → number of cached templates in it."""
    return {sub.name: len(list(sub.iterdir())) for sub in sorted(folder.iterdir())}


def test_a_second_renderer_loads_every_template_from_the_cache(
    tmp_path: Path, compiles: list[str]
) -> None:
    cache = tmp_path / "cache"
    first = Renderer(schedule(), TEMPLATES, cache_for=bytecode_caches(cache))
    files = len(list(TEMPLATES.rglob("*.j2")))
    assert len(compiles) == 2 * files  # each file, plain and HTML
    assert sorted(n.split("-")[0] for n in cache_files(cache)) == ["html", "plain"]
    assert set(cache_files(cache).values()) == {files}
    compiles.clear()
    second = Renderer(schedule(), TEMPLATES, cache_for=bytecode_caches(cache))
    assert compiles == []
    for who in (supporter(), supporter("fr", city="<Montréal & co>")):
        assert render(second, schedule(), who) == render(first, schedule(), who)


def test_plain_and_html_code_stay_apart_after_a_cache_hit(
    tmp_path: Path, compiles: list[str]
) -> None:
    cache = tmp_path / "cache"
    folder = write(tmp_path, MARKUP)
    Renderer(schedule(), folder, cache_for=bytecode_caches(cache))
    compiles.clear()
    renderer = Renderer(schedule(), folder, cache_for=bytecode_caches(cache))
    assert compiles == []
    email = render(renderer, schedule(), supporter(city="A&B"))
    assert email.text.strip() == "<b> from A&B"
    assert "<p>&lt;b&gt; from A&amp;B</p>" in email.html


def test_an_edited_template_is_compiled_again(tmp_path: Path, compiles: list[str]) -> None:
    cache = tmp_path / "cache"
    folder = write(tmp_path, MARKUP)
    Renderer(schedule(), folder, cache_for=bytecode_caches(cache))
    edited = MARKUP["letter-reminder.en.j2"].replace("from", "writing from")
    (folder / "letter-reminder.en.j2").write_text(edited, encoding="utf-8")
    compiles.clear()
    renderer = Renderer(schedule(), folder, cache_for=bytecode_caches(cache))
    assert compiles == ["letter-reminder.en.j2"] * 2
    assert render(renderer, schedule(), supporter()).text.strip() == "<b> writing from Halifax"


def test_another_release_or_sandbox_gets_folders_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = template_environment(TEMPLATES, autoescape=False)
    html = template_environment(TEMPLATES, autoescape=True)
    key = environment_key(plain)
    assert key == environment_key(template_environment(TEMPLATES, autoescape=False))
    assert key.startswith("plain-") and environment_key(html).startswith("html-")
    assert key[6:] != environment_key(html)[5:]
    monkeypatch.setattr(plain, "intercepted_binops", frozenset({"*", "**", "//"}))
    assert environment_key(plain) != key
    monkeypatch.undo()
    monkeypatch.setattr(outreach, "__version__", "9.9.9")
    assert environment_key(plain) != key


def test_a_cache_path_that_is_not_a_folder_only_costs_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="outreach.template_cache"):
        renderer = Renderer(schedule(), TEMPLATES, cache_for=bytecode_caches(cache))
    assert render(renderer, schedule(), supporter()).subject
    assert [r.getMessage() for r in caplog.records] == [
        f"template cache {cache} not used (File exists): templates are compiled in each "
        "process; set OUTREACH_CACHE to a folder outreach may write"
    ]


def test_a_folder_others_may_write_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    with caplog.at_level(logging.WARNING, logger="outreach.template_cache"):
        Renderer(schedule(), TEMPLATES, cache_for=bytecode_caches(cache))
    assert list(cache.iterdir()) == []
    assert len(caplog.records) == 1
    assert "others may write to" in caplog.records[0].getMessage()


def test_a_cache_that_fails_while_writing_is_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    caches = bytecode_caches(cache)

    def vanishing(key: str) -> BytecodeCache | None:
        found = caches(key)
        shutil.rmtree(cache / key)
        (cache / key).write_text("in the way")
        return found

    with caplog.at_level(logging.WARNING, logger="outreach.template_cache"):
        renderer = Renderer(schedule(), TEMPLATES, cache_for=vanishing)
    assert render(renderer, schedule(), supporter()).subject
    assert len(caplog.records) == 1


def test_the_app_keeps_its_cache_in_an_owner_only_folder(tmp_path: Path) -> None:
    cache = tmp_path / "state" / "cache"
    settings = Settings.from_env(
        {
            "OUTREACH_SCHEDULES": str(TEMPLATES.parent / "schedules.yaml"),
            "OUTREACH_TEMPLATES": str(TEMPLATES),
            "OUTREACH_CACHE": str(cache),
        }
    )
    assert App(settings).renderer.template_names()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert sorted(n.split("-")[0] for n in cache_files(cache)) == ["html", "plain"]
