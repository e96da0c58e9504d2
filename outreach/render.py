"""Rendering: each supporter's email and suggested post, and the organization's announcement.

`templates/<template>.<language>.j2` defines blocks: `subject`, `text` (required), `html`,
`post`, `announcement`. Files whose names start with `_` are layouts. Every file is compiled
once, in two environments: plain text (no escaping) and HTML (autoescaped). A block is rendered
on its own through the file's chain of layouts, so `{% extends %}` and `super()` work without
rendering the whole file for each block.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import css_inline
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    Undefined,
    meta,
    nodes,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.utils import missing
from markupsafe import Markup, escape

from outreach.dates import format_local_date
from outreach.errors import OutreachError, Problem, ProblemsError
from outreach.model import Campaign, Milestone, Schedule, Supporter, Target
from outreach.personalization import Personalization, analyse
from outreach.posts import share_links

Blocks = dict[str, list[Callable[[Context], Iterator[str]]]]

_FILE_NAME = re.compile(r"(?P<template>[^._/][^./]*)\.(?P<language>[A-Za-z]{2,3}([-_]\w+)?)\.j2")
_URL = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'\u2019»]")
_CACHE_LIMIT = 10_000
_POST_CONTEXT = frozenset(
    {"campaign", "milestone", "target", "targets", "organization", "language"}
)
_SUPPORTER_KEYS = frozenset(
    {"first_name", "last_name", "name", "email", "city", "region", "language"}
)
_GENERATED_HTML = """<!DOCTYPE html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ subject }}</title>
<style>
body { margin: 0; padding: 0; background: #ffffff; color: #1a1a1a;
  font-family: Arial, Helvetica, sans-serif; font-size: 16px; line-height: 1.5; }
