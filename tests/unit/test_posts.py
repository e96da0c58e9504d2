"""Suggested posts: X's weighted length, share links, and the template checks."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote

from outreach.campaign.model import (
    Campaign,
    Milestone,
    Organization,
    Reminder,
    Schedule,
    Target,
    Text,
)
from outreach.errors import Problem
from outreach.rendering.checks import check_templates
from outreach.rendering.renderer import Renderer
from outreach.rendering.social import fits_on_x, mentions, share_links, weighted_length

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ORGANIZATION = Organization(
    "Amnesty International Canada", "info@example.org", "312 Laurier Avenue East, Ottawa"
)
FOOTER = (
    "{{ organization.name }} {{ organization.address }} {{ unsubscribe_url }}"
    "{% endblock %}{% block html %}<p>{{ organization.name }} {{ organization.address }}"
    ' <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>{% endblock %}'
)


def campaign(
    template: str, announce: bool = False, **reminder_targets: tuple[str, ...]
) -> Campaign:
    targets = {
        "freeland": Target(
            "freeland",
            Text.plain("Hon. Chrystia Freeland"),
            Text({"en": "Minister of Foreign Affairs", "fr": "ministre des Affaires étrangères"}),
            {"x": "cafreeland"},
            address="House of Commons, Ottawa, ON K1A 0A6",
        ),
        "trudeau": Target(
            "trudeau", Text.plain("Rt. Hon. Justin Trudeau"), handles={"x": "JustinTrudeau"}
        ),
    }
    return Campaign(
        "mexico-refugees",
        Text({"en": "Protect refugees in Mexico", "fr": "Protéger les personnes réfugiées"}),
        "https://example.org/act/mexico-refugees",
        ("RefugeesWelcome",),
        targets,
        {
            "bilateral-dialogue": Milestone(
                "bilateral-dialogue",
                Text({"en": "Bilateral Canada-Mexico Human Rights Dialogue", "fr": "Dialogue"}),
                date(2018, 3, 15),
            )
        },
        {
            "two-weeks-before": Reminder(
                "two-weeks-before",
                "bilateral-dialogue",
                timedelta(days=-14),
                template,
                targets=reminder_targets.get("targets", ("freeland",)),
                announce=announce,
            )
        },
    )


def schedule(*campaigns: Campaign) -> Schedule:
    return Schedule(ORGANIZATION, "America/Toronto", ("en", "fr"), {c.id: c for c in campaigns})


def demo_schedule() -> Schedule:
    """Both demo campaigns of schedules.yaml, built from the model."""
    mexico = campaign("letter-reminder", announce=True)
    day_before = Reminder("day-before", "bilateral-dialogue", timedelta(days=-1), "last-call")
    mexico = Campaign(
        mexico.id,
        mexico.title,
        mexico.url,
        mexico.hashtags,
        {"freeland": mexico.targets["freeland"]},
        mexico.milestones,
        {**mexico.reminders, "day-before": day_before},
    )
    visits = Milestone("washington-mexico-visits", Text.plain("Visits"), date(2018, 2, 20))
    pm = Campaign(
        "pm-visits",
        Text.plain("Human rights on the agenda"),
        "https://example.org/act/pm-visits",
        ("HumanRights",),
        {
            "trudeau": Target(
                "trudeau",
                Text.plain("Rt. Hon. Justin Trudeau"),
                Text({"en": "Prime Minister", "fr": "premier ministre"}),
                {"x": "JustinTrudeau"},
                address="Office of the Prime Minister, 80 Wellington Street, Ottawa, ON K1A 0A2",
            )
        },
        {visits.id: visits},
        {"week-before": Reminder("week-before", visits.id, timedelta(days=-7), "open-letter")},
    )
    return schedule(mexico, pm)


def check(tmp_path: Path, files: dict[str, str], sched: Schedule) -> list[Problem]:
    folder = tmp_path / "templates"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return check_templates(sched, Renderer(sched, folder), "templates")


def template(post: str, extra: str = "") -> str:
    return (
        "{% block subject %}Hello{% endblock %}\n"
        "{% block post %}\n" + post + "\n{% endblock %}\n" + extra + "{% block text %}" + FOOTER
    )


def test_weighted_length_counts_urls_as_23_and_emoji_as_2():
    assert weighted_length("hello") == 5
    assert weighted_length("https://example.org/a/very/long/path/indeed/to/somewhere") == 23
    assert (
        weighted_length("✊") == 2 and weighted_length("✊🏽") == 2 and weighted_length("人权") == 4
    )
    assert fits_on_x("x" * 280) and not fits_on_x("x" * 281) and not fits_on_x("")


def test_mentions_is_case_insensitive_and_whole_handle():
    assert mentions("Please, @CAFreeland, act", "cafreeland")
    assert mentions("hi @cafreeland", "@cafreeland")
    assert not mentions("hi @cafreeland2", "cafreeland")
    assert not mentions("mail cafreeland@example.org", "cafreeland")


def test_share_links_open_the_post_on_each_network():
    text = "Act now @cafreeland #RefugeesWelcome https://example.org/?a=1&b=2"
    links = share_links(text, [{"x": "cafreeland", "bluesky": "cafreeland", "mastodon": "cf@m.ca"}])
    assert set(links) == {"x", "bluesky", "mastodon"}
    assert links["x"].startswith("https://x.com/intent/tweet?text=Act%20now%20%40cafreeland")
    assert links["bluesky"].startswith("https://bsky.app/intent/compose?text=")
    assert links["mastodon"].startswith("https://mastodonshare.com/?text=")
    for url in links.values():
        assert "&" not in url and " " not in url
    shared = {network: unquote(url.split("?text=", 1)[1]) for network, url in links.items()}
    assert shared["x"] == shared["bluesky"] == text
    assert shared["mastodon"] == text.replace("@cafreeland", "@cf@m.ca")


def test_demo_templates_pass_every_check():
    sched = demo_schedule()
    assert check_templates(sched, Renderer(sched, TEMPLATES), "templates") == []


def test_post_over_280_weighted_characters_fails(tmp_path: Path):
    post = "@cafreeland " + "Protect refugees in Mexico. " * 10
    files = {"long.en.j2": template(post)}
    problems = check(tmp_path, files, schedule(campaign("long")))
    assert problems == [
        Problem(
            "templates/long.en.j2",
            2,
            "the suggested post is 291 characters long on X (limit 280)"
            " for a sample supporter with a long name",
        )
    ]


def test_long_city_can_push_a_post_over_the_limit(tmp_path: Path):
    post = "@cafreeland " + "x" * 250 + " {{ supporter.city }}"
    problems = check(tmp_path, {"city.en.j2": template(post)}, schedule(campaign("city")))
    assert [p.message.split(" (")[0] for p in problems] == [
        "the suggested post is 285 characters long on X"
    ]


def test_post_missing_a_target_handle_fails(tmp_path: Path):
    files = {
        "t.en.j2": template("Protect refugees in Mexico! @JustinTrudeau"),
        "t.fr.j2": template("Protégez les personnes réfugiées ! @CAFREELAND @justintrudeau"),
    }
    sched = schedule(campaign("t", targets=("freeland", "trudeau")))
    assert check(tmp_path, files, sched) == [
        Problem(
            "templates/t.en.j2",
            2,
            "the suggested post does not mention @cafreeland (target 'freeland')",
        )
    ]


def test_email_without_address_or_unsubscribe_link_fails(tmp_path: Path):
    files = {
        "t.en.j2": "{% block subject %}Hi{% endblock %}{% block post %}@cafreeland{% endblock %}"
        "{% block text %}{{ organization.name }}{% endblock %}"
        "{% block html %}<p>{{ organization.name }} {{ organization.address }}</p>{% endblock %}"
    }
    messages = [p.message for p in check(tmp_path, files, schedule(campaign("t")))]
    assert messages == [
        "the text part does not show the organization's postal address",
        "the text part does not show the unsubscribe link {{ unsubscribe_url }}",
        "the HTML part does not show the unsubscribe link {{ unsubscribe_url }}",
    ]


def test_missing_subject_block_fails(tmp_path: Path):
    files = {"t.en.j2": "{% block post %}@cafreeland{% endblock %}{% block text %}" + FOOTER}
    problems = check(tmp_path, files, schedule(campaign("t")))
    assert problems == [Problem("templates/t.en.j2", 1, "missing {% block subject %}")]


def test_render_errors_are_reported_with_their_line(tmp_path: Path):
    files = {"t.en.j2": template("@cafreeland\n{{ target.handles.bluesky }}")}
    problems = check(tmp_path, files, schedule(campaign("t")))
    assert problems == [Problem("templates/t.en.j2", 4, "no 'bluesky' here, only: x")]


def test_announcing_reminder_needs_an_announcement_that_fits(tmp_path: Path):
    files = {"t.en.j2": template("@cafreeland")}
    problems = check(tmp_path, files, schedule(campaign("t", announce=True)))
    assert problems == [
        Problem(
            "templates/t.en.j2",
            1,
            "reminder 'two-weeks-before' announces, but there is no announcement",
        )
    ]
    long = "{% block announcement %}\n" + "word " * 60 + "{% endblock %}"
    problems = check(
        tmp_path / "long",
        {"t.en.j2": template("@cafreeland", long)},
        schedule(campaign("t", announce=True)),
    )
    assert problems == [
        Problem("templates/t.en.j2", 5, "the announcement is 299 characters long on X (limit 280)")
    ]


def test_template_without_the_fallback_language_fails(tmp_path: Path):
    problems = check(tmp_path, {"t.fr.j2": template("@cafreeland")}, schedule(campaign("t")))
    assert [(p.path, p.line) for p in problems] == [("templates/t.en.j2", 1)]
    assert "every other language" in problems[0].message


def test_every_language_file_is_checked(tmp_path: Path):
    files = {"t.en.j2": template("@cafreeland"), "t.fr.j2": template("Sans mention")}
    problems = check(tmp_path, files, schedule(campaign("t")))
    assert [(p.path, p.line) for p in problems] == [("templates/t.fr.j2", 2)]
