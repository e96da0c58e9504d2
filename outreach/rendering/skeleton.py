"""Render once, fill in for each supporter: email skeletons with substitution tags.

A skeleton is an email rendered for one supporter of a group with a marker (`-{{"city}}`)
wherever a value is printed (`analysis.rewrite`); the group's tests all come out alike. Where
a marker lands says how a value must be encoded there: as it is (subject and text), escaped
for HTML text or for an HTML attribute (the inlined markup writes the marker's `"` differently
in each), or URL-quoted (a `mailto:` link or a share link). Each marker becomes a tag
(`-{{city}}`, `-{{city:html}}`, `-{{city:attr}}`, `-{{city:url}}`) whose value for a supporter
is encoded the same way, so a filled skeleton is exactly what rendering for that supporter
gives. A marker found in any other form (escaped twice, split by a link) leaves the group's
emails rendered one by one. SendGrid fills the tags itself (`substitutions`); the other
transports get the skeleton filled in locally.

Only `plain` values are filled in (no line breaks, no runs of spaces, no web address, nothing a
tag is made of); a supporter with any other value gets an email rendered for them alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from urllib.parse import quote

from outreach.messages import TAG, Skeleton

_TEXT_MARKER = re.compile(r'-\{\{"([a-z0-9_]+)\}\}|-%7B%7B%22([a-z0-9_]+)%7D%7D')
_HTML_MARKER = re.compile(r'-\{\{("|&quot;)([a-z0-9_]+)\}\}|-%7B%7B%22([a-z0-9_]+)%7D%7D')
_UNSUBSCRIBE = "unsubscribe"


def marker(field: str) -> str:
    """What the stand-in supporter has in `field`."""
    return f'-{{{{"{field}}}}}'


def plain(value: str) -> bool:
    """Whether `value` comes out of every template filter and encoding it may meet unchanged."""
    return (
        value.isprintable()
        and " ".join(value.split()) == value
        and "{{" not in value
        and "://" not in value
    )


def _html_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html_attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


@lru_cache(maxsize=4096)
def _url(value: str) -> str:
    return quote(value, safe="")


def _raw(value: str) -> str:
    return value


_ENCODINGS: dict[str | None, Callable[[str], str]] = {
    None: _raw,
    "html": _html_text,
    "attr": _html_attribute,
    "url": _url,
}


def skeleton_values(
    skeleton: Skeleton, values: Mapping[str, str | None], token: str
) -> dict[str, str]:
    """Each tag's value for a supporter: `values` by slot name, `token` their unsubscribe token."""
    filled = {}
    for tag, name, kind in skeleton.slots:
        raw = token if name == _UNSUBSCRIBE else values[name]
        filled[tag] = _ENCODINGS[kind](raw or "")
    return filled


_RAW_MARKER = re.compile(r"-\{\{&#34;[a-z0-9_]+\}\}")
_CHARACTER_REFERENCE = re.compile(r"&[A-Za-z0-9#]*$")
_RAW_TEXT = re.compile(r"<(/?)(script|style)\b", re.IGNORECASE)


def markers_stand_alone(raw_html: str) -> bool:
    """Whether every marker in the HTML (before inlining) sits where any plain value would be
    read the same way: in text or in a quoted attribute, never in a tag's name or in `&...;`.

    (`<{{ supporter.email }}>` is a tag for `p0@example.org`, but text for a marker.)
    """
    for match in _RAW_MARKER.finditer(raw_html):
        before = raw_html[: match.start()]
        opened, closed = before.rfind("<"), before.rfind(">")
        if opened > closed:  # inside a tag: only within a quoted attribute value
            inside = before[opened:]
            if inside.count('"') % 2 == 0 and inside.count("'") % 2 == 0:
                return False
        elif _CHARACTER_REFERENCE.search(before):
            return False
        raw = [m for m in _RAW_TEXT.finditer(before)]
        if raw and not raw[-1][1]:  # in a script or a style
            return False
    return True


def skeleton_of(subject: str, text: str, html: str, language: str) -> Skeleton | None:
    """The skeleton of an email rendered for a stand-in; None if a marker did not survive whole.

    (A marker glued to a web address in a paragraph, say, ends up split by the link.)
    """
    subject = _TEXT_MARKER.sub(_text_tag, subject)
    text = _TEXT_MARKER.sub(_text_tag, text)
    html = _HTML_MARKER.sub(_html_tag, html)
    for part in (subject, text, html):
        if part.count("{{") != len(TAG.findall(part)) or "%7B%7B" in part.upper():
            return None
    return Skeleton(subject, text, html, language)


def _tag(field: str, kind: str | None = None) -> str:
    """The substitution tag of `field` encoded as `kind` (None: as it is)."""
    return f"-{{{{{field}:{kind}}}}}" if kind else f"-{{{{{field}}}}}"


def _text_tag(match: re.Match[str]) -> str:
    """The tag for a marker in the subject or the text part: as it is, or URL-quoted."""
    return _tag(match[1]) if match[1] else _tag(match[2], "url")


def _html_tag(match: re.Match[str]) -> str:
    """The tag for a marker in the HTML part: in text, in an attribute, or URL-quoted."""
    if match[2]:
        return _tag(match[2], "html" if match[1] == '"' else "attr")
    return _tag(match[3], "url")
