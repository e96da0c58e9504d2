"""The schedules.yaml loader: YAML text to the campaign model, every problem with its line."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from datetime import date, time, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from yaml.nodes import MappingNode, Node, SequenceNode

from outreach.campaign.model import (
    DEFAULT_EXPIRES,
    Audience,
    Campaign,
    Milestone,
    Organization,
    Reminder,
    Schedule,
    Target,
    Text,
)
from outreach.campaign.values import (
    HANDLES,
    parse_clock,
    parse_email,
    parse_expires,
    parse_handle,
    parse_hashtag,
    parse_language,
    parse_offset,
    parse_region,
    parse_timezone,
    parse_url,
    parse_when,
)
from outreach.campaign.yamlnodes import NodeReader, compose, describe, line_of
from outreach.errors import OutreachError, Problem, ProblemsError

T = TypeVar("T")

ID = re.compile(r"[a-z0-9][a-z0-9-]*")
TOP = ("organization", "timezone", "languages", "campaigns")
ORGANIZATION = ("name", "email", "address"), ("website",)
CAMPAIGN = ("title", "url"), ("hashtags", "targets", "milestones", "reminders")
TARGET = ("name",), ("role", "handles", "email", "address")
MILESTONE = ("title", "date"), ()
REMINDER = ("milestone", "offset", "template"), ("at", "targets", "audience", "expires", "announce")
AUDIENCE = ("tags", "languages", "regions")

NO_TEXT = Text.plain("")
NO_ORGANIZATION = Organization("", "", "")


def load_schedule(path: Path, template_names: Collection[str] | None = None) -> Schedule:
    """Read and parse a schedules.yaml file; see `parse_schedule`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise OutreachError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise OutreachError(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError:
        raise OutreachError(f"{path}: is not UTF-8 text") from None
    except OSError as error:
        raise OutreachError(f"{path}: cannot be read ({error.strerror})") from None
    return parse_schedule(text, str(path), template_names)


def parse_schedule(
    text: str, path_label: str, template_names: Collection[str] | None = None
) -> Schedule:
    """The schedule described by YAML `text`; raise `ProblemsError` listing every problem.

    Reminder templates are checked against `template_names` only when it is given.
    """
    root = compose(text, path_label)
    if not isinstance(root, MappingNode):
        found = describe(root)
        message = f"expected a mapping with {', '.join(TOP)} at the top, found {found}"
        raise ProblemsError([Problem(path_label, 1, message)])
    loader = _Loader(NodeReader(path_label), template_names)
    schedule = loader.schedule(root)
    loader.nodes.raise_problems()
    return schedule


class _Loader:
    """Walks the node tree into model values; problems go to `nodes`, placeholders stand in."""

    def __init__(self, nodes: NodeReader, template_names: Collection[str] | None) -> None:
        self.nodes = nodes
        self.template_names = template_names
        self.languages: tuple[str, ...] = ()  # empty until known: text keys are not checked
        self.get = nodes.get
        self.email = nodes.checked("bad email address", parse_email, "")
        self.url = nodes.checked("bad web address", parse_url, "")
        self.timezone = nodes.checked("unknown time zone", parse_timezone, "")
        self.when = nodes.checked("bad date", parse_when, date.min)
        self.offset = nodes.checked("bad offset", parse_offset, timedelta())
        self.expires = nodes.checked("bad duration", parse_expires, DEFAULT_EXPIRES)
        self.clock = nodes.checked("bad time", parse_clock, time())
        self.hashtags = nodes.checked_list("bad hashtag", parse_hashtag)

    def schedule(self, root: Node) -> Schedule:
        owner = ""
        fields = self.nodes.fields(root, "the file", TOP, (), 1)
        self.languages = self.get(fields, "languages", self.language_list, owner, ())
        organization = partial(self.organization, line=self.nodes.key_line(root, "organization"))
        return Schedule(
            organization=self.get(fields, "organization", organization, owner, NO_ORGANIZATION),
            timezone=self.get(fields, "timezone", self.timezone, owner, "UTC"),
            languages=self.languages,
            campaigns=self.get(fields, "campaigns", self.campaigns, owner, {}),
        )

    def organization(self, node: Node, what: str, line: int) -> Organization:
        fields = self.nodes.fields(node, what, *ORGANIZATION, line)
        return Organization(
            name=self.get(fields, "name", self.nodes.text, what, ""),
            email=self.get(fields, "email", self.email, what, ""),
            address=self.get(fields, "address", self.nodes.text, what, ""),
            website=self.get(fields, "website", self.url, what, None),
        )

    def section(
        self, node: Node, what: str, kind: str, build: Callable[[str, str, Node, int], T]
    ) -> dict[str, T]:
        """The entries of a mapping keyed by id, each built by `build(id, owner, value, line)`."""
        result: dict[str, T] = {}
        for key, (key_node, value_node) in self.nodes.entries(node, what).items():
            if not ID.fullmatch(key):
                self.nodes.report(
                    key_node,
                    f"bad {kind} id '{key}': use lowercase letters, digits and '-', "
                    "starting with a letter or digit",
                )
            result[key] = build(key, f"{kind} '{key}'", value_node, line_of(key_node))
        return result

    def campaigns(self, node: Node, what: str) -> dict[str, Campaign]:
        """The campaigns, by id: at least one."""
        campaigns = self.section(node, what, "campaign", self.campaign)
        if not campaigns and isinstance(node, MappingNode):
            self.nodes.report(node, "there must be at least one campaign")
        return campaigns

    def campaign(self, ident: str, owner: str, node: Node, line: int) -> Campaign:
        fields = self.nodes.fields(node, owner, *CAMPAIGN, line)
        targets: dict[str, Target] = self.get(fields, "targets", self.targets, owner, {})
        milestones: dict[str, Milestone] = self.get(
            fields, "milestones", self.milestones, owner, {}
        )
        reminder = partial(self.reminder, milestones=milestones, targets=tuple(targets))
        reminders = partial(self.section, kind="reminder", build=reminder)
        return Campaign(
            id=ident,
            title=self.get(fields, "title", self.localized, owner, NO_TEXT),
            url=self.get(fields, "url", self.url, owner, ""),
            hashtags=self.get(fields, "hashtags", self.hashtags, owner, ()),
            targets=targets,
            milestones=milestones,
            reminders=self.get(fields, "reminders", reminders, owner, {}),
        )

    def targets(self, node: Node, what: str) -> dict[str, Target]:
        """The targets of a campaign, by id."""
        return self.section(node, what, "target", self.target)

    def target(self, ident: str, owner: str, node: Node, line: int) -> Target:
        fields = self.nodes.fields(node, owner, *TARGET, line)
        return Target(
            id=ident,
            name=self.get(fields, "name", self.localized, owner, NO_TEXT),
            role=self.get(fields, "role", self.localized, owner, None),
            handles=self.get(fields, "handles", self.handles, owner, {}),
            email=self.get(fields, "email", self.email, owner, None),
            address=self.get(fields, "address", self.nodes.text, owner, None),
        )

    def milestones(self, node: Node, what: str) -> dict[str, Milestone]:
        """The milestones of a campaign, by id."""
        return self.section(node, what, "milestone", self.milestone)

    def milestone(self, ident: str, owner: str, node: Node, line: int) -> Milestone:
        fields = self.nodes.fields(node, owner, *MILESTONE, line)
        return Milestone(
            id=ident,
            title=self.get(fields, "title", self.localized, owner, NO_TEXT),
            when=self.get(fields, "date", self.when, owner, date.min),
        )

    def reminder(
        self,
        ident: str,
        owner: str,
        node: Node,
        line: int,
        *,
        milestones: Collection[str],
        targets: tuple[str, ...],
    ) -> Reminder:
        fields = self.nodes.fields(node, owner, *REMINDER, line)
        milestone = partial(self.reference, kind="milestone", known=milestones)
        template = partial(self.reference, kind="template", known=self.template_names)
        chosen = partial(self.references, kind="target", known=targets)
        return Reminder(
            id=ident,
            milestone=self.get(fields, "milestone", milestone, owner, ""),
            offset=self.get(fields, "offset", self.offset, owner, timedelta()),
            template=self.get(fields, "template", template, owner, ""),
            at=self.get(fields, "at", self.clock, owner, None),
            targets=self.get(fields, "targets", chosen, owner, targets),
            audience=self.get(fields, "audience", self.audience, owner, Audience()),
            expires=self.get(fields, "expires", self.expires, owner, DEFAULT_EXPIRES),
            announce=self.get(fields, "announce", self.nodes.boolean, owner, False),
        )

    def audience(self, node: Node, what: str) -> Audience:
        fields = self.nodes.fields(node, what, (), AUDIENCE, line_of(node))
        return Audience(
            tags=self.get(fields, "tags", self.nodes.checked_list("bad tag", str), what, ()),
            languages=self.get(fields, "languages", self.audience_languages, what, ()),
            regions=self.get(
                fields, "regions", self.nodes.checked_list("bad region", parse_region), what, ()
            ),
        )

    def handles(self, node: Node, what: str) -> dict[str, str]:
        """Social handles by network, without leading `@`."""
        fields = self.nodes.fields(node, what, (), tuple(HANDLES), line_of(node))
        handles: dict[str, str] = {}
        for network, value_node in fields.items():
            read = self.nodes.checked(f"bad {network} handle", partial(parse_handle, network), "")
            handles[network] = read(value_node, f"'{network}' in {what}")
        return handles

    def reference(self, node: Node, what: str, kind: str, known: Collection[str] | None) -> str:
        """The id of a milestone, target or template, which must be among `known`."""
        value = self.nodes.text(node, what)
        if value and known is not None and value not in known:
            listed = ", ".join(sorted(known)) or "there are none"
            self.nodes.report(node, f"unknown {kind} '{value}' in {what} (known: {listed})")
        return value

    def references(self, node: Node, what: str, kind: str, known: Sequence[str]) -> tuple[str, ...]:
        """A list of ids, each among `known`."""
        items = self.nodes.texts(node, what)
        return tuple(self.reference(item, what, kind, known) for item, _ in items)

    def localized(self, node: Node, what: str) -> Text:
        """A plain text, or a {language: text} mapping over the declared languages."""
        if not isinstance(node, MappingNode):
            return Text.plain(self.nodes.text(node, what))
        values: dict[str, str] = {}
        for language, (key_node, value_node) in self.nodes.entries(node, what).items():
            if self.languages and language not in self.languages:
                declared = ", ".join(self.languages)
                message = f"language '{language}' in {what} is not in 'languages' ({declared})"
                self.nodes.report(key_node, message)
            values[language] = self.nodes.text(value_node, f"{what} ({language})")
        if not values:
            self.nodes.report(node, f"expected text for {what}, found nothing")
        return Text(values) if values else NO_TEXT

    def language_list(self, node: Node, what: str) -> tuple[str, ...]:
        """The top-level languages: at least one, the first is the fallback."""
        codes = self.nodes.checked_list("bad language", parse_language)(node, what)
        if not codes and isinstance(node, SequenceNode) and not node.value:
            self.nodes.report(node, f"{what} must list at least one language, like [en, fr]")
        return codes

    def audience_languages(self, node: Node, what: str) -> tuple[str, ...]:
        """Languages of an audience, each among the top-level ones."""
        return self.nodes.checked_list("unknown language", self.declared_language)(node, what)

    def declared_language(self, value: str) -> str:
        """`value`, which must be one of the top-level languages (when they are known)."""
        if self.languages and value not in self.languages:
            raise ValueError(f"it is not in 'languages' ({', '.join(self.languages)})")
        return value
