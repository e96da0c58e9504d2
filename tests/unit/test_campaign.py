"""The schedules.yaml loader: the model it builds, and every problem with its line."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from outreach.campaign.loader import load_schedule, parse_schedule
from outreach.campaign.model import (
    Audience,
    Campaign,
    Milestone,
    Organization,
    Reminder,
    Target,
    Text,
)
from outreach.campaign.values import parse_expires, parse_offset
from outreach.errors import OutreachError, ProblemsError

FULL = """\
organization:
  name: Amnesty International Canada
  email: info@example.org
  address: 312 Laurier Avenue East, Ottawa, ON K1N 1H9
  website: https://example.org
timezone: America/Toronto
languages: [en, fr]
campaigns:
  mexico-refugees:
    title: {en: Protect refugees in Mexico, fr: Protéger les personnes réfugiées au Mexique}
    url: https://example.org/act/mexico
    hashtags: ["#RefugeesWelcome", HumanRights]
    targets:
      freeland:
        name: Hon. Chrystia Freeland
        role: {en: Minister of Foreign Affairs, fr: ministre des Affaires étrangères}
        handles: {x: "@cafreeland", bluesky: freeland.bsky.social, mastodon: "@cf@mastodon.social"}
        email: chrystia.freeland@example.org
        address: House of Commons, Ottawa, ON K1A 0A6
      trudeau:
        name: Rt. Hon. Justin Trudeau
    milestones:
      bilateral-dialogue:
        title: {en: Bilateral Canada-Mexico Human Rights Dialogue, fr: Dialogue bilatéral}
        date: 2018-03-15
      press-conference:
        title: Press conference
        date: 2018-03-16T10:00:00-05:00
    reminders:
      two-weeks-before:
        milestone: bilateral-dialogue
        offset: -14d
        at: "09:00"
        template: letter-reminder
        targets: [freeland]
        audience: {tags: [refugees], languages: [en, fr], regions: [ON, QC]}
        expires: 12h
        announce: true
      day-of:
        milestone: press-conference
        offset: 0d
        template: day-of
