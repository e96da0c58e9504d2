"""Batched output is solo output: random templates of tests, filters and a personalized post,
random supporters, every delivered byte compared with rendering each supporter alone."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.delivery.compose import Composer
from outreach.errors import ProblemsError
from outreach.messages import Content, OutgoingEmail
from outreach.rendering.renderer import Renderer
from outreach.rendering.templates import TemplateSet
from outreach.store.people import supporter_from_row
from outreach.timeline import reminder_sends
from outreach.tokens import TokenSigner
from outreach.transports.mime import wire_bytes
from tests.unit.test_substitution import PUBLIC_URL, ZONE, alone, demo

PIECES = [
    "{{ supporter.first_name }}",
    "{{ supporter.name }} <{{ supporter.email }}>",
    "{{ supporter.city|upper }}",
    "{{ supporter.last_name|truncate(6, True, '') }}",
    "{{ supporter.fields.team }}",
    "{{ supporter.fields['team']|title }}",
    "{% if supporter.city %}from {{ supporter.city }}{% else %}from afar{% endif %}",
    '{% if supporter.fields.member_since < "2016" %}a long-time member{% endif %}',
    "{% if supporter.fields.member_since is defined and supporter.fields.member_since < '2016' %}"
    "since {{ supporter.fields.member_since }}{% endif %}",
    "{% if supporter.fields.nickname is undefined %}{{ supporter.first_name|title }}{% endif %}",
    "{{ supporter.fields.member_since|trim }} {{ supporter.fields.items is callable }}",
    "{% if supporter.fields['team'] is none or supporter.city is upper %}odd{% endif %}",
    "{{ 'dear' if supporter.last_name else 'hi' }}",
    "{% if supporter.city|length > 5 and supporter.region is string %}long{% endif %}",
    "{% if supporter.language == 'en' %}Hello{% endif %}",
    "{{ supporter.city ~ '&' }}",
    "{{ supporter.first_name|default('friend')|replace('a', '<') }}",
    "{{ mailto('minister@example.org', body=supporter.city) }}",
    "{% for t in targets if supporter.first_name %}@{{ t.handles.x }} {% endfor %}",
    "{{ unsubscribe_url }}",
]
POSTS = [
    "@cafreeland please act",
    "Writing from {{ supporter.city }}: @cafreeland, {{ supporter.first_name|upper }} asks you",
    "{% if supporter.fields.team %}Team {{ supporter.fields.team }} {% endif %}@cafreeland",
]
NASTY = [
    "",
    " ",
    "O'Brien",
    'say "hi"',
    "&<>",
    "&amp;",
    "100%",
    "a+b",
    "#tag",
    "🙂",
    "שלום",
    "line\nbreak",
    "-first_name-",
    "-{{city}}",
    '-{{"city}}',
    "%7B%7B",
    "https://x.example",
    "Zoë",
    "Saint-Louis-du-Ha! Ha!",
    "2009",
    "2020-01-01",
]
value = st.one_of(st.sampled_from(NASTY), st.text(max_size=8))
person = st.fixed_dictionaries(
    {
        "first_name": value,
        "last_name": value,
        "city": value,
        "region": st.sampled_from(["NS", "", "QC"]),
        "language": st.sampled_from(["en", "fr", "de"]),
        "team": value,
        "member_since": st.sampled_from(["2009", "2016", "2020", ""]),
    }
)
_COMPOSERS: dict[tuple[str, str, str], Composer] = {}


def composer_for(text: str, html: str, post: str) -> Composer:
    """A composer over a one-file template (cached: compiling is the slow part)."""
    key = (text, html, post)
    if key not in _COMPOSERS:
        folder = Path(tempfile.mkdtemp()) / "templates"
        folder.mkdir()
        (folder / "t.en.j2").write_text(
            "{% block subject %}" + text.split("\n")[0] + "{% endblock %}\n"
            "{% block text %}" + text + "\n{{ suggested_post }}\n{{ share.x }}\n"
            "{{ share.bluesky }} {{ share.mastodon }}\n{{ unsubscribe_url }}{% endblock %}\n"
            "{% block post %}"
            + post
            + "{% endblock %}\n"
            + (
                "{% block html %}<p>" + html + "</p><p>{{ suggested_post }}</p>"
                "<a href='{{ share.x }}'>x</a><a href=\"{{ unsubscribe_url }}\">u</a>"
                "{% endblock %}\n"
                if html
                else ""
            ),
            encoding="utf-8",
        )
        schedule = demo("minister@example.org")
        _COMPOSERS[key] = Composer(
            schedule, Renderer(schedule, folder), TokenSigner("k"), PUBLIC_URL
        )
    return _COMPOSERS[key]


def as_row(index: int, data: dict[str, Any]) -> dict[str, Any]:
    fields = {"team": data["team"], "member_since": data["member_since"]}
    if not data["member_since"]:  # a partial CSV: the column is missing for this supporter
        del fields["member_since"]
    return {
        "id": index + 1,
        "email": f"p{index}@example.org",
        **{k: data[k] for k in ("first_name", "last_name", "city", "region", "language")},
        "timezone": ZONE,
        "fields": json.dumps(fields),
        "zone": ZONE,
    }


def sendgrid_fill(email: OutgoingEmail) -> tuple[str, str, str]:
    """What SendGrid makes of the request: each substitution key replaced in the content."""
    assert email.skeleton is not None
    parts = [email.skeleton.subject, email.skeleton.text, email.skeleton.html]
    for key, replacement in email.substitutions.items():
        parts = [part.replace(key, replacement) for part in parts]
    return parts[0], parts[1], parts[2]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=5),
    st.lists(st.sampled_from(PIECES), max_size=3),
    st.sampled_from(POSTS),
    st.lists(person, min_size=1, max_size=8),
)
def test_batched_emails_are_what_rendering_each_alone_gives(
    text: list[str], html: list[str], post: str, people: list[dict[str, Any]]
) -> None:
    composer = composer_for("\n".join(text), " ".join(html), post)
    send = replace(next(iter(reminder_sends(composer.schedule))), template="t")
    rows = [as_row(i, data) for i, data in enumerate(people)]
    when = datetime(2018, 3, 1, 13, tzinfo=UTC)
    groups = [composer.group(send, row) for row in rows]
    for row, group in zip(rows, groups, strict=True):
        try:
            email = composer.compose(send, row, group)
        except ProblemsError as batched:  # a field the template needs is missing: alone, too
            with pytest.raises(ProblemsError) as solo:
                supporter = supporter_from_row(row)
                composer.renderer.render_send(send, supporter, send.local_date(ZONE), PUBLIC_URL)
            assert str(solo.value) == str(batched)
            continue
        subject, text_, html_, language = alone(composer, send, email, rows)
        assert (email.subject, email.text, email.html, email.language) == (
            subject,
            text_,
            html_,
            language,
        )
        link = email.headers["List-Unsubscribe"].strip("<>")
        assert link.startswith(f"{PUBLIC_URL}/u/") and email.text.endswith(f"{link}\n")
        assert email.send_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        content = Content(email.subject, email.text, email.html)
        solo = replace(email, content=content, skeleton=None, substitutions={})
        assert wire_bytes(email, when) == wire_bytes(solo, when)
        if email.skeleton is not None:
            assert sendgrid_fill(email) == (subject, text_, html_)


def test_a_personalized_post_and_two_branches_render_once_per_outcome() -> None:
    post = "Writing from {{ supporter.city }}: @cafreeland, please act"
    text = (
        '{% if supporter.fields.member_since < "2016" %}Thank you for years of support.'
        "{% endif %}\n{% if supporter.fields.team %}Team {{ supporter.fields.team }}{% endif %}"
    )
    composer = composer_for(text, "", post)
    send = replace(next(iter(reminder_sends(composer.schedule))), template="t")
    people = [
        {
            "first_name": f"F{i}",
            "last_name": "L",
            "city": f"City {i}",
            "region": "NS",
            "language": "en",
            "team": "" if i % 3 else f"T{i}",
            "member_since": "2009" if i % 2 else "2020",
        }
        for i in range(40)
    ]
    emails = [composer.compose(send, as_row(i, data)) for i, data in enumerate(people)]
    skeletons = {id(email.skeleton) for email in emails if email.skeleton is not None}
    assert all(email.skeleton is not None for email in emails) and len(skeletons) == 4
    assert "Writing%20from%20City%207%3A" in emails[7].text


def test_a_prepared_renderer_compiles_nothing_more_for_its_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Helper processes are forked after `prepare`: they start with the send's files."""
    text = '{% if supporter.fields.member_since < "2016" %}Thanks, {{ supporter.city }}.{% endif %}'
    composer = composer_for(text, "", "@cafreeland please act")
    send = replace(next(iter(reminder_sends(composer.schedule))), template="t")
    composer.renderer.prepare(send, ("en", "fr", "xx"))
    compiled: list[str] = []
    original = TemplateSet._from_tree
    monkeypatch.setattr(
        TemplateSet,
        "_from_tree",
        lambda self, *args: compiled.append(args[1]) or original(self, *args),
    )
    rows = [
        as_row(
            i,
            {"first_name": "F", "last_name": "L", "city": f"City {i}", "region": "NS"}
            | {"language": "fr" if i % 2 else "en", "team": "", "member_since": str(2010 + i)},
        )
        for i in range(9)
    ]
    emails = [composer.compose(send, row) for row in rows]
    assert all(email.skeleton is not None for email in emails) and compiled == []
