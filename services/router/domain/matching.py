"""Lead-to-account matching."""

from __future__ import annotations

from collections.abc import Iterable

from services.router.domain.model import Account, Lead, Match, Step


def match_by_domain(lead: Lead, candidates: Iterable[Account]) -> tuple[Match | None, Step]:
    """Exact registrable-domain match. A free-mail domain never matches an account."""
    if lead.free_mail:
        return None, Step("match.domain", False, f"{lead.email_domain} is a free-mail domain")
    for account in sorted(candidates, key=lambda a: a.account_id):
        if lead.email_domain in account.domains:
            return (
                Match(account, "domain", 1.0, lead.email_domain),
                Step(
                    "match.domain", True, f"account {account.name} has domain {lead.email_domain}"
                ),
            )
    return None, Step("match.domain", False, f"no account has domain {lead.email_domain}")
