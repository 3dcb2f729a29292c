"""Cleaning what a lead or an account says about itself before matching: registrable
domains (subdomains folded), free-mail and disposable providers, company names.

Pure functions; tldextract runs on its bundled Public Suffix List (no network).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import tldextract
from cleanco.clean import prepare_default_terms  # type: ignore[import-untyped]

FREE_MAIL: frozenset[str] = frozenset(
    {
        "aol.com", "fastmail.com", "gmail.com", "gmx.com", "gmx.de", "googlemail.com",
        "hey.com", "hotmail.co.uk", "hotmail.com", "hotmail.fr", "icloud.com", "live.com",
        "mac.com", "mail.com", "mail.ru", "me.com", "msn.com", "outlook.com", "proton.me",
        "protonmail.com", "qq.com", "rediffmail.com", "tutanota.com", "web.de",
        "yahoo.co.uk", "yahoo.com", "yahoo.fr", "yandex.com", "yandex.ru", "zoho.com",
    }
)  # fmt: skip
DISPOSABLE: frozenset[str] = frozenset(
    {
        "10minutemail.com", "discard.email", "dispostable.com", "getnada.com",
        "guerrillamail.com", "mailinator.com", "maildrop.cc", "sharklasers.com",
        "temp-mail.org", "tempmail.com", "throwawaymail.com", "trashmail.com",
        "yopmail.com",
    }
)  # fmt: skip

_NOISE = re.compile(r"[^a-z0-9 ]+")
_TOKENS = re.compile(r"[a-z0-9]+|&")


@cache
def _suffixes() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """``mail.eu.walmart.com`` → ``walmart.com``; ``bbc.co.uk`` stays ``bbc.co.uk``."""
    host = host.strip().lower().rstrip(".")
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    parts = _suffixes()(host)
    return parts.top_domain_under_public_suffix or host


def personal_domain(domain: str) -> str | None:
    """Why a domain says nothing about the company ("free-mail", "disposable") or None."""
    if domain in FREE_MAIL:
        return "free-mail"
    if domain in DISPOSABLE:
        return "disposable"
    return None


@cache
def _legal_terms() -> tuple[frozenset[tuple[str, ...]], int]:
    """cleanco's legal-form terms ("inc", "gmbh & co kg", ...) as token tuples."""
    terms = frozenset(tuple(words) for _, words in prepare_default_terms())
    return terms, max(len(t) for t in terms)


@lru_cache(maxsize=65536)
def clean_company(name: str) -> str:
    """``The Walmart Stores, Inc.`` → ``walmart stores``: trailing legal forms (cleanco's
    list, several stacked), accents, punctuation and a leading article dropped, lower
    case, single spaces. A token scan rather than cleanco's regular expressions: it runs
    on every candidate of a fuzzy match, so it must cost microseconds."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    tokens = _TOKENS.findall(text)
    terms, longest = _legal_terms()
    stripped = True
    while stripped and len(tokens) > 1:
        stripped = False
        for size in range(min(longest, len(tokens) - 1), 0, -1):
            if tuple(tokens[-size:]) in terms:
                del tokens[-size:]
                stripped = True
                break
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    return " ".join("and" if t == "&" else t for t in tokens)


@lru_cache(maxsize=65536)
def name_block(name: str) -> str:
    """The blocking key for fuzzy matching: the first four characters of the first word
    of the name (accents, punctuation and a leading article dropped). Only accounts
    sharing the lead's block are scored, so a lead's cost does not grow with the number
    of accounts; the in-memory index and the database column use this same key. Cheap on
    purpose (no legal-suffix parsing): it runs on every row of a million-row load."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = _NOISE.sub(" ", text.replace("&", " and ")).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return words[0][:4] if words else ""
