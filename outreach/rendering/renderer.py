"""Rendering: each supporter's email and suggested post, and the organization's announcement."""

from __future__ import annotations

import re
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import TemplateNotFound, Undefined
from jinja2.runtime import Context

from outreach.campaign.model import Campaign, Milestone, Schedule, Supporter
from outreach.errors import OutreachError, Problem, ProblemsError
from outreach.rendering.analysis import FILLS, Personalization
from outreach.rendering.environment import CampaignerUndefined, paragraphs
from outreach.rendering.slots import Fills, Reading
from outreach.rendering.social import share_links, target_handles
from outreach.rendering.templates import CacheFor, CompiledFile, TemplateSet, block_context
from outreach.rendering.views import (
    CampaignView,
    MilestoneView,
    RenderedEmail,
    TargetView,
    target_view,
)
from outreach.timeline import Send

_CACHE_LIMIT = 10_000
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


_FILES_REMEMBERED = 1000
"""How many (template, language) lookups a renderer keeps."""


class Renderer:
    """Renders the templates of a templates folder for the campaigns of a schedule."""

    def __init__(
        self,
        schedule: Schedule,
        templates_dir: Path,
        *,
        label: str | None = None,
        cache_for: CacheFor | None = None,
    ) -> None:
        """Compile every template once (or load it from `cache_for`'s bytecode caches); raise
        ProblemsError listing every broken file."""
        self._schedule = schedule
        self.label = templates_dir.as_posix() if label is None else label
        self._set = TemplateSet(templates_dir, self.label, cache_for)
        self._generated = self._set.html.from_string(_GENERATED_HTML)
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
        self._posts: dict[tuple[Any, ...], tuple[str, dict[str, str]]] = {}
        self._views: dict[
            tuple[str, tuple[str, ...], str], tuple[CampaignView, tuple[TargetView, ...]]
        ] = {}
        self._files: dict[tuple[str, str], CompiledFile] = {}

    def template_names(self) -> frozenset[str]:
        """The templates, by base name (`letter-reminder` for `letter-reminder.en.j2`)."""
        return frozenset(self._set.files)

    def languages_of(self, template: str) -> frozenset[str]:
        """The languages `template` has a file in."""
        return frozenset(self._set.files.get(template, {}))

    def personalization(self, template: str, language: str) -> tuple[str, Personalization]:
        """The language `template` renders in for a supporter in `language`, and how it varies."""
        compiled = self._file(template, language)
        return compiled.language, self._set.personalization(compiled)[0]

    def personalizations(self) -> list[tuple[str, Personalization]]:
        """Every template file, and how its email varies by supporter."""
        return [
            (compiled.file, self._set.personalization(compiled)[0])
            for files in self._set.files.values()
            for compiled in files.values()
        ]

    def prepare(self, send: Send, languages: Sequence[str]) -> None:
        """Analyse and compile what `send`'s emails need in `languages` now (a process forked
        after this starts with it, instead of compiling it again)."""
        for language in languages:
            try:
                compiled = self._file(send.template, language)
            except OutreachError:
                continue  # raised again where an email needs it, as it would be anyway
            if self._set.personalization(compiled)[0].shared:
                self._set.skeleton_file(compiled)

    def reading(
        self, send: Send, supporter: Supporter, send_date: date
    ) -> tuple[str, Reading | None]:
        """The language `supporter`'s email for `send` renders in, and what they give its slots
        (None: their email is rendered for them alone)."""
        compiled = self._file(send.template, supporter.language)
        personalization, reader = self._set.personalization(compiled)
        if not personalization.shared:
            return compiled.language, None
        targets = tuple(send.targets)

        def context() -> dict[str, Any]:
            return self._base_context(
                send.campaign, targets, send.milestone, compiled.language, send_date
            )

        return compiled.language, reader.read(supporter, context)

    def render_shared(
        self,
        send: Send,
        supporter: Supporter,
        reading: Reading,
        send_date: date,
        unsubscribe_url: str,
    ) -> RenderedEmail:
        """The email for `send` of every supporter whose reading is `reading` (`supporter` is
        one), with a marker wherever a value is printed (`skeleton.py`)."""
        compiled = self._set.skeleton_file(self._file(send.template, supporter.language))
        extra = {FILLS: Fills(reading.values)}
        return self._render(
            compiled,
            send.campaign,
            send.targets,
            send.milestone,
            supporter,
            send_date,
            unsubscribe_url,
            extra,
        )

    def block_line(self, template: str, language: str, block: str) -> int | None:
        """The line where `template`'s file in `language` opens `block`, if it does."""
        compiled = self._set.files.get(template, {}).get(language)
        return None if compiled is None else compiled.lines.get(block)

    def render_send(
        self, send: Send, supporter: Supporter, send_date: date, unsubscribe_url: str
    ) -> RenderedEmail:
        """The email `supporter` gets for `send` on `send_date` (their local day)."""
        compiled = self._file(send.template, supporter.language)
        campaign, targets, milestone = send.campaign, send.targets, send.milestone
        return self._render(
            compiled, campaign, targets, milestone, supporter, send_date, unsubscribe_url
        )

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
        return self._render(
            compiled, campaign, target_ids, milestone, supporter, send_date, unsubscribe_url
        )

    def _render(
        self,
        compiled: CompiledFile,
        campaign: Campaign,
        target_ids: Sequence[str],
        milestone: Milestone | None,
        supporter: Supporter,
        send_date: date,
        unsubscribe_url: str,
        extra: dict[str, Any] | None = None,
    ) -> RenderedEmail:
        """`compiled`'s email for `supporter` (`extra`: more variables)."""
        language = compiled.language
        targets = tuple(target_ids)
        context = self._base_context(campaign, targets, milestone, language, send_date)
        context["supporter"] = supporter
        context["unsubscribe_url"] = unsubscribe_url
        context.update(extra or {})
        post, share = self._post(compiled, context, campaign, targets, milestone, send_date)
        context["suggested_post"] = post
        context["share"] = share
        plain = block_context(compiled.plain, compiled.plain_blocks, context)
        subject = " ".join(self._block(compiled, plain, "subject", required=True).split())
        text = _tidy(self._block(compiled, plain, "text", required=True))
        html = ""
        if "html" in compiled.html_blocks:
            rich = block_context(compiled.html, compiled.html_blocks, context)
            html = self._block(compiled, rich, "html").strip()
        if not html:
            html = self._generated.render(language=language, subject=subject, body=paragraphs(text))
        return RenderedEmail(subject, text, self._inliner.inline(html), post, language, html)

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
        plain = block_context(compiled.plain, compiled.plain_blocks, context)
        return " ".join(self._block(compiled, plain, "announcement").split())

    def _file(self, template: str, language: str) -> CompiledFile:
        """`template`'s file in `language` (or its base language), else in the first language."""
        found = self._files.get((template, language))
        if found is None:
            if len(self._files) > _FILES_REMEMBERED:
                self._files.clear()
            found = self._files[template, language] = self._find_file(template, language)
        return found

    def _find_file(self, template: str, language: str) -> CompiledFile:
        files = self._set.files.get(template)
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
            targets.append(target_view(target, language, fallback))
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
            else CampaignerUndefined(hint="milestone.days_until is not known in an announcement")
        )
        title = milestone.title.resolve(language, self._schedule.fallback_language)
        return MilestoneView(milestone.id, title, milestone.day, days_until)

    def _post(
        self,
        compiled: CompiledFile,
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
        plain = block_context(compiled.plain, compiled.plain_blocks, context)
        post = " ".join(self._block(compiled, plain, "post").split())
        result = post, share_links(post, list(target_handles(campaign, targets).values()))
        if key is not None:
            if len(self._posts) >= _CACHE_LIMIT:
                self._posts.clear()
            self._posts[key] = result
        return result

    def _block(
        self, compiled: CompiledFile, context: Context, name: str, required: bool = False
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
            if frame.filename in self._set.filenames:
                file, line = self._set.filenames[frame.filename], frame.lineno or 1
                break
        if isinstance(exc, TemplateNotFound):
            message = f"no template file '{exc.name}'"
        else:
            message = str(exc) or type(exc).__name__
        return ProblemsError([Problem(f"{self.label}/{file}", line, message)])


def _tidy(text: str) -> str:
    """Plain text without trailing spaces or runs of blank lines, ending with one newline."""
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines) + "\n"