.email { max-width: 600px; margin: 0 auto; padding: 24px 16px; }
a { color: #1a1a1a; text-decoration: underline; }
</style>
</head>
<body><div class="email">
{{ body }}
</div></body>
</html>"""


@dataclass(frozen=True)
class RenderedEmail:
    """One supporter's email, and the post it suggests."""

    subject: str
    text: str
    html: str
    post: str
    language: str
    """The language actually used (the first language when the supporter's has no file)."""


@dataclass(frozen=True)
class CampaignView:
    """`campaign` in templates."""

    label: ClassVar[str] = "campaign"
    id: str
    title: str
    url: str
    hashtags: tuple[str, ...]


@dataclass(frozen=True)
class TargetView:
    """`target` and each of `targets` in templates."""

    label: ClassVar[str] = "target"
    id: str
    name: str
    role: str | None
    handles: Mapping[str, str]
    email: str | None
    address: str | None


@dataclass(frozen=True)
class MilestoneView:
    """`milestone` in templates; `days_until` counts from the local day of sending."""

    label: ClassVar[str] = "milestone"
    id: str
    title: str
    date: date
    days_until: int | Undefined


@dataclass(frozen=True)
class _Compiled:
    """One language file of a template, compiled in both environments."""

    file: str
    language: str
    plain: Template
    html: Template
    plain_blocks: Blocks
    html_blocks: Blocks
    lines: Mapping[str, int]
    post_reads: tuple[str, ...] | None
    """The supporter fields the post block reads; None when it may read more (not cached)."""
    personalization: Personalization
    """How the email depends on the supporter: shared by many, or rendered for each."""


class Renderer:
    """Renders the templates of a templates folder for the campaigns of a schedule."""

    def __init__(
        self, schedule: Schedule, templates_dir: Path, *, label: str | None = None
    ) -> None:
        """Compile every template once; raise ProblemsError listing every broken file."""
        self._schedule = schedule
        self.label = templates_dir.as_posix() if label is None else label
        self._plain = _environment(templates_dir, autoescape=False)
        self._html = _environment(templates_dir, autoescape=True)
        self._generated = self._html.from_string(_GENERATED_HTML)
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
        self._filenames: dict[str, str] = {}
        self._posts: dict[tuple[Any, ...], tuple[str, dict[str, str]]] = {}
        self._views: dict[
            tuple[str, tuple[str, ...], str], tuple[CampaignView, tuple[TargetView, ...]]
        ] = {}
        self._templates = self._compile(templates_dir)

    def template_names(self) -> frozenset[str]:
        """The templates, by base name (`letter-reminder` for `letter-reminder.en.j2`)."""
        return frozenset(self._templates)

    def languages_of(self, template: str) -> frozenset[str]:
        """The languages `template` has a file in."""
        return frozenset(self._templates.get(template, {}))

    def personalization(self, template: str, language: str) -> tuple[str, Personalization]:
        """The language `template` renders in for a supporter in `language`, and how it varies."""
        compiled = self._file(template, language)
        return compiled.language, compiled.personalization

    def personalizations(self) -> Iterator[tuple[str, Personalization]]:
        """Every template file, and how its email varies by supporter."""
        for files in self._templates.values():
            for compiled in files.values():
                yield compiled.file, compiled.personalization

    def block_line(self, template: str, language: str, block: str) -> int | None:
        """The line where `template`'s file in `language` opens `block`, if it does."""
        compiled = self._templates.get(template, {}).get(language)
        return None if compiled is None else compiled.lines.get(block)

    def render_email(
        self,
        *,
        campaign: Campaign,
        template: str,
        target_ids: Sequence[str],
        milestone: Milestone | None,
        supporter: Supporter,
        send_date: date,
        unsubscribe_url: str,
    ) -> RenderedEmail:
        """The email `supporter` gets, in their language if the template has it, else the first."""
        compiled = self._file(template, supporter.language)
        language = compiled.language
        targets = tuple(target_ids)
        context = self._base_context(campaign, targets, milestone, language, send_date)
        context["supporter"] = supporter
        context["unsubscribe_url"] = unsubscribe_url
        post, share = self._post(compiled, context, campaign, targets, milestone, send_date)
        context["suggested_post"] = post
        context["share"] = share
        plain = _context(compiled.plain, compiled.plain_blocks, context)
        subject = " ".join(self._block(compiled, plain, "subject", required=True).split())
        text = _tidy(self._block(compiled, plain, "text", required=True))
        html = ""
        if "html" in compiled.html_blocks:
            rich = _context(compiled.html, compiled.html_blocks, context)
            html = self._block(compiled, rich, "html").strip()
        if not html:
            html = self._generated.render(
                language=language, subject=subject, body=_paragraphs(text)
            )
        return RenderedEmail(subject, text, self._inliner.inline(html), post, language)

    def render_announcement(
        self,
        *,
        campaign: Campaign,
        template: str,
        target_ids: Sequence[str],
        milestone: Milestone | None,
        language: str,
        send_date: date | None = None,
    ) -> str:
        """The organization's own post (`announcement` block, no supporter); "" without one."""
        compiled = self._file(template, language)
        context = self._base_context(
            campaign, tuple(target_ids), milestone, compiled.language, send_date
        )
        plain = _context(compiled.plain, compiled.plain_blocks, context)
        return " ".join(self._block(compiled, plain, "announcement").split())

    def _file(self, template: str, language: str) -> _Compiled:
        """`template`'s file in `language` (or its base language), else in the first language."""
        files = self._templates.get(template)
        if files is None:
            raise OutreachError(f"no template '{template}' in {self.label}")
        fallback = self._schedule.fallback_language
        for candidate in (language, re.split(r"[-_]", language)[0], fallback):
            if candidate in files:
                return files[candidate]
        raise OutreachError(
            f"{self.label}/{template}.{fallback}.j2 is missing: other languages fall back to it"
        )

    def _base_context(
        self,
        campaign: Campaign,
        target_ids: tuple[str, ...],
        milestone: Milestone | None,
        language: str,
        send_date: date | None,
    ) -> dict[str, Any]:
        """The variables every block sees, except the supporter's."""
        campaign_view, targets = self._campaign_views(campaign, target_ids, language)
        return {
            "campaign": campaign_view,
            "milestone": self._milestone_view(milestone, language, send_date),
            "target": targets[0] if targets else None,
            "targets": targets,
            "organization": self._schedule.organization,
            "language": language,
        }

    def _campaign_views(
        self, campaign: Campaign, target_ids: tuple[str, ...], language: str
    ) -> tuple[CampaignView, tuple[TargetView, ...]]:
        """`campaign` and `targets` in `language` (cached for the schedule's own campaigns)."""
        key = (campaign.id, target_ids, language)
        cacheable = self._schedule.campaigns.get(campaign.id) is campaign
        if cacheable and key in self._views:
            return self._views[key]
        fallback = self._schedule.fallback_language
        targets = []
        for target_id in target_ids or tuple(campaign.targets):
            target = campaign.targets.get(target_id)
            if target is None:
                raise OutreachError(f"campaign '{campaign.id}' has no target '{target_id}'")
            targets.append(_target_view(target, language, fallback))
        title = campaign.title.resolve(language, fallback)
        views = CampaignView(campaign.id, title, campaign.url, campaign.hashtags), tuple(targets)
        if cacheable:
            self._views[key] = views
        return views

    def _milestone_view(
        self, milestone: Milestone | None, language: str, send_date: date | None
    ) -> MilestoneView | None:
        """`milestone` in `language`, counting days from `send_date`."""
        if milestone is None:
            return None
        days_until: int | Undefined = (
            (milestone.day - send_date).days
            if send_date is not None
            else _Undefined(hint="milestone.days_until is not known in an announcement")
        )
        title = milestone.title.resolve(language, self._schedule.fallback_language)
        return MilestoneView(milestone.id, title, milestone.day, days_until)

    def _post(
        self,
        compiled: _Compiled,
        context: dict[str, Any],
        campaign: Campaign,
        targets: tuple[str, ...],
        milestone: Milestone | None,
        send_date: date,
    ) -> tuple[str, dict[str, str]]:
        """The suggested post and its share links, cached when they cannot differ."""
        key: tuple[Any, ...] | None = None
        own = self._schedule.campaigns.get(campaign.id) is campaign and (
            milestone is None or campaign.milestones.get(milestone.id) is milestone
        )
        if compiled.post_reads is not None and own:
            supporter = context["supporter"]
            values = tuple(getattr(supporter, name) for name in compiled.post_reads)
            key = (compiled.file, campaign.id, targets, milestone and milestone.id, send_date)
            key += values
            if key in self._posts:
                return self._posts[key]
        plain = _context(compiled.plain, compiled.plain_blocks, context)
        post = " ".join(self._block(compiled, plain, "post").split())
        result = post, share_links(post)
        if key is not None:
            if len(self._posts) >= _CACHE_LIMIT:
                self._posts.clear()
            self._posts[key] = result
        return result

    def _block(
        self, compiled: _Compiled, context: Context, name: str, required: bool = False
    ) -> str:
        """One block rendered in `context`; "" when absent, unless it is `required`."""
        functions = context.blocks.get(name)
        if not functions:
            if required:
                path = f"{self.label}/{compiled.file}"
                raise ProblemsError([Problem(path, 1, f"missing {{% block {name} %}}")])
            return ""
        environment = context.environment
        try:
            try:
                return environment.concat(functions[0](context))
            except Exception:
                environment.handle_exception()
        except Exception as exc:
            raise self._problem(exc, compiled.file) from exc

    def _problem(self, exc: Exception, file: str) -> ProblemsError:
        """A rendering error, located at the innermost template line it passed through."""
        line = 1
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename in self._filenames:
                file, line = self._filenames[frame.filename], frame.lineno or 1
                break
        if isinstance(exc, TemplateNotFound):
            message = f"no template file '{exc.name}'"
        else:
            message = str(exc) or type(exc).__name__
        return ProblemsError([Problem(f"{self.label}/{file}", line, message)])

    def _compile(self, templates_dir: Path) -> dict[str, dict[str, _Compiled]]:
        """Compile every file of `templates_dir`; raise ProblemsError for every broken one."""
        if not templates_dir.is_dir():
            raise OutreachError(f"{self.label}: template folder not found")
        problems: list[Problem] = []
        trees: dict[str, nodes.Template] = {}
        paths = sorted(templates_dir.rglob("*.j2"))
        for path in paths:
            name = path.relative_to(templates_dir).as_posix()
            try:
                source = path.read_text(encoding="utf-8")
                trees[name] = self._plain.parse(source, name, str(path))
                for environment in (self._plain, self._html):
                    self._filenames[str(environment.get_template(name).filename)] = name
            except TemplateSyntaxError as exc:
                problems.append(Problem(f"{self.label}/{name}", exc.lineno, exc.message or ""))
            except UnicodeDecodeError:
                problems.append(Problem(f"{self.label}/{name}", 1, "not UTF-8 text"))
        names = {path.relative_to(templates_dir).as_posix() for path in paths}
        parents = self._parents(trees, names, problems)
        templates: dict[str, dict[str, _Compiled]] = {}
        for name in trees:
            if name.startswith("_") or "/" in name:
                continue
            match = _FILE_NAME.fullmatch(name)
            chain = self._chain(name, parents, problems)
            if match is None:
                message = (
                    "name templates NAME.LANGUAGE.j2 (like letter-reminder.en.j2), layouts _NAME"
                )
                problems.append(Problem(f"{self.label}/{name}", 1, message))
            elif chain:
                compiled = self._compiled(name, match["language"], chain, trees)
                templates.setdefault(match["template"], {})[match["language"]] = compiled
        if problems:
            raise ProblemsError(problems)
        return templates

    def _parents(
        self, trees: Mapping[str, nodes.Template], names: set[str], problems: list[Problem]
    ) -> dict[str, str]:
        """The layout each file extends, for those that extend one (among `names`)."""
        parents = {}
        for name, tree in trees.items():
            extends = list(tree.find_all(nodes.Extends))
            if not extends:
                continue
            node = extends[0]
            parent = node.template.value if isinstance(node.template, nodes.Const) else None
            if len(extends) > 1 or node not in tree.body or not isinstance(parent, str):
                message = 'extend one layout, once, at the top level: {% extends "_layout.j2" %}'
                problems.append(Problem(f"{self.label}/{name}", node.lineno, message))
            elif parent not in names:
                message = f"extends '{parent}', which is not in {self.label}"
                problems.append(Problem(f"{self.label}/{name}", node.lineno, message))
            elif parent in trees:  # else the layout's own problem is reported
                parents[name] = parent
        return parents

    def _chain(self, name: str, parents: Mapping[str, str], problems: list[Problem]) -> list[str]:
        """`name` and the layouts it extends, nearest first; [] if they extend each other."""
        chain = [name]
        while (parent := parents.get(chain[-1])) is not None:
            if parent in chain:
                loop = " → ".join([*chain, parent])
                problems.append(
                    Problem(f"{self.label}/{name}", 1, f"layouts extend in a loop: {loop}")
                )
                return []
            chain.append(parent)
        return chain

    def _compiled(
        self, name: str, language: str, chain: list[str], trees: Mapping[str, nodes.Template]
    ) -> _Compiled:
        """The compiled form of template file `name`, extending the layouts in `chain`."""
        plain = [self._plain.get_template(file) for file in chain]
        html = [self._html.get_template(file) for file in chain]
        lines = {block.name: block.lineno for block in trees[name].find_all(nodes.Block)}
        post_reads = _supporter_reads(self._plain, [trees[file] for file in chain], "post")
        personalization = analyse({file: trees[file] for file in chain})
        if post_reads is None or not set(post_reads) <= {"language"}:
            reason = f"{name}:{lines.get('post', 1)}: the suggested post reads supporter data"
            personalization = Personalization(reason=personalization.reason or reason)
        elif post_reads:
            personalization = replace(personalization, by_language=True)
        return _Compiled(
            name,
            language,
            plain[0],
            html[0],
            _blocks(plain),
            _blocks(html),
            lines,
            post_reads,
            personalization,
        )


def mailto(address: str, subject: str = "", body: str = "") -> str:
    """A `mailto:` link with subject and body filled in (for the letter helper)."""
    fields = {"subject": subject, "body": body}
    query = "&".join(
        f"{key}={quote(_unescaped(value).replace(chr(10), chr(13) + chr(10)), safe='')}"
        for key, value in fields.items()
        if value
    )
    return f"mailto:{quote(address, safe='@')}" + (f"?{query}" if query else "")


def _unescaped(value: str) -> str:
    """Plain text, even when a block rendered in the HTML environment gave escaped markup."""
    return value.unescape() if isinstance(value, Markup) else value


class _Undefined(StrictUndefined):
    """An undefined variable: an error, in words a campaigner understands."""

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        if self._undefined_obj is missing:
            return f"unknown variable '{name}'"
        if self._undefined_obj is None:
            return f"cannot read '{name}' of nothing (check it with {{% if %}} first)"
        if isinstance(self._undefined_obj, Mapping):
            known = ", ".join(sorted(map(str, self._undefined_obj))) or "nothing"
            return f"no '{name}' here, only: {known}"
        owner = getattr(self._undefined_obj, "label", type(self._undefined_obj).__name__)
        if isinstance(self._undefined_obj, Supporter):
            owner = "supporter"
        return f"{owner} has no '{name}'"


@pass_context
def _date_filter(context: Context, value: date, format: str = "long") -> str:
    """`{{ milestone.date|date }}`: the date in the email's language."""
    return format_local_date(value, str(context["language"]), format)


def _blank_none(value: Any) -> Any:
    """Print None as nothing (a target without an email address, say)."""
    return "" if value is None else value


def _environment(templates_dir: Path, *, autoescape: bool) -> Environment:
    """A Jinja2 environment for the templates folder: strict, compiled once, never reloaded."""
    environment = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=autoescape,
        undefined=_Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
        finalize=_blank_none,
    )
    environment.filters["date"] = _date_filter
    environment.filters["paragraphs"] = _paragraphs
    environment.globals["mailto"] = mailto
    return environment