"""


def edited(*changes: tuple[str, str]) -> str:
    """FULL with each `old` text replaced by `new` (each `old` must be there exactly once)."""
    text = FULL
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def problems(text: str, template_names: Collection[str] | None = None) -> list[str]:
    """The problems reported for `text`, as `path:line: message` lines."""
    with pytest.raises(ProblemsError) as caught:
        parse_schedule(text, "schedules.yaml", template_names)
    return [str(problem) for problem in caught.value.problems]


def campaign(text: str = FULL) -> Campaign:
    return parse_schedule(text, "schedules.yaml").campaigns["mexico-refugees"]


def test_the_full_example_loads_into_the_model() -> None:
    schedule = parse_schedule(FULL, "schedules.yaml", {"letter-reminder", "day-of"})

    assert schedule.organization == Organization(
        name="Amnesty International Canada",
        email="info@example.org",
        address="312 Laurier Avenue East, Ottawa, ON K1N 1H9",
        website="https://example.org",
    )
    assert schedule.timezone == "America/Toronto"
    assert schedule.languages == ("en", "fr")
    assert schedule.fallback_language == "en"
    assert list(schedule.campaigns) == ["mexico-refugees"]
    mexico = schedule.campaigns["mexico-refugees"]
    assert mexico.title == Text(
        {"en": "Protect refugees in Mexico", "fr": "Protéger les personnes réfugiées au Mexique"}
    )
    assert mexico.url == "https://example.org/act/mexico"
    assert mexico.hashtags == ("RefugeesWelcome", "HumanRights")
    assert mexico.targets == {
        "freeland": Target(
            id="freeland",
            name=Text.plain("Hon. Chrystia Freeland"),
            role=Text(
                {"en": "Minister of Foreign Affairs", "fr": "ministre des Affaires étrangères"}
            ),
            handles={
                "x": "cafreeland",
                "bluesky": "freeland.bsky.social",
                "mastodon": "cf@mastodon.social",
            },
            email="chrystia.freeland@example.org",
            address="House of Commons, Ottawa, ON K1A 0A6",
        ),
        "trudeau": Target(id="trudeau", name=Text.plain("Rt. Hon. Justin Trudeau")),
    }
    assert mexico.milestones == {
        "bilateral-dialogue": Milestone(
            id="bilateral-dialogue",
            title=Text(
                {"en": "Bilateral Canada-Mexico Human Rights Dialogue", "fr": "Dialogue bilatéral"}
            ),
            when=date(2018, 3, 15),
        ),
        "press-conference": Milestone(
            id="press-conference",
            title=Text.plain("Press conference"),
            when=datetime(2018, 3, 16, 10, tzinfo=timezone(timedelta(hours=-5))),
        ),
    }
    assert mexico.reminders["two-weeks-before"] == Reminder(
        id="two-weeks-before",
        milestone="bilateral-dialogue",
        offset=timedelta(days=-14),
        template="letter-reminder",
        at=time(9, 0),
        targets=("freeland",),
        audience=Audience(tags=("refugees",), languages=("en", "fr"), regions=("ON", "QC")),
        expires=timedelta(hours=12),
        announce=True,
    )


def test_a_reminder_has_defaults_for_its_optional_keys() -> None:
    assert campaign().reminders["day-of"] == Reminder(
        id="day-of",
        milestone="press-conference",
        offset=timedelta(0),
        template="day-of",
        at=None,
        targets=("freeland", "trudeau"),
        audience=Audience(),
        expires=timedelta(days=1),
        announce=False,
    )


def test_load_schedule_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(FULL, encoding="utf-8")
    assert load_schedule(path) == parse_schedule(FULL, str(path))


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(OutreachError, match=r"nope\.yaml: file not found$"):
        load_schedule(path)


def test_problems_in_a_file_name_its_path(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(edited(("timezone: America/Toronto", "timezone: Mars/Base")))
    with pytest.raises(ProblemsError) as caught:
        load_schedule(path)
    assert str(caught.value).startswith(f"{path}:6: unknown time zone 'Mars/Base'")


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("-14d", timedelta(days=-14)),
        ("+2h", timedelta(hours=2)),
        ("-30m", timedelta(minutes=-30)),
        ("0d", timedelta(0)),
        ("3d", timedelta(days=3)),
    ],
)
def test_offsets_parse(written: str, offset: timedelta) -> None:
    assert parse_offset(written) == offset
    text = edited(("offset: -14d", f"offset: {written}"))
    assert campaign(text).reminders["two-weeks-before"].offset == offset


@pytest.mark.parametrize(
    ("written", "expires"),
    [("1d", timedelta(days=1)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30))],
)
def test_expiry_parses(written: str, expires: timedelta) -> None:
    assert parse_expires(written) == expires


@pytest.mark.parametrize(("written", "at"), [('"09:00"', time(9)), ("9:30", time(9, 30))])
def test_at_is_a_wall_clock_time(written: str, at: time) -> None:
    text = edited(('at: "09:00"', f"at: {written}"))
    assert campaign(text).reminders["two-weeks-before"].at == at


def test_a_quoted_datetime_with_an_offset_is_a_date_too() -> None:
    text = edited(("date: 2018-03-16T10:00:00-05:00", 'date: "2018-03-16T15:00:00Z"'))
    when = campaign(text).milestones["press-conference"].when
    assert when == datetime(2018, 3, 16, 15, tzinfo=UTC)


def test_text_is_plain_or_localized() -> None:
    mexico = campaign()
    plain = mexico.targets["freeland"].name
    localized = mexico.targets["freeland"].role
    assert plain == Text.plain("Hon. Chrystia Freeland")
    assert plain.resolve("fr", "en") == "Hon. Chrystia Freeland"
    assert localized is not None
    assert localized.resolve("fr", "en") == "ministre des Affaires étrangères"
    assert localized.resolve("es", "en") == "Minister of Foreign Affairs"


def test_templates_are_checked_only_when_their_names_are_given() -> None:
    assert campaign().reminders["day-of"].template == "day-of"
    assert problems(FULL, {"letter-reminder"}) == [
        "schedules.yaml:42: unknown template 'day-of' in 'template' in reminder 'day-of' "
        "(known: letter-reminder)"
    ]


UNKNOWN_REMINDER_KEY = (
    "unknown key 'ofset' in reminder 'two-weeks-before' (expected one of: "
    "milestone, offset, template, at, targets, audience, expires, announce)"
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("offset: -14d", "ofset: -14d"),
            [
                "30: missing key 'offset' in reminder 'two-weeks-before'",
                f"32: {UNKNOWN_REMINDER_KEY}",
            ],
        ),
        (
            ('at: "09:00"\n', 'at: "09:00"\n        at: "10:00"\n'),
            ["34: duplicate key 'at' in reminder 'two-weeks-before' (first at line 33)"],
        ),
        (
            ("        name: Hon. Chrystia Freeland\n", ""),
            ["14: missing key 'name' in target 'freeland'"],
        ),
        (
            ("  mexico-refugees:", "  Mexico_Refugees:"),
            [
                "9: bad campaign id 'Mexico_Refugees': use lowercase letters, digits and '-', "
                "starting with a letter or digit"
            ],
        ),
        (
            ("      trudeau:", "      -trudeau:"),
            [
                "20: bad target id '-trudeau': use lowercase letters, digits and '-', "
                "starting with a letter or digit"
            ],
        ),
        (
            ("milestone: bilateral-dialogue", "milestone: bilateral"),
            [
                "31: unknown milestone 'bilateral' in 'milestone' in reminder 'two-weeks-before' "
                "(known: bilateral-dialogue, press-conference)"
            ],
        ),
        (
            ("targets: [freeland]", "targets: [freeland, harper]"),
            [
                "35: unknown target 'harper' in 'targets' in reminder 'two-weeks-before' "
                "(known: freeland, trudeau)"
            ],
        ),
        (
            ("date: 2018-03-15", "date: 2018-02-30"),
            [
                "25: bad date '2018-02-30' in 'date' in milestone 'bilateral-dialogue': "
                "use 2018-03-15 or 2018-03-15T10:00:00-05:00"
            ],
        ),
        (
            ("date: 2018-03-16T10:00:00-05:00", 'date: "2018-03-16T10:00:00"'),
            [
                "28: bad date '2018-03-16T10:00:00' in 'date' in milestone 'press-conference': "
                "a time needs its UTC offset, like 2018-03-15T10:00:00-05:00"
            ],
        ),
        (
            ("offset: -14d", "offset: -14"),
            [
                "32: bad offset '-14' in 'offset' in reminder 'two-weeks-before': "
                "use days, hours or minutes, like -14d, +2h or -30m"
            ],
        ),
        (
            ('at: "09:00"', 'at: "24:00"'),
            [
                "33: bad time '24:00' in 'at' in reminder 'two-weeks-before': "
                'use 24-hour HH:MM, like "09:00"'
            ],
        ),
        (
            ("expires: 12h", "expires: 0d"),
            [
                "37: bad duration '0d' in 'expires' in reminder 'two-weeks-before': "
                "use a positive number of days, hours or minutes, like 1d, 12h or 30m"
            ],
        ),
        (
            ("timezone: America/Toronto", "timezone: America/Torronto"),
            [
                "6: unknown time zone 'America/Torronto' in 'timezone': "
                "use a name like America/Toronto"
            ],
        ),
        (
            ("\nlanguages: [en, fr]", "\nlanguages: [en, fr, en]"),
            ["7: 'en' is listed twice in 'languages'"],
        ),
        (
            ("\nlanguages: [en, fr]", "\nlanguages: [en, fr, French]"),
            [
                "7: bad language 'French' in 'languages': "
                "use a 2 or 3 letter lowercase code, like en or fr"
            ],
        ),
        (
            ("title: {en: Protect", "title: {de: Flüchtlinge, en: Protect"),
            [
                "10: language 'de' in 'title' in campaign 'mexico-refugees' "
                "is not in 'languages' (en, fr)"
            ],
        ),
        (
            ('x: "@cafreeland"', "x: chrystia_freeland_pc"),
            [
                "17: bad x handle 'chrystia_freeland_pc' in 'x' in 'handles' in target "
                "'freeland': 1 to 15 letters, digits or _, like cafreeland"
            ],
        ),
        (
            ("bluesky: freeland.bsky.social", "bluesky: freeland"),
            [
                "17: bad bluesky handle 'freeland' in 'bluesky' in 'handles' in target "
                "'freeland': a domain, like name.bsky.social"
            ],
        ),
        (
            ('mastodon: "@cf@mastodon.social"', "mastodon: cf"),
            [
                "17: bad mastodon handle 'cf' in 'mastodon' in 'handles' in target "
                "'freeland': user@server, like amnesty@mastodon.social"
            ],
        ),
        (
            ('x: "@cafreeland"', "facebook: cafreeland"),
            [
                "17: unknown key 'facebook' in 'handles' in target 'freeland' "
                "(expected one of: x, bluesky, mastodon)"
            ],
        ),
        (
            ("email: chrystia.freeland@example.org", "email: chrystia.freeland"),
            [
                "18: bad email address 'chrystia.freeland' in 'email' in target 'freeland': "
                "An email address must have an @-sign."
            ],
        ),
        (
            (
                "audience: {tags: [refugees], languages: [en, fr], regions: [ON, QC]}",
                "audience: [x]",
            ),
            ["36: expected a mapping for 'audience' in reminder 'two-weeks-before', found a list"],
        ),
        (
            ("languages: [en, fr], regions: [ON, QC]", "languages: [es], regions: [on], lang: x"),
            [
                "36: bad region 'on' in 'regions' in 'audience' in reminder 'two-weeks-before': "
                "use an uppercase code, like ON or QC",
                "36: unknown key 'lang' in 'audience' in reminder 'two-weeks-before' "
                "(expected one of: tags, languages, regions)",
                "36: unknown language 'es' in 'languages' in 'audience' in reminder "
                "'two-weeks-before': it is not in 'languages' (en, fr)",
            ],
        ),
        (
            ("announce: true", "announce: sure"),
            [
                "38: expected true or false for 'announce' in reminder 'two-weeks-before', "
                "found 'sure'"
            ],
        ),
        (
            ("url: https://example.org/act/mexico", "url: example.org/act/mexico"),
            [
                "11: bad web address 'example.org/act/mexico' in 'url' in campaign "
                "'mexico-refugees': use a full address starting with https://"
            ],
        ),
        (
            ('hashtags: ["#RefugeesWelcome", HumanRights]', "hashtags: [Refugees Welcome]"),
            [
                "12: bad hashtag 'Refugees Welcome' in 'hashtags' in campaign 'mexico-refugees': "
                "use letters, digits or _ only"
            ],
        ),
        (
            ("name: Amnesty International Canada", "name: {en: Amnesty, fr: Amnistie}"),
            ["2: expected text for 'name' in 'organization', found a mapping"],
        ),
        (
            ("  email: info@example.org\n", ""),
            ["1: missing key 'email' in 'organization'"],
        ),
        (
            ("\nlanguages: [en, fr]\n", "\n"),
            ["1: missing key 'languages' in the file"],
        ),
        (
            ('hashtags: ["#RefugeesWelcome", HumanRights]', "hashtags: RefugeesWelcome"),
            [
                "12: expected a list for 'hashtags' in campaign 'mexico-refugees', "
                "found 'RefugeesWelcome'"
            ],
        ),
        (
            (
                'handles: {x: "@cafreeland",',
                'handles: [cafreeland]\n        hand: {x: "@cafreeland",',
            ),
            [
                "17: expected a mapping for 'handles' in target 'freeland', found a list",
                "18: unknown key 'hand' in target 'freeland' "
                "(expected one of: name, role, handles, email, address)",
            ],
        ),
    ],
)
def test_each_problem_is_reported_on_its_line(change: tuple[str, str], expected: list[str]) -> None:
    assert problems(edited(change)) == [f"schedules.yaml:{line}" for line in expected]


def test_several_problems_are_reported_at_once() -> None:
    text = edited(
        ("timezone: America/Toronto", "timezone: Nowhere"),
        ("bluesky: freeland.bsky.social", "bluesky: freeland"),
        ("offset: 0d", "offset: soon"),
    )
    lines = [problem.split(": ", 1)[0] for problem in problems(text, {"day-of"})]
    assert lines == [
        "schedules.yaml:6",
        "schedules.yaml:17",
        "schedules.yaml:34",
        "schedules.yaml:41",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "schedules.yaml:1: the file is empty"),
        ("# nothing yet\n", "schedules.yaml:1: the file is empty"),
        (
            "- organization\n- campaigns\n",
            "schedules.yaml:1: expected a mapping with organization, timezone, languages, "
            "campaigns at the top, found a list",
        ),
        (
            "timezone: UTC\nlanguages: [en\ncampaigns: {}\n",
            "schedules.yaml:3: invalid YAML: expected ',' or ']', but got ':'",
        ),
        (
            "timezone: UTC\n  languages: [en]\n",
            "schedules.yaml:2: invalid YAML: mapping values are not allowed here",
        ),
    ],
)
def test_a_file_that_is_not_a_mapping_is_one_problem(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_there_must_be_a_campaign() -> None:
    text = FULL[: FULL.index("campaigns:")] + "campaigns: {}\n"
    assert problems(text) == ["schedules.yaml:8: there must be at least one campaign"]
