"""The one canonical key of an email address: how every lookup finds a mailbox.

Computed in Python only, never by SQL `lower()` (SQLite folds ASCII only, PostgreSQL folds
by its locale): Unicode NFC, the local part case-folded, the domain IDNA-normalized (UTS #46)
to its lower-case ASCII form. Two spellings of one address give one key.
"""

from __future__ import annotations

import unicodedata

import idna

KEY_LENGTH = 512
"""Room for any valid address's key (case folding can lengthen a local part)."""


def address_key(address: str) -> str:
    """The canonical key of `address` (trimmed); text without `@` is only folded."""
    text = unicodedata.normalize("NFC", address.strip())
    local, at, domain = text.rpartition("@")
    if not at:
        return _fold(text)
    return f"{_fold(local)}@{_domain(domain)}"


def _fold(text: str) -> str:
    """Case-folded and NFC again (folding can decompose)."""
    return unicodedata.normalize("NFC", text.casefold())


def _domain(domain: str) -> str:
    """The domain's lower-case ASCII (A-label) form; folded as text if IDNA refuses it."""
    name = domain.rstrip(".")
    if name.startswith("[") or name.isascii():  # address literals and plain ASCII names
        return name.lower()
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        return _fold(name)