def _context(template: Template, blocks: Blocks, variables: dict[str, Any]) -> Context:
    """A render context whose blocks are those of `template` and of its layouts."""
    context = template.new_context(variables)
    context.blocks = blocks
    return context


def _blocks(chain: Sequence[Template]) -> Blocks:
    """Every block of a template and its layouts, the template's own first (as `extends` does)."""
    blocks: Blocks = {}
    for template in chain:
        for name, function in template.blocks.items():
            blocks.setdefault(name, []).append(function)
    return blocks


def _supporter_reads(
    environment: Environment, trees: Sequence[nodes.Template], block: str
) -> tuple[str, ...] | None:
    """The supporter fields `block` reads, or None when it may read anything else of them."""
    node = next((b for tree in trees for b in tree.find_all(nodes.Block) if b.name == block), None)
    if node is None:
        return ()
    opaque = (nodes.Call, nodes.Include, nodes.Import, nodes.FromImport, nodes.Block)
    if any(True for _ in node.find_all(opaque)):
        return None
    body = nodes.Template(node.body, lineno=node.lineno)
    body.set_environment(environment)
    if not meta.find_undeclared_variables(body) <= _POST_CONTEXT | {"supporter"}:
        return None
    uses = [n for n in node.find_all(nodes.Name) if n.name == "supporter" and n.ctx == "load"]
    reads = [
        n.attr
        for n in node.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name) and n.node.name == "supporter"
    ]
    if len(reads) != len(uses) or not set(reads) <= _SUPPORTER_KEYS:
        return None
    return tuple(sorted(set(reads)))


def _target_view(target: Target, language: str, fallback: str) -> TargetView:
    """`target` as templates see it, in `language`."""
    role = target.role.resolve(language, fallback) if target.role else None
    return TargetView(
        target.id,
        target.name.resolve(language, fallback),
        role,
        target.handles,
        target.email,
        target.address,
    )


def _tidy(text: str) -> str:
    """Plain text without trailing spaces or runs of blank lines, ending with one newline."""
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines) + "\n"


def _paragraphs(text: str) -> Markup:
    """Plain text as HTML paragraphs, with its web addresses as links (`|paragraphs`)."""
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", _unescaped(text).strip()):
        lines = [_linked(line) for line in paragraph.splitlines()]
        paragraphs.append(Markup("<p>%s</p>") % Markup("<br>\n").join(lines))
    return Markup("\n").join(paragraphs)


def _linked(line: str) -> Markup:
    """One line of text, escaped, its web addresses made links."""
    parts, start = [], 0
    for match in _URL.finditer(line):
        parts += [
            escape(line[start : match.start()]),
            Markup('<a href="{0}">{0}</a>').format(match[0]),
        ]
        start = match.end()
    parts.append(escape(line[start:]))
    return Markup("").join(parts)
