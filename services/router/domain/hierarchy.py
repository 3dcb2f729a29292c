"""Account hierarchy: a child account without an owner (or account manager, or firm
assignment) inherits its nearest ancestor's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from services.router.domain.model import Account

if TYPE_CHECKING:
    from services.router.domain.matching import AccountIndex

T = TypeVar("T")


def effective(
    account: Account, index: AccountIndex, get: Callable[[Account], T | None]
) -> tuple[T, Account] | None:
    """The first non-empty ``get(a)`` going up from ``account``, and the account it came from."""
    for holder in (account, *index.ancestors(account)):
        value = get(holder)
        if value is not None:
            return value, holder
    return None
