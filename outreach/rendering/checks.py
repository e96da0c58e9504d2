"""The template checks `outreach check` runs before anything is sent.

`check_templates` renders every reminder's template, in every language it exists in, for a
long-named sample supporter, and reports what would embarrass a campaign once sent: a post that
misses a target's handle or does not fit a network it is shared to, an email without the
sender's name, postal address or unsubscribe link, a template that does not render.
"""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from outreach.campaign.model import Campaign, Reminder, Schedule, Supporter
from outreach.errors import OutreachError, Problem, ProblemsError
from outreach.rendering.social import (
    LIMITS,
    NETWORK_NAMES,
    NETWORKS,
    UNITS,
    X_LIMIT,
    mentions,
    missing_handles,
    network_posts,
    post_length,
    target_handles,
    weighted_length,
)

if TYPE_CHECKING:
    from outreach.rendering.renderer import Renderer

SAMPLE_UNSUBSCRIBE_URL = "https://example.org/u/SAMPLE-UNSUBSCRIBE-TOKEN"
MAX_EMAIL_BYTES = 100_000
"""The most an email's text and HTML may weigh together (Gmail clips HTML past 102 KB)."""


def sample_supporter(language: str) -> Supporter:
    """A supporter with a long name and city, to check that posts still fit."""
    return Supporter(
        id=0,
        email="marie-genevieve-alexandrine.fitzgerald-vandermeulen-beauchamp@example.org",
        first_name="Marie-Geneviève-Alexandrine",
        last_name="Fitzgerald-Vandermeulen-Beauchamp",
        city="Saint-Louis-du-Ha! Ha!",
        region="QC",
        language=language,
    )


def check_templates(
    schedule: Schedule, renderer: Renderer, templates_dir_label: str | None = None
) -> list[Problem]:
    """Problems in the templates used by `schedule`'s reminders, in every language they exist in.

    Paths read `<templates_dir_label>/<template>.<language>.j2` (default: the renderer's label).
    """
    label = renderer.label if templates_dir_label is None else templates_dir_label
    problems: list[Problem] = []
    for campaign in schedule.campaigns.values():
        for reminder in campaign.reminders.values():
            milestone = campaign.milestones.get(reminder.milestone)
            if milestone is None or reminder.template not in renderer.template_names():
                continue  # the schedule loader reports dangling references
            languages = renderer.languages_of(reminder.template)
            if schedule.fallback_language not in languages:
                problems.append(
                    Problem(
                        f"{label}/{reminder.template}.{schedule.fallback_language}.j2",
                        1,
                        f"file missing: it is the '{reminder.template}' email for supporters "
                        "in every other language",
                    )
                )
            for language in sorted(languages):
                problems += _check_one(schedule, renderer, campaign, reminder, language, label)
    return list(dict.fromkeys(problems))


def per_recipient_notes(renderer: Renderer, templates_dir_label: str | None = None) -> list[str]:
    """One line per template file whose email is rendered for each supporter on its own.

    The others are rendered once per group of supporters and filled in (one SendGrid request
    carries up to 1,000 of them); these use a supporter's data in a way that cannot be.
    """
    label = renderer.label if templates_dir_label is None else templates_dir_label
    return [
        f"{label}/{file}: rendered for each supporter on its own, one SendGrid request each "
        f"({personalization.reason})"
        for file, personalization in sorted(renderer.personalizations(), key=lambda f: f[0])
        if not personalization.shared
    ]


def rendering_notes(schedule: Schedule, renderer: Renderer) -> list[str]:
    """Per reminder, how many shared renderings it may need and what they branch on."""
    notes = []
    for campaign in schedule.campaigns.values():
        for reminder in campaign.reminders.values():
            if reminder.template not in renderer.template_names():
                continue
            for language in sorted(renderer.languages_of(reminder.template)):
                personalization = renderer.personalization(reminder.template, language)[1]
                tests = [s for s in personalization.slots if s.test]
                if not personalization.shared or not tests:
                    continue
                branches = ", ".join(f"{s.label} ({s.where})" for s in tests)
                notes.append(
                    f"{reminder.id} ({language}): up to {personalization.renderings} shared "
                    f"renderings, branches on {branches}"
                )
    return notes


