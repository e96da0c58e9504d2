"""The web pages supporters and organizers see: small, accessible, autoescaped, EN/FR.

Every value shown goes through Jinja2's autoescaping; the texts hold no markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

from outreach.campaign.model import Schedule

TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "confirm.heading": "Unsubscribe",
        "confirm.body": "Do you want {org} to stop emailing this address?",
        "confirm.campaign": "You got this link in an email about “{campaign}”.",
        "confirm.button": "Unsubscribe",
        "already.heading": "Already unsubscribed",
        "already.body": "{org} no longer sends emails to this address.",
        "done.heading": "You are unsubscribed",
        "done.body": "{org} will send no more emails to this address.",
        "gone.body": "{org} will send you no more emails.",
        "invalid.heading": "This link does not work",
        "invalid.body": "This unsubscribe link is not valid or has expired. To stop our emails, "
        "use the link in our latest email or write to {org_email}.",
        "not_found.heading": "Page not found",
        "not_found.body": "There is nothing at this address.",
        "bad_request.heading": "Bad request",
        "bad_request.body": "This request could not be understood.",
        "too_large.heading": "Request too large",
        "too_large.body": "This request is larger than this site accepts.",
        "error.heading": "Something went wrong",
        "error.body": "Please try again in a few minutes, or write to {org_email}.",
    },
    "fr": {
        "confirm.heading": "Se désabonner",
        "confirm.body": "Voulez-vous que {org} cesse de vous écrire à cette adresse\u00a0?",
        "confirm.campaign": "Vous avez reçu ce lien dans un courriel au sujet de "
        "«\u00a0{campaign}\u00a0».",
        "confirm.button": "Me désabonner",
        "already.heading": "Adresse déjà désabonnée",
        "already.body": "{org} n'envoie plus de courriels à cette adresse.",
        "done.heading": "Votre désabonnement est confirmé",
        "done.body": "{org} n'enverra plus de courriels à cette adresse.",
        "gone.body": "{org} ne vous enverra plus de courriels.",
        "invalid.heading": "Ce lien ne fonctionne pas",
        "invalid.body": "Ce lien de désabonnement n'est pas valide ou a expiré. Pour ne plus "
        "recevoir nos courriels, utilisez le lien de notre dernier courriel ou écrivez-nous "
        "à {org_email}.",
        "not_found.heading": "Page introuvable",
        "not_found.body": "Il n'y a rien à cette adresse.",
        "bad_request.heading": "Requête invalide",
        "bad_request.body": "Cette requête n'a pas pu être comprise.",
        "too_large.heading": "Requête trop volumineuse",
        "too_large.body": "Cette requête dépasse la taille que ce site accepte.",
        "error.heading": "Une erreur est survenue",
        "error.body": "Veuillez réessayer dans quelques minutes, ou écrivez-nous à {org_email}.",
    },
}

_LAYOUT = """<!doctype html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }} · {{ organization.name }}</title>
<style>
body{margin:0;background:#f4f4f4;color:#1a1a1a;font:1.05rem/1.5 system-ui,sans-serif}
main{max-width:40rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff}
h1{font-size:1.5rem;margin-top:0}section+section{border-top:1px solid #ddd;margin-top:1.5rem}
.address{font-weight:bold;word-break:break-all}
button{font:inherit;padding:.6rem 1.4rem;border:0;background:#1a1a1a;color:#fff;cursor:pointer}
button:focus{outline:3px solid #ffbf00;outline-offset:2px}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .5rem;border-bottom:1px solid #ddd}
td.n{text-align:right}.paused{color:#a00;font-weight:bold}
footer{margin-top:2rem;font-size:.9rem;color:#555}
</style>
</head>
<body>
<main{% if wide %} style="max-width:64rem"{% endif %}>
{% block content %}{% endblock %}
<footer>{{ organization.name }} · {{ organization.address }}</footer>
</main>
</body>
</html>
"""

_PAGE = """{% extends "layout.html" %}{% block content %}
{% for section in sections %}<section lang="{{ section.language }}">
<h1>{{ section.heading }}</h1>
{% for paragraph in section.paragraphs %}<p>{{ paragraph }}</p>
{% endfor %}{% if section.address %}<p class="address">{{ section.address }}</p>
{% endif %}{% if section.button %}<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">{{ section.button }}</button>
</form>
{% endif %}</section>
{% endfor %}{% endblock %}
"""

_environment = Environment(
    loader=DictLoader({"layout.html": _LAYOUT, "page.html": _PAGE}),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=False,
)


@dataclass(frozen=True)
class Section:
    """One language's part of a page."""

    language: str
    heading: str
    paragraphs: Sequence[str] = field(default_factory=tuple)
    address: str = ""
    button: str = ""


def mask_email(email: str) -> str:
    """Enough of an address to recognize it, not enough to harvest it: `a***@example.org`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


class Pages:
    """Renders every page in the organization's languages."""

    def __init__(self, schedule: Schedule) -> None:
        self.organization = schedule.organization
        self.schedule = schedule
        languages = [language for language in schedule.languages if language in TEXTS]
        self.languages: tuple[str, ...] = tuple(languages) or ("en",)

    def language_for(self, supporter_language: str | None) -> str:
        """The supporter's language when the pages speak it, else the organization's first."""
        if supporter_language in self.languages:
            return str(supporter_language)
        return self.languages[0]

    def _text(self, language: str, key: str, **values: str) -> str:
        organization = {"org": self.organization.name, "org_email": self.organization.email}
        return TEXTS[language][key].format(**organization, **values)

    def _render(self, sections: Sequence[Section]) -> str:
        return _environment.get_template("page.html").render(
            sections=sections,
            language=sections[0].language,
            title=sections[0].heading,
            organization=self.organization,
            wide=False,
        )

    def confirm(self, language: str, email: str, campaign: str, *, already: bool) -> str:
        """The page an unsubscribe link opens: the address and a button (or that it is done)."""
        known = self.schedule.campaigns.get(campaign)
        name = known.title.resolve(language, self.schedule.fallback_language) if known else campaign
        if already:
            section = Section(
                language,
                self._text(language, "already.heading"),
                (self._text(language, "already.body"),),
                address=mask_email(email),
            )
        else:
            section = Section(
                language,
                self._text(language, "confirm.heading"),
                (
                    self._text(language, "confirm.body"),
                    self._text(language, "confirm.campaign", campaign=name),
                ),
                address=mask_email(email),
                button=self._text(language, "confirm.button"),
            )
        return self._render([section])

    def done(self, language: str, email: str | None) -> str:
        """The answer to the one-click POST."""
        if email is None:  # the supporter was deleted: nothing left to email
            body = self._text(language, "gone.body")
            return self._render([Section(language, self._text(language, "done.heading"), (body,))])
        section = Section(
            language,
            self._text(language, "done.heading"),
            (self._text(language, "done.body"),),
            address=mask_email(email),
        )
        return self._render([section])

    def notice(self, key: str) -> str:
        """A short page in every language: `invalid`, `not_found`, `bad_request`, …"""
        return self._render(
            [
                Section(
                    language,
                    self._text(language, f"{key}.heading"),
                    (self._text(language, f"{key}.body"),),
                )
                for language in self.languages
            ]
        )
