"""The headers that tell mailbox providers who sends, to which list, and which email this is.

- `Message-ID` is unique per installation and stable per occurrence: an HMAC of the
  occurrence (campaign, reminder, supporter, address, send instant) with the installation's
  secret. A second installation, or a database rebuilt for the next campaign, never repeats
  one (Gmail silently drops a message whose Message-ID it has seen); a re-send of the same
  occurrence repeats it, so a duplicate is dropped.
- `List-Id` (RFC 2919) names the campaign as a list: `Title <campaign-id.domain>`.
- `Feedback-ID` (Google's feedback loop) is `campaign:reminder:mailtype:sender`, so spam
  reports can be counted per campaign and reminder.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.charset import BASE64, Charset
from email.header import Header
from email.utils import quote

from outreach.tokens import TokenSigner

MESSAGE_ID_HEX = 32
"""128 bits of the HMAC: collisions are out of reach."""
MAIL_TYPE = "reminder"
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = BASE64
_NOT_LABEL = re.compile(r"[^A-Za-z0-9-]+")
_NOT_FIELD = re.compile(r"[^A-Za-z0-9._-]+")
_PHRASE_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def message_id(
    signer: TokenSigner,
    occurrence: tuple[str, str, int, str, datetime],
    domain: str,
) -> str:
    """`<hex@domain>` for (campaign, reminder key, supporter id, address, send instant)."""
    campaign, key, supporter, address, fires = occurrence
    digest = signer.digest(campaign, key, str(supporter), address.casefold(), fires.isoformat())
    return f"<{digest[:MESSAGE_ID_HEX]}@{domain}>"


def list_id(title: str, campaign: str, domain: str) -> str:
    """RFC 2919's `List-Id`: the title as a phrase, the campaign id under the domain."""
    label = _NOT_LABEL.sub("-", campaign).strip("-") or "campaign"
    return f"{_phrase(title)} <{label}.{domain.lower()}>"


def feedback_id(campaign: str, reminder: str, sender: str) -> str:
    """Google's `Feedback-ID`: colon-separated fields, none containing a colon."""
    fields = (campaign, reminder, MAIL_TYPE, sender)
    return ":".join(_NOT_FIELD.sub("-", field).strip("-") for field in fields)


def _phrase(text: str) -> str:
    """`text` as an RFC 5322 phrase: as it is, quoted, or encoded words if not ASCII."""
    text = " ".join(text.split())
    if not text.isascii():
        return Header(text, _UTF8).encode()
    if _PHRASE_SPECIALS.search(text):
        return f'"{quote(text)}"'
    return text
