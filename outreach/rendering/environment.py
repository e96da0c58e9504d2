"""The Jinja environments templates render in: strict, and the filters and globals they offer.

Two environments share one folder: plain text (no escaping) and HTML (autoescaped). Both are
Jinja's immutable sandbox, each render within a budget (`outreach.rendering.sandbox`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from jinja2.utils import missing
from markupsafe import Markup, escape

from outreach.campaign.model import Supporter
from outreach.rendering.dates import format_local_date
from outreach.rendering.sandbox import BudgetedSandbox

_URL = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'\u2019»]")


class CampaignerUndefined(StrictUndefined):
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


def template_environment(templates_dir: Path, *, autoescape: bool) -> BudgetedSandbox:
    """A sandboxed Jinja2 environment for the templates folder: strict, compiled once."""
    environment = BudgetedSandbox(
        loader=FileSystemLoader(templates_dir),
        autoescape=autoescape,
        undefined=CampaignerUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
        finalize=_blank_none,
    )
    environment.add_filter("date", _date_filter)
    environment.add_filter("paragraphs", paragraphs)
    environment.globals["mailto"] = mailto
    return environment


def mailto(address: str, subject: str = "", body: str = "") -> str:
    """A `mailto:` link with subject and body filled in (for the letter helper)."""
    fields = {"subject": subject, "body": body}
    query = "&".join(
        f"{key}={quote(_unescaped(value).replace(chr(10), chr(13) + chr(10)), safe='')}"
        for key, value in fields.items()
        if value
    )
    return f"mailto:{quote(address, safe='@')}" + (f"?{query}" if query else "")


def paragraphs(text: str) -> Markup:
    """Plain text as HTML paragraphs, with its web addresses as links (`|paragraphs`)."""
    parts = []
    for paragraph in re.split(r"\n\s*\n", _unescaped(text).strip()):
        lines = [_linked(line) for line in paragraph.splitlines()]
        parts.append(Markup("<p>%s</p>") % Markup("<br>\n").join(lines))
    return Markup("\n").join(parts)


def _unescaped(value: str) -> str:
    """Plain text, even when a block rendered in the HTML environment gave escaped markup."""
    return value.unescape() if isinstance(value, Markup) else value


@pass_context
def _date_filter(context: Context, value: date, format: str = "long") -> str:
    """`{{ milestone.date|date }}`: the date in the email's language."""
    return format_local_date(value, str(context["language"]), format)


def _blank_none(value: Any) -> Any:
    """Print None as nothing (a target without an email address, say)."""
    return "" if value is None else value


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
