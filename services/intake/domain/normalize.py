"""Normalization of a submitted lead: email, registrable domain, phone, country, and a
company key for matching.

Pure functions over plain data, built on well-kept libraries (email-validator,
tldextract with its bundled suffix list and no network, phonenumbers, pycountry,
cleanco for legal suffixes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
import pycountry
import tldextract
from cleanco import basename  # type: ignore[import-untyped]
from email_validator import EmailNotValidError, validate_email

from services.intake.domain.disposable import DISPOSABLE_DOMAINS
from services.intake.domain.free_mail import FREE_MAIL_DOMAINS


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class InvalidLead(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Submission:
    """What a caller sent, as text, before normalization."""

    email: str
    name: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None
    country: str | None = None
    source: str = "api"
    campaign: str | None = None


@dataclass(frozen=True)
class NormalizedLead:
    email: str
    email_domain: str
    free_mail: bool
    name: str | None
    company: str | None
    title: str | None
    phone: str | None
    country: str | None
    source: str
    campaign: str | None
    company_key: str | None = None
    disposable: bool = False


@cache
def _suffixes() -> tldextract.TLDExtract:
    # The bundled Public Suffix List snapshot: no network at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65_536)  # pure: a bulk load repeats the same few thousand domains
def registrable_domain(host: str) -> str:
    """``mail.eu.walmart.com`` → ``walmart.com``; ``bbc.co.uk`` stays ``bbc.co.uk``."""
    parts = _suffixes()(host.lower().rstrip("."))
    return parts.top_domain_under_public_suffix or host.lower()


def normalize_email(raw: str) -> tuple[str, str]:
    """Returns (normalized address, registrable domain)."""
    result = validate_email(raw.strip(), check_deliverability=False)
    return result.normalized.lower(), registrable_domain(result.ascii_domain)


@lru_cache(maxsize=4096)
def normalize_country(raw: str) -> str:
    """ISO 3166-1 alpha-2 from a code or a name (``US``, ``USA``, ``United States``)."""
    try:
        country = pycountry.countries.lookup(raw.strip())
    except LookupError:
        raise ValueError(f"unknown country {raw!r}") from None
    code: str = country.alpha_2
    return code


def normalize_phone(raw: str, region: str | None) -> str:
    """E.164 (``+14155550100``); a national number needs the country for its region."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65_536)  # pure, and companies repeat in every list
def company_key(name: str | None) -> str | None:
    """A matching key for a company name: legal suffixes dropped (``ACME GmbH & Co. KG``
    and ``Acme`` both give ``acme``), case and punctuation folded. The name as sent is
    kept beside it; the key is only for matching accounts."""
    cleaned = _clean(name)
    if cleaned is None:
        return None
    base = basename(cleaned)
    folded = "".join(ch if ch.isalnum() else " " for ch in base.casefold())
    return " ".join(folded.split()) or None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def normalize(submission: Submission) -> NormalizedLead:
    errors: list[FieldError] = []
    email = domain = ""
    try:
        email, domain = normalize_email(submission.email)
    except EmailNotValidError as exc:
        errors.append(FieldError("email", str(exc)))
    country = None
    if _clean(submission.country):
        try:
            country = normalize_country(submission.country or "")
        except ValueError as exc:
            errors.append(FieldError("country", str(exc)))
    phone = None
    if _clean(submission.phone):
        try:
            phone = normalize_phone(submission.phone or "", country)
        except ValueError as exc:
            errors.append(FieldError("phone", str(exc)))
    if errors:
        raise InvalidLead(errors)
    return NormalizedLead(
        email=email,
        email_domain=domain,
        free_mail=domain in FREE_MAIL_DOMAINS,
        name=_clean(submission.name),
        company=_clean(submission.company),
        title=_clean(submission.title),
        phone=phone,
        country=country,
        source=_clean(submission.source) or "api",
        campaign=_clean(submission.campaign),
        company_key=company_key(submission.company),
        disposable=domain in DISPOSABLE_DOMAINS,
    )