def share_notes(schedule: Schedule) -> list[str]:
    """One line per reminder and network that gets no share link, saying which target lacks
    a handle there."""
    notes = []
    for campaign in schedule.campaigns.values():
        for reminder in campaign.reminders.values():
            targets = target_handles(campaign, reminder.targets)
            for network in NETWORKS:
                if missing := missing_handles(network, targets):
                    names = ", ".join(f"'{t}'" for t in missing)
                    notes.append(
                        f"{campaign.id}/{reminder.id}: no {NETWORK_NAMES[network]} share link: "
                        f"no {network} handle for target {names}"
                    )
    return notes


def _check_one(
    schedule: Schedule,
    renderer: Renderer,
    campaign: Campaign,
    reminder: Reminder,
    language: str,
    label: str,
) -> list[Problem]:
    """The problems of one reminder's template in one language (paths start with `label`)."""
    path = f"{label}/{reminder.template}.{language}.j2"
    milestone = campaign.milestones[reminder.milestone]
    send_date = _send_date(milestone.day, reminder)
    targets = reminder.targets or tuple(campaign.targets)
    try:
        email = renderer.render_email(
            campaign=campaign,
            template=reminder.template,
            target_ids=targets,
            milestone=milestone,
            supporter=sample_supporter(language),
            send_date=send_date,
            unsubscribe_url=SAMPLE_UNSUBSCRIBE_URL,
        )
        announcement = renderer.render_announcement(
            campaign=campaign,
            template=reminder.template,
            target_ids=targets,
            milestone=milestone,
            language=language,
            send_date=send_date,
        )
    except ProblemsError as exc:
        return [_relabel(problem, renderer.label, label) for problem in exc.problems]
    except OutreachError as exc:
        return [Problem(path, 1, str(exc))]
    post_line = renderer.block_line(reminder.template, language, "post") or 1
    problems = [Problem(path, post_line, m) for m in _post_problems(email.post, campaign, targets)]
    size = len(email.text.encode()) + len(email.html.encode())
    if size > MAX_EMAIL_BYTES:
        message = f"the email weighs {size:,} bytes (limit {MAX_EMAIL_BYTES:,}: clients clip it)"
        problems.append(Problem(path, 1, message))
    for part, body in (("text", email.text), ("HTML", email.html)):
        problems += [Problem(path, 1, m) for m in _footer_problems(schedule, part, body)]
    if reminder.announce and not announcement:
        problems.append(
            Problem(path, 1, f"reminder '{reminder.id}' announces, but there is no announcement")
        )
    if announcement and weighted_length(announcement) > X_LIMIT:
        line = renderer.block_line(reminder.template, language, "announcement") or 1
        problems.append(Problem(path, line, _too_long("announcement", announcement, "")))
    return problems


def _relabel(problem: Problem, old: str, new: str) -> Problem:
    """`problem` with its path under the folder label `new` instead of `old`."""
    if not problem.path.startswith(f"{old}/"):
        return problem
    return replace(problem, path=new + problem.path[len(old) :])


def _send_date(day: date, reminder: Reminder) -> date:
    """The local day a reminder goes out, `offset` from its milestone's day."""
    return (datetime.combine(day, time()) + reminder.offset).date()


def _post_problems(post: str, campaign: Campaign, targets: tuple[str, ...]) -> list[str]:
    """What is wrong with a suggested post: missing handles, too long for a network it is
    shared to (with that network's handles)."""
    problems = []
    for target_id in targets:
        handle = campaign.targets[target_id].handles.get("x")
        if handle and not mentions(post, handle):
            problems.append(f"the suggested post does not mention @{handle} (target '{target_id}')")
    handles = list(target_handles(campaign, targets).values())
    for network, shared in network_posts(post, handles).items():
        if shared is not None and post_length(network, shared) > LIMITS[network]:
            problems.append(
                f"the suggested post is {post_length(network, shared)} {UNITS[network]} long "
                f"on {NETWORK_NAMES[network]} (limit {LIMITS[network]}) "
                "for a sample supporter with a long name"
            )
    return problems


def _too_long(what: str, text: str, when: str) -> str:
    """The message for a post over X's limit."""
    return f"the {what} is {weighted_length(text)} characters long on X (limit {X_LIMIT}){when}"


def _footer_problems(schedule: Schedule, part: str, body: str) -> list[str]:
    """What the email's `part` fails to show: sender's name, postal address, unsubscribe link."""
    organization = schedule.organization
    required = (
        ("the organization's name", organization.name),
        ("the organization's postal address", organization.address),
        ("the unsubscribe link {{ unsubscribe_url }}", SAMPLE_UNSUBSCRIBE_URL),
    )
    return [
        f"the {part} part does not show {what}"
        for what, value in required
        if value not in body and html.escape(value) not in body
    ]
