"""A mention per network: each share link names the target with that network's handle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest

from outreach.campaign.model import Schedule
from outreach.errors import Problem
from outreach.rendering.checks import sample_supporter, share_notes
from outreach.rendering.renderer import Renderer
from outreach.rendering.social import graphemes, network_posts, post_length, share_links
from tests.unit.test_posts import TEMPLATES, campaign, check, schedule, template

ALL = {"x": "cafreeland", "bluesky": "freeland.bsky.social", "mastodon": "cf@mastodon.social"}
POST = "Please, @CAFreeland, protect refugees: https://example.org/act #RefugeesWelcome"


def with_handles(sched: Schedule, **handles: dict[str, str]) -> Schedule:
    """`sched` with its targets' handles replaced."""
    camp = sched.campaigns["mexico-refugees"]
    targets = {t: replace(camp.targets[t], handles=h) for t, h in handles.items()}
    camp = replace(camp, targets={**camp.targets, **targets})
    return replace(sched, campaigns={camp.id: camp})


def test_each_network_gets_the_targets_handle_there() -> None:
    posts = network_posts(POST, [ALL])
    assert posts["x"] == POST
    assert posts["bluesky"] == POST.replace("@CAFreeland", "@freeland.bsky.social")
    assert posts["mastodon"] == POST.replace("@CAFreeland", "@cf@mastodon.social")
    links = share_links(POST, [ALL])
    assert unquote(links["mastodon"].split("?text=", 1)[1]) == posts["mastodon"]


def test_only_the_whole_x_mention_is_replaced() -> None:
    text = "@cafreeland and @cafreeland2, cafreeland@example.org"
    assert network_posts(text, [ALL])["bluesky"] == (
        "@freeland.bsky.social and @cafreeland2, cafreeland@example.org"
    )


def test_a_network_where_a_target_has_no_handle_gets_no_link() -> None:
    trudeau = {"x": "JustinTrudeau", "bluesky": "pm.gc.ca"}
    text = "@cafreeland @JustinTrudeau act"
    posts = network_posts(text, [ALL, trudeau])
    assert posts["mastodon"] is None
    assert posts["bluesky"] == "@freeland.bsky.social @pm.gc.ca act"
    links = share_links(text, [ALL, trudeau])
    assert links["mastodon"] == "" and links["x"] and links["bluesky"]
    assert network_posts(text, [{"bluesky": "freeland.bsky.social"}])["x"] is None


@pytest.mark.parametrize(
    ("text", "count"),
    [("hello", 5), ("e\u0301", 1), ("👍🏽", 1), ("👩‍👩‍👧‍👦", 1), ("🇨🇦🇲🇽", 2)],
)
def test_bluesky_counts_graphemes(text: str, count: int) -> None:
    assert graphemes(text) == count
    assert post_length("bluesky", text) == count


def test_mastodon_counts_urls_as_23_and_a_remote_mention_by_its_user() -> None:
    assert post_length("mastodon", "@cf@mastodon.social hi") == len("@cf hi")
    assert post_length("mastodon", "see https://example.org/" + "a" * 100) == 4 + 23


def test_demo_check_says_which_networks_get_no_link_and_why() -> None:
    notes = share_notes(schedule(campaign("t")))
    assert notes == [
        "mexico-refugees/two-weeks-before: no Bluesky share link: "
        "no bluesky handle for target 'freeland'",
        "mexico-refugees/two-weeks-before: no Mastodon share link: "
        "no mastodon handle for target 'freeland'",
    ]
    assert share_notes(with_handles(schedule(campaign("t")), freeland=ALL)) == []


def test_each_network_is_checked_against_its_own_limit(tmp_path: Path) -> None:
    # 208 weighted on X and 220 on Mastodon (the URL counts 23), 419 graphemes on Bluesky.
    url = "https://example.org/act/" + "a" * 200
    post = "@cafreeland " + "b" * 172 + " " + url
    sched = with_handles(schedule(campaign("t")), freeland=ALL)
    problems = check(tmp_path, {"t.en.j2": template(post)}, sched)
    assert problems == [
        Problem(
            "templates/t.en.j2",
            2,
            "the suggested post is 419 graphemes long on Bluesky (limit 300) "
            "for a sample supporter with a long name",
        )
    ]


def test_a_network_without_a_link_is_not_checked(tmp_path: Path) -> None:
    post = "@cafreeland " + "b" * 172 + " https://example.org/act/" + "a" * 200
    assert check(tmp_path, {"t.en.j2": template(post)}, schedule(campaign("t"))) == []


def test_the_email_shares_each_network_with_its_handle_and_hides_missing_links(
    tmp_path: Path,
) -> None:
    for handles, shown in ((ALL, 3), ({"x": "cafreeland"}, 1)):
        sched = with_handles(schedule(campaign("letter-reminder")), freeland=handles)
        camp = sched.campaigns["mexico-refugees"]
        email = Renderer(sched, TEMPLATES).render_email(
            campaign=camp,
            template="letter-reminder",
            target_ids=("freeland",),
            milestone=camp.milestones["bilateral-dialogue"],
            supporter=sample_supporter("en"),
            send_date=date(2018, 3, 1),
            unsubscribe_url="https://example.org/u/t",
        )
        links = [
            u for u in ("x.com/intent", "bsky.app/intent", "mastodonshare.com") if u in email.html
        ]
        assert len(links) == shown
        assert ("bsky.app/intent" in email.text) is (shown == 3)
        if shown == 3:
            assert (
                "%40freeland.bsky.social" in email.html and "%40cf%40mastodon.social" in email.html
            )
