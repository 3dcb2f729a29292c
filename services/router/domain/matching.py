"""Lead-to-account matching: exact registrable domain first, then the fuzzy cleaned
company name, with a threshold, a weak band and a tie rule. Every outcome leaves a
trace step that says what was tried and why it did or did not match.

``AccountIndex`` is an in-memory index over any number of accounts (domain → accounts,
name block → accounts), so the cost per lead does not grow with the account count
beyond the handful of accounts in the lead's name block.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from rapidfuzz import fuzz, process

from services.router.domain.model import Account, Lead, Match, Step
from services.router.domain.names import (
    clean_company,
    name_block,
    personal_domain,
    registrable_domain,
)
from services.router.domain.ruleset import Matching


class AccountIndex:
    """Lookups over accounts. Build once per snapshot; never mutated afterwards."""

    def __init__(self, accounts: Mapping[str, Account]) -> None:
        self.accounts = accounts
        by_domain: dict[str, list[str]] = defaultdict(list)
        by_block: dict[str, list[str]] = defaultdict(list)
        for account in accounts.values():
            for domain in account.domains:
                by_domain[domain].append(account.account_id)
            block = name_block(account.name)
            if block:
                by_block[block].append(account.account_id)
        self._by_domain = {d: tuple(sorted(ids)) for d, ids in by_domain.items()}
        self._by_block = {b: tuple(sorted(ids)) for b, ids in by_block.items()}
        self._cleaned: dict[str, list[tuple[str, str]]] = {}

    def with_domain(self, domain: str) -> list[Account]:
        return [self.accounts[i] for i in self._by_domain.get(domain, ())]

    def named_like(self, company: str) -> list[tuple[str, str]]:
        """(cleaned name, account id) of the accounts in ``company``'s name block. The
        cleaned names of a block are computed once, on first use (a memo: the answer
        depends only on the accounts the index was built from)."""
        block = name_block(company)
        named = self._cleaned.get(block)
        if named is None:
            ids = self._by_block.get(block, ())
            named = [(clean_company(self.accounts[i].name), i) for i in ids]
            self._cleaned[block] = named
        return named

    def ancestors(self, account: Account) -> list[Account]:
        """Parent, grandparent, ... (stops at a missing parent or a cycle)."""
        chain: list[Account] = []
        seen = {account.account_id}
        parent_id = account.parent_id
        while parent_id and parent_id not in seen and parent_id in self.accounts:
            parent = self.accounts[parent_id]
            chain.append(parent)
            seen.add(parent_id)
            parent_id = parent.parent_id
        return chain


def _tie_break(index: AccountIndex, tied: list[Account]) -> Account | None:
    """The tie rule: among tied accounts, one that is an ancestor of all the others
    (the same company, its parent account) wins; otherwise nobody does."""
    for candidate in tied:
        if all(other is candidate or candidate in index.ancestors(other) for other in tied):
            return candidate
    return None


def match_by_domain(lead: Lead, index: AccountIndex) -> tuple[Match | None, Step]:
    """Exact registrable-domain match, subdomains folded; never for a personal domain."""
    domain = registrable_domain(lead.email_domain) if lead.email_domain else ""
    why_personal = "free-mail" if lead.free_mail else personal_domain(domain)
    if not domain:
        return None, Step("match.domain", False, "the lead has no email domain")
    if why_personal:
        return None, Step("match.domain", False, f"{domain} is a {why_personal} domain")
    found = index.with_domain(domain)
    if not found:
        return None, Step("match.domain", False, f"no account has domain {domain}")
    chosen = found[0] if len(found) == 1 else _tie_break(index, found)
    if chosen is None:
        names = ", ".join(a.name for a in found)
        return None, Step(
            "match.domain", False, f"domain {domain} is on several accounts ({names})"
        )
    reason = f"account {chosen.name} has domain {domain}"
    if len(found) > 1:
        reason += " (its child accounts have it too; the parent wins ties)"
    return Match(chosen, "domain", 1.0, domain), Step("match.domain", True, reason)


def match_by_name(lead: Lead, index: AccountIndex, settings: Matching) -> tuple[Match | None, Step]:
    """Fuzzy match on the cleaned company name, inside the name's block."""
    if not lead.company or not (cleaned := clean_company(lead.company)):
        return None, Step("match.name", False, "the lead names no company")
    named = index.named_like(lead.company)
    found = process.extract(
        cleaned,
        [name for name, _ in named],
        scorer=fuzz.token_sort_ratio,
        score_cutoff=settings.weak_threshold,
        limit=None,
    )
    scored = sorted(((score, named[at][1]) for _, score, at in found), key=lambda s: (-s[0], s[1]))
    if not scored:
        return None, Step(
            "match.name",
            False,
            f"no account name close to {cleaned!r} "
            f"(none of {len(named)} similar names scores {settings.weak_threshold:.0f})",
        )
    best_score = scored[0][0]
    tied_ids = sorted({i for s, i in scored if best_score - s <= settings.tie_margin})
    tied = [index.accounts[i] for i in tied_ids]
    chosen = tied[0] if len(tied) == 1 else _tie_break(index, tied)
    if chosen is None:
        names = ", ".join(a.name for a in tied)
        return None, Step(
            "match.name", False, f"{cleaned!r} ties between {names} (score {best_score:.0f})"
        )
    weak = best_score < settings.threshold
    strength = "weak match" if weak else "match"
    return (
        Match(chosen, "name", round(best_score / 100, 4), cleaned, weak=weak),
        Step(
            "match.name",
            not weak,
            f"{strength}: company {lead.company!r} ~ account {chosen.name} "
            f"(score {best_score:.0f}, threshold {settings.threshold:.0f})",
        ),
    )


def match(lead: Lead, index: AccountIndex, settings: Matching) -> tuple[Match | None, list[Step]]:
    """Domain first; then the name when the domain is personal or matched nothing."""
    by_domain, domain_step = match_by_domain(lead, index)
    if by_domain is not None:
        return by_domain, [domain_step]
    by_name, name_step = match_by_name(lead, index, settings)
    return by_name, [domain_step, name_step]
