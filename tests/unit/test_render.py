"""Rendering: languages and fallback, escaping, blocks and layouts, dates, the demo emails."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from outreach.campaign.model import (
    Campaign,
    Milestone,
    Organization,
    Reminder,
    Schedule,
    Supporter,
    Target,
    Text,
)
from outreach.errors import OutreachError, ProblemsError
from outreach.rendering.environment import mailto
from outreach.rendering.renderer import Renderer
from outreach.rendering.social import share_links
from outreach.rendering.views import RenderedEmail

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ORGANIZATION = Organization(
    "Amnesty International Canada",
    "info@example.org",
    "312 Laurier Avenue East, Ottawa, ON K1N 1H9",
    "https://example.org",
)
DIALOGUE = Milestone(
    "bilateral-dialogue",
    Text({"en": "Bilateral Canada-Mexico Human Rights Dialogue", "fr": "Dialogue bilatéral"}),
    date(2018, 3, 15),
)
UNSUBSCRIBE = "https://example.org/u/TOKEN-123"


def freeland(email: str | None = None) -> Target:
    return Target(
        "freeland",
        Text({"en": "Hon. Chrystia Freeland", "fr": "L'honorable Chrystia Freeland"}),
        Text({"en": "Minister of Foreign Affairs", "fr": "ministre des Affaires étrangères"}),
        {"x": "cafreeland"},
        email,
        "House of Commons, Ottawa, ON K1A 0A6",
    )


def schedule(target: Target | None = None) -> Schedule:
    """The demo campaign of schedules.yaml, built from the model."""
    campaign = Campaign(
        "mexico-refugees",
        Text({"en": "Protect refugees in Mexico", "fr": "Protéger les personnes réfugiées"}),
        "https://example.org/act/mexico-refugees",
        ("RefugeesWelcome",),
        {"freeland": target or freeland()},
        {"bilateral-dialogue": DIALOGUE},
        {
            "two-weeks-before": Reminder(
                "two-weeks-before",
                "bilateral-dialogue",
                timedelta(days=-14),
                "letter-reminder",
                targets=("freeland",),
                announce=True,
            ),
            "day-before": Reminder(
                "day-before", "bilateral-dialogue", timedelta(days=-1), "last-call"
            ),
        },
    )
    return Schedule(ORGANIZATION, "America/Toronto", ("en", "fr"), {campaign.id: campaign})


def supporter(language: str = "en", city: str = "Halifax", first_name: str = "Fiona") -> Supporter:
    return Supporter(
        id=7,
        email="fiona@example.org",
        first_name=first_name,
        last_name="MacDonald",
        city=city,
        region="NS",
        language=language,
    )


def render(
    renderer: Renderer,
    schedule_: Schedule,
    who: Supporter,
    template: str = "letter-reminder",
    send_date: date = date(2018, 3, 1),
    milestone: Milestone | None = DIALOGUE,
) -> RenderedEmail:
    campaign = schedule_.campaigns["mexico-refugees"]
    return renderer.render_email(
        campaign=campaign,
        template=template,
        target_ids=("freeland",),
        milestone=milestone,
        supporter=who,
        send_date=send_date,
        unsubscribe_url=UNSUBSCRIBE,
    )


@pytest.fixture(scope="module")
def demo() -> tuple[Renderer, Schedule]:
    sched = schedule()
    return Renderer(sched, TEMPLATES), sched


def write(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def small(tmp_path: Path, files: dict[str, str]) -> tuple[Renderer, Schedule]:
    sched = schedule()
    return Renderer(sched, write(tmp_path, files), label="templates"), sched


# The demo templates


def test_demo_template_names_and_languages_exclude_layouts(demo: tuple[Renderer, Schedule]):
    renderer, _ = demo
    assert renderer.template_names() == {"letter-reminder", "last-call", "open-letter"}
    assert renderer.languages_of("letter-reminder") == {"en", "fr"}
    assert renderer.languages_of("nope") == frozenset()


def test_french_supporter_gets_french(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    email = render(renderer, sched, supporter("fr"))
    assert email.language == "fr"
    assert (
        email.subject
        == "Fiona, écrirez-vous à la ministre des Affaires étrangères avant le 15 mars ?"
    )
    assert "Madame la Ministre," in email.text
    assert "Se désabonner de ces courriels :" in email.text
    assert '<html lang="fr"' in email.html
    assert "@cafreeland" in email.post and "Mexique" in email.post


def test_regional_variant_gets_its_base_language(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    assert render(renderer, sched, supporter("fr-CA")).language == "fr"


@pytest.mark.parametrize("language", ["es", ""])
def test_language_without_template_falls_back_to_english_as_a_whole(
    demo: tuple[Renderer, Schedule], language: str
):
    renderer, sched = demo
    email = render(renderer, sched, supporter(language))
    assert email.language == "en"
    assert email.subject.startswith("Fiona, will you write to the Minister of Foreign Affairs")
    assert "Dear Minister," in email.text and "Madame" not in email.text
    assert '<html lang="en"' in email.html
    assert email.post.startswith("Mexico is deporting")


def test_city_markup_is_escaped_in_html_and_intact_in_text(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    email = render(renderer, sched, supporter(city="<b>Halifax</b>"))
    assert "I am writing to you from <b>Halifax</b> because" in email.text
    assert "&lt;b&gt;Halifax&lt;/b&gt;" in email.html
    assert "<b>Halifax" not in email.html


def test_letter_helper_opens_with_the_city_and_gives_the_postal_address(
    demo: tuple[Renderer, Schedule],
):
    renderer, sched = demo
    email = render(renderer, sched, supporter(city="Halifax"))
    assert "I am writing to you from Halifax because I am deeply concerned" in email.text
    assert "Hon. Chrystia Freeland\nHouse of Commons, Ottawa, ON K1A 0A6\n" in email.text
    assert "House of Commons, Ottawa, ON K1A 0A6</address>" in email.html
    assert "mailto:" not in email.html  # the demo target has no email address


@pytest.mark.parametrize("language", ["en", "fr"])
def test_letter_helper_without_a_city_reads_well(demo: tuple[Renderer, Schedule], language: str):
    renderer, sched = demo
    email = render(renderer, sched, supporter(language, city=""))
    assert "I am writing to you because" in email.text or "Je vous écris, car" in email.text
    assert " from  " not in email.text and "depuis ," not in email.text
    assert "from ," not in email.text


def test_letter_helper_prefills_an_email_when_the_target_has_one():
    sched = schedule(freeland("chrystia.freeland@example.org"))
    renderer = Renderer(sched, TEMPLATES)
    email = render(renderer, sched, supporter(city="Saint-Louis-du-Ha! Ha! & <Co>"))
    href = re.search(r'href="(mailto:[^"]+)"', email.html)
    assert href is not None
    url = urlsplit(href[1].replace("&amp;", "&"))
    assert url.path == "chrystia.freeland@example.org"
    fields = parse_qs(url.query)
    assert fields["subject"] == ["Protect the rights of people seeking safety in Mexico"]
    body = fields["body"][0]
    assert body.startswith("Dear Minister,\r\n\r\nI am writing to you from Saint-Louis-du-Ha! Ha!")
    assert "& <Co>" in body  # the letter itself, not HTML
    assert "Or email it to chrystia.freeland@example.org." in email.text


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("template", ["letter-reminder", "last-call", "open-letter"])
def test_every_email_shows_the_sender_and_an_unsubscribe_link(
    demo: tuple[Renderer, Schedule], template: str, language: str
):
    renderer, sched = demo
    email = render(renderer, sched, supporter(language), template)
    for part in (email.text, email.html):
        assert ORGANIZATION.name in part
        assert ORGANIZATION.address in part
    assert email.text.rstrip().endswith(UNSUBSCRIBE)
    assert f'href="{UNSUBSCRIBE}"' in email.html


def test_demo_html_is_inlined_responsive_and_accessible(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    html = render(renderer, sched, supporter()).html
    assert '<td class="content" style="padding: 24px;' in html  # CSS inlined
    assert "@media only screen and (max-width: 620px)" in html  # media query kept
    assert "max-width: 600px" in html
    assert 'role="presentation"' in html
    assert 'class="preheader" style="display: none;' in html
    assert "Saúl was deported from Mexico" in html
    assert ">Post on X</a>" in html and ">Unsubscribe from these emails</a>" in html
    assert "click here" not in html.lower()


def test_post_and_share_links_are_the_same_for_everyone(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    first = render(renderer, sched, supporter(city="Halifax"))
    second = render(renderer, sched, supporter(city="Gatineau", first_name="Mathieu"))
    assert first.post == second.post
    assert "@cafreeland" in first.post and "#RefugeesWelcome" in first.post
    links = share_links(first.post, [{"x": "cafreeland"}])  # no Bluesky or Mastodon handle
    assert links["bluesky"] == links["mastodon"] == ""
    assert "bsky.app" not in first.html + first.text and "mastodonshare" not in first.html
    url = links["x"]
    assert url.replace("&amp;", "&") in first.html.replace("&amp;", "&")
    assert unquote(url.split("text=", 1)[1]) == first.post


def test_days_until_counts_from_the_send_date(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    assert "14 days from now" in render(renderer, sched, supporter()).text
    fewer = render(renderer, sched, supporter(), send_date=date(2018, 3, 10))
    assert "5 days from now" in fewer.text
    eve = render(renderer, sched, supporter(), "last-call", send_date=date(2018, 3, 14))
    assert eve.subject.startswith("Tomorrow, Canada and Mexico")
    assert eve.post.startswith("Tomorrow, Canada and Mexico")


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("template", ["letter-reminder", "last-call", "open-letter"])
def test_demo_templates_render_without_a_milestone(
    demo: tuple[Renderer, Schedule], template: str, language: str
):
    renderer, sched = demo
    email = render(renderer, sched, supporter(language), template, milestone=None)
    assert email.subject and "@cafreeland" in email.post


def test_announcement_has_no_supporter_and_tags_the_target(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    text = renderer.render_announcement(
        campaign=sched.campaigns["mexico-refugees"],
        template="letter-reminder",
        target_ids=("freeland",),
        milestone=DIALOGUE,
        language="fr",
    )
    assert text.startswith("Le 15 mars,") and "@cafreeland" in text and "\n" not in text


# Small template folders for the edge cases


def test_undefined_variable_is_an_error_naming_file_and_line(tmp_path: Path):
    renderer, sched = small(
        tmp_path,
        {
            "t.en.j2": "{% block subject %}Hi{% endblock %}\n{% block text %}\n\n{{ nickname }}\n"
            "{% endblock %}"
        },
    )
    with pytest.raises(OutreachError, match=r"^templates/t\.en\.j2:4: unknown variable 'nickname'"):
        render(renderer, sched, supporter(), "t")


def test_missing_attribute_names_its_owner(tmp_path: Path):
    renderer, sched = small(
        tmp_path,
        {
            "t.en.j2": "{% block subject %}{{ supporter.nickname }}{% endblock %}"
            "{% block text %}x{% endblock %}"
        },
    )
    with pytest.raises(ProblemsError, match="supporter has no 'nickname'"):
        render(renderer, sched, supporter(), "t")


def test_syntax_errors_are_all_reported_when_compiling(tmp_path: Path):
    folder = write(
        tmp_path,
        {
            "a.en.j2": "ok\n{% block text %}{% if %}{% endblock %}",
            "_b.j2": "{{ oops(",
            "c.en.j2": '{% extends "_b.j2" %}',
        },
    )
    with pytest.raises(ProblemsError) as caught:
        Renderer(schedule(), folder, label="templates")
    paths = [(p.path, p.line) for p in caught.value.problems]
    assert paths == [("templates/_b.j2", 1), ("templates/a.en.j2", 2)]


def test_badly_named_files_and_unknown_layouts_are_reported(tmp_path: Path):
    folder = write(tmp_path, {"letter.j2": "x", "t.en.j2": '\n{% extends "_missing.j2" %}'})
    with pytest.raises(ProblemsError) as caught:
        Renderer(schedule(), folder, label="templates")
    messages = str(caught.value)
    assert "templates/letter.j2:1: name templates NAME.LANGUAGE.j2" in messages
    assert "templates/t.en.j2:2: extends '_missing.j2'" in messages


def test_missing_text_block_is_an_error(tmp_path: Path):
    renderer, sched = small(tmp_path, {"t.en.j2": "{% block subject %}Hi{% endblock %}"})
    with pytest.raises(ProblemsError, match=r"templates/t\.en\.j2:1: missing \{% block text %\}"):
        render(renderer, sched, supporter(), "t")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "March 15, 2018 | Mar 15, 2018"), ("fr", "15 mars 2018 | 15 mars 2018")],
)
def test_date_filter_is_localized(tmp_path: Path, language: str, expected: str):
    text = "{{ milestone.date|date }} | {{ milestone.date|date('medium') }}"
    renderer, sched = small(
        tmp_path,
        {
            f"t.{language}.j2": "{% block subject %}" + text + "{% endblock %}"
            "{% block text %}x{% endblock %}"
        },
    )
    assert render(renderer, sched, supporter(language), "t").subject == expected


def test_html_is_generated_from_text_when_there_is_no_html_block(tmp_path: Path):
    renderer, sched = small(
        tmp_path,
        {
            "t.en.j2": "{% block subject %}Hi{% endblock %}{% block text %}"
            "Hello {{ supporter.city }} & friends,\nsecond line\n\n"
            "Act now: {{ campaign.url }}.{% endblock %}"
        },
    )
    email = render(renderer, sched, supporter(city="<i>Halifax</i>"), "t")
    assert "Hello <i>Halifax</i> & friends," in email.text
    assert "<p>Hello &lt;i&gt;Halifax&lt;/i&gt; &amp; friends,<br>\nsecond line</p>" in email.html
    link = '<a href="https://example.org/act/mexico-refugees"'
    assert f"<p>Act now: {link}" in email.html and "</a>.</p>" in email.html
    assert '<html lang="en">' in email.html and "<title>Hi</title>" in email.html


def test_blocks_come_from_layouts_and_super_works(tmp_path: Path):
    renderer, sched = small(
        tmp_path,
        {
            "_base.j2": "{% block subject %}Base subject{% endblock %}"
            "{% block text %}Top\n{% block body %}base body{% endblock %}\n\nBottom{% endblock %}"
            "{% block html %}<p>{% block body_html %}{% endblock %}</p>{% endblock %}",
            "_middle.j2": '{% extends "_base.j2" %}'
            "{% block body %}{{ super() }} + middle{% endblock %}",
            "t.en.j2": '{% extends "_middle.j2" %}'
            "{% block body %}{{ super() }} + child{% endblock %}"
            "{% block body_html %}<b>{{ supporter.city }}</b>{% endblock %}",
        },
    )
    email = render(renderer, sched, supporter(city="<i>A&B</i>"), "t")
    assert email.subject == "Base subject"
    assert email.text == "Top\nbase body + middle + child\nBottom\n"
    assert "<p><b>&lt;i&gt;A&amp;B&lt;/i&gt;</b></p>" in email.html


def test_post_is_cached_per_city_when_it_reads_the_city(tmp_path: Path):
    renderer, sched = small(
        tmp_path,
        {
            "t.en.j2": "{% block subject %}s{% endblock %}{% block text %}{{ suggested_post }}"
            "{% endblock %}{% block post %}From {{ supporter.city }} @cafreeland"
            "{% endblock %}"
        },
    )
    posts = [render(renderer, sched, supporter(city=city), "t").post for city in "ABA"]
    assert posts == ["From A @cafreeland", "From B @cafreeland", "From A @cafreeland"]


def test_post_reading_other_supporter_data_is_rendered_for_each(tmp_path: Path):
    renderer, sched = small(
        tmp_path,
        {
            "t.en.j2": "{% block subject %}s{% endblock %}{% block text %}t{% endblock %}"
            "{% block post %}{{ supporter['first_name'] }}{% endblock %}"
        },
    )
    posts = [render(renderer, sched, supporter(first_name=name), "t").post for name in "XY"]
    assert posts == ["X", "Y"]


def test_subject_is_one_line_and_missing_values_print_nothing(tmp_path: Path):
    renderer, sched = small(
        tmp_path,
        {
            "t.en.j2": "{% block subject %}\n  Write   to\n {{ target.name }} {{ target.email }}"
            "\n{% endblock %}{% block text %}x{% endblock %}"
        },
    )
    assert render(renderer, sched, supporter(), "t").subject == "Write to Hon. Chrystia Freeland"


def test_announcement_is_empty_without_its_block(tmp_path: Path):
    renderer, sched = small(
        tmp_path, {"t.en.j2": "{% block subject %}s{% endblock %}{% block text %}t{% endblock %}"}
    )
    text = renderer.render_announcement(
        campaign=sched.campaigns["mexico-refugees"],
        template="t",
        target_ids=(),
        milestone=None,
        language="fr",
    )
    assert text == ""


def test_unknown_template_and_target_are_errors(demo: tuple[Renderer, Schedule]):
    renderer, sched = demo
    with pytest.raises(OutreachError, match="no template 'nope'"):
        render(renderer, sched, supporter(), "nope")
    with pytest.raises(OutreachError, match="has no target 'trudeau'"):
        renderer.render_email(
            campaign=sched.campaigns["mexico-refugees"],
            template="last-call",
            target_ids=("trudeau",),
            milestone=DIALOGUE,
            supporter=supporter(),
            send_date=date(2018, 3, 14),
            unsubscribe_url=UNSUBSCRIBE,
        )


def test_mailto_encodes_subject_and_body():
    url = mailto("a@example.org", subject="Hi & bye", body="Line 1\nLine 2")
    assert url == "mailto:a@example.org?subject=Hi%20%26%20bye&body=Line%201%0D%0ALine%202"
    assert mailto("a@example.org") == "mailto:a@example.org"
