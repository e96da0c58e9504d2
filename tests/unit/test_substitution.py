"""Render once, fill in per supporter: the same emails as rendering each one alone, to the byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from outreach.campaign.loader import load_schedule
from outreach.campaign.model import Schedule
from outreach.delivery.compose import Composer
from outreach.messages import OutgoingEmail
from outreach.rendering.checks import per_recipient_notes
from outreach.rendering.renderer import Renderer
from outreach.store.people import supporter_from_row
from outreach.timeline import Send, reminder_sends
from outreach.tokens import TokenSigner

REPO = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://act.example.org"
ZONE = "America/Halifax"

PEOPLE = [
    ("Fiona", "MacDonald", "Halifax", "en"),
    ("Amélie", "Tremblay", "Montréal", "fr"),
    ("Marie", "Roy", "Québec", "fr-CA"),
    ("José", "García", "Oaxaca", "es"),
    ("Zoë", "", "Saint-Louis-du-Ha! Ha!", "de"),
    ("", "", "", "fr"),
    ("", "Solo", "", "en"),
    ("O'Brien & <b>Co</b>", 'Jo "JJ" <script>alert(1)</script>', "L'Assomption &amp; <i>", "en"),
    ("Ann\r\nBcc: evil@example.org", "Doe", "Hali\nfax", "en"),
    ("  Padded ", "Double  Space", "Tab\tCity", "fr"),
    ("https://evil.example/x", "Link", "City", "en"),
    ("-{{city}}", "{{ supporter.email }}", "%7B%7B%22city%7D%7D", "fr"),
    ("\u00a0Nbsp", "Line\u2028Separator", "Zero\u200bWidth", "en"),
]


def row(index: int, first: str, last: str, city: str, language: str) -> dict[str, Any]:
    return {
        "id": index + 1,
        "email": f"person{index}@example.org",
        "first_name": first,
        "last_name": last,
        "city": city,
        "region": "NS",
        "language": language,
        "timezone": ZONE,
        "fields": "{}",
        "zone": ZONE,
    }


ROWS = [row(i, *person) for i, person in enumerate(PEOPLE)]


def demo(target_email: str | None = None) -> Schedule:
    """The demo schedule; its minister has an email address when `target_email` is given."""
    schedule = load_schedule(REPO / "schedules.yaml")
    campaign = schedule.campaigns["mexico-refugees"]
    freeland = replace(campaign.targets["freeland"], email=target_email)
    campaign = replace(campaign, targets={"freeland": freeland})
    return replace(schedule, campaigns={**schedule.campaigns, campaign.id: campaign})


def composer(schedule: Schedule, templates: Path = REPO / "templates") -> Composer:
    return Composer(schedule, Renderer(schedule, templates), TokenSigner("k"), PUBLIC_URL)


def alone(
    composer_: Composer, send: Send, email: OutgoingEmail, rows: list[dict[str, Any]] = ROWS
) -> tuple[str, str, str, str]:
    """The email rendered for its supporter alone (with its unsubscribe link: tokens are timed)."""
    supporter = next(s for s in map(supporter_from_row, rows) if s.id == email.supporter_id)
    link = email.headers["List-Unsubscribe"].strip("<>")
    rendered = composer_.renderer.render_send(send, supporter, send.local_date(ZONE), link)
    return rendered.subject, rendered.text, rendered.html, rendered.language


def parts(email: OutgoingEmail) -> tuple[str, str, str, str]:
    return email.subject, email.text, email.html, email.language


@pytest.mark.parametrize("target_email", [None, "minister@example.org"])
def test_every_demo_email_is_what_rendering_it_alone_gives(target_email: str | None) -> None:
    composer_ = composer(demo(target_email))
    for send in reminder_sends(composer_.schedule):
        for data in ROWS:
            email = composer_.compose(send, data)
            assert parts(email) == alone(composer_, send, email), (send.key, data["first_name"])


def test_markup_and_quotes_are_filled_in_escaped_for_each_place() -> None:
    composer_ = composer(demo("minister@example.org"))
    send = next(iter(reminder_sends(composer_.schedule)))  # letter-reminder
    email = composer_.compose(send, ROWS[7])
    assert email.skeleton is not None
    values = email.substitutions
    assert values["-{{first_name}}"] == "O'Brien & <b>Co</b>"
    assert values["-{{first_name:html}}"] == "O'Brien &amp; &lt;b&gt;Co&lt;/b&gt;"
    assert values["-{{city:url}}"] == "L%27Assomption%20%26amp%3B%20%3Ci%3E"  # the mailto: body
    assert "-{{city:html}}" in email.skeleton.html and "-{{city}}" in email.skeleton.text
    assert "<b>" not in email.html and "<script>" not in email.html
    assert "-{{" not in email.text + email.html + email.subject


@pytest.mark.parametrize("index", [8, 9, 10, 11, 12])
def test_line_breaks_odd_spaces_links_and_tags_in_values_are_rendered_alone(index: int) -> None:
    composer_ = composer(demo())
    send = next(iter(reminder_sends(composer_.schedule)))
    email = composer_.compose(send, ROWS[index])
    assert email.skeleton is None and email.substitutions == {}
    assert parts(email) == alone(composer_, send, email)


def test_supporters_who_print_and_test_alike_share_one_rendering() -> None:
    composer_ = composer(demo())
    send = next(iter(reminder_sends(composer_.schedule)))
    english = [row(i, f"First{i}", f"Last{i}", f"City{i}", "en") for i in range(5)]
    skeletons = {id(composer_.compose(send, data).skeleton) for data in english}
    assert len(skeletons) == 1
    no_city = composer_.compose(send, row(9, "Nina", "Noc", "", "en")).skeleton
    french = composer_.compose(send, row(10, "Luc", "Roy", "Laval", "fr")).skeleton
    assert len(skeletons | {id(no_city), id(french)}) == 3


def small(
    tmp_path: Path, text: str, post: str = "@cafreeland", html: str = ""
) -> tuple[Composer, Send]:
    """A one-file template `t` with this text block (and html block), and a send of it."""
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "_inc.j2").write_text("{{ supporter.city }}", encoding="utf-8")
    (folder / "t.en.j2").write_text(
        "{% block subject %}Hi {{ supporter.first_name }}{% endblock %}\n"
        f"{{% block text %}}{text}\n{{{{ unsubscribe_url }}}}{{% endblock %}}\n"
        f"{{% block post %}}{post}{{% endblock %}}\n"
        + (f"{{% block html %}}{html}{{% endblock %}}\n" if html else ""),
        encoding="utf-8",
    )
    schedule = demo()
    composer_ = composer(schedule, folder)
    send = replace(next(iter(reminder_sends(schedule))), template="t")
    return composer_, send


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{ supporter.city }}, {{ supporter.name }} <{{ supporter.email }}>", None),
        ("{% if supporter.city and not supporter.region %}{{ supporter.city }}{% endif %}", None),
        ("{{ 'from ' ~ 'afar' if not supporter.city else supporter.city }}", None),
        ("{{ 'here' if supporter.city else 'there' }}", None),
        ("{% for t in targets if supporter.city %}{{ t.name }}{% endfor %}", None),
        ("{{ mailto('a@example.org', body=supporter.city) }}", None),
        ("{{ mailto(supporter.email) }}", "transforms supporter.email"),
        ("{% block b %} {{ supporter.city }} {% endblock %}|{{ self.b()|trim }}", None),
        ("{% if supporter.language == 'fr' %}Bonjour{% endif %}", None),
        ("{{ supporter.city|upper }} {{ supporter.city|truncate(5, True, '') }}", None),
        ("{% if supporter.city == 'Halifax' %}home{% endif %}", None),
        ("{% if supporter.city|length > 6 or supporter.city is string %}x{% endif %}", None),
        ("{{ supporter.city|replace('a', '&') ~ '<' }}", None),
        ("{% for t in targets %}{{ loop.index ~ supporter.city }}{% endfor %}", "loop"),
        ("{{ supporter.city|paragraphs|upper }}", "t.en.j2:2: transforms supporter.city"),
        ("{% for c in supporter.city %}{{ c }}{% endfor %}", "transforms supporter.city"),
        ("{% set c = supporter.city %}{{ c }}", "transforms supporter.city"),
        ("{% macro m() %}{{ supporter.city }}{% endmacro %}{{ m() }}", "transforms"),
        ("{% if supporter.fields %}member{% endif %}", None),
        ("{% set supporter = 1 %}{{ supporter }}", "t.en.j2:2: assigns 'supporter'"),
        ("{{ supporter['city'] }}", None),
        ("{{ supporter }}", "uses `supporter` other than through one of its fields"),
        ("{% block b %}{{ supporter.city }}{% endblock %}{{ self.b()|upper }}", "'b' block"),
        ("{{ unsubscribe_url|replace('u', 'v') }}", "transforms unsubscribe_url"),
        ('{% include "_inc.j2" %}', "uses another template"),
    ],
)
def test_templates_that_branch_on_supporter_data_are_rendered_for_each(
    tmp_path: Path, text: str, reason: str | None
) -> None:
    composer_, send = small(tmp_path, text)
    personalization = composer_.renderer.personalization("t", "en")[1]
    if reason is None:
        assert personalization.shared
    else:
        assert personalization.reason is not None and reason in personalization.reason
    emails = [composer_.compose(send, data) for data in ROWS]
    assert [parts(email) for email in emails] == [alone(composer_, send, e) for e in emails]
    assert (emails[0].skeleton is not None) == personalization.shared
    assert personalization.shared or all(email.skeleton is None for email in emails)


def test_a_block_printing_supporter_data_may_go_through_paragraphs(tmp_path: Path) -> None:
    html = "<div>{{ self.b()|paragraphs }}</div><a href='{{ unsubscribe_url }}'>x</a>"
    composer_, send = small(tmp_path, "{% block b %}{{ supporter.city }}{% endblock %}", html=html)
    emails = [composer_.compose(send, data) for data in ROWS]
    assert [parts(email) for email in emails] == [alone(composer_, send, e) for e in emails]
    assert emails[0].skeleton is not None and "<p>-{{city:html}}</p>" in emails[0].skeleton.html


def test_a_marker_escaped_twice_makes_the_group_render_alone(tmp_path: Path) -> None:
    text = "{% block b %}{{ supporter.city }}{% endblock %}|{{ self.b()|paragraphs }}"
    composer_, send = small(tmp_path, text)  # paragraphs in the text, and the HTML from it
    assert composer_.renderer.personalization("t", "en")[1].shared
    emails = [composer_.compose(send, data) for data in ROWS]
    assert [parts(email) for email in emails] == [alone(composer_, send, e) for e in emails]
    assert emails[0].skeleton is None  # Halifax; those without a city share theirs


def test_a_post_printing_supporter_data_is_filled_in_with_its_share_links(tmp_path: Path) -> None:
    post = "Writing from {{ supporter.city }}: @cafreeland #{{ supporter.first_name|upper }}"
    text = "{{ suggested_post }}\n{{ share.x }}\n{{ share.mastodon }}"
    html = "<p>{{ suggested_post }}</p><a href='{{ share.bluesky }}'>x</a> {{ unsubscribe_url }}"
    composer_, send = small(tmp_path, text, post=post, html=html)
    assert per_recipient_notes(composer_.renderer, "templates") == []
    emails = [composer_.compose(send, data) for data in ROWS]
    assert [parts(email) for email in emails] == [alone(composer_, send, e) for e in emails]
    first = emails[0]
    assert first.skeleton is not None and "-{{city:url}}" in first.skeleton.text
    assert first.substitutions["-{{city:url}}"] == "Halifax"
    assert "Writing%20from%20Halifax%3A%20%40cafreeland%20%23FIONA" in first.text
    html_values = [v for k, v in emails[7].substitutions.items() if k.endswith(":html}}")]
    assert emails[7].skeleton is not None and any("&amp;" in v for v in html_values)


def test_a_post_transformed_renders_for_each(tmp_path: Path) -> None:
    text = "{{ suggested_post|upper }}"
    composer_, _ = small(tmp_path, text, post="From {{ supporter.city }} @cafreeland")
    assert per_recipient_notes(composer_.renderer, "templates") == [
        "templates/t.en.j2: rendered for each supporter on its own, one SendGrid request each "
        "(t.en.j2:2: transforms suggested_post, which prints supporter data)"
    ]


def test_a_value_glued_to_a_link_is_rendered_alone(tmp_path: Path) -> None:
    composer_, send = small(tmp_path, "See https://example.org/{{ supporter.city }} now")
    assert composer_.renderer.personalization("t", "en")[1].shared
    email = composer_.compose(send, ROWS[0])
    assert email.skeleton is None  # the generated HTML links the address, marker and all
    assert 'href="https://example.org/Halifax"' in email.html
    assert parts(email) == alone(composer_, send, email)


def test_the_demo_templates_all_share_their_rendering() -> None:
    renderer = Renderer(demo(), REPO / "templates")
    assert per_recipient_notes(renderer) == []
    letter = renderer.personalization("letter-reminder", "fr-CA")
    assert letter[0] == "fr" and letter[1].fields == (
        "supporter.city",
        "supporter.first_name",
        "supporter.last_name",
    )


def test_the_email_knows_when_it_is_due() -> None:
    composer_ = composer(demo())
    send = next(iter(reminder_sends(composer_.schedule)))
    email = composer_.compose(send, ROWS[0])
    assert email.send_at == send.fires_at(ZONE)
    assert send.local_date(ZONE) == date(2018, 3, 1)
