"""Public holidays, from the ``holidays`` package's rules (fixed data, no I/O): one place
for the router's business hours and credit's business days."""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from functools import cache

import holidays


@cache
def public_holidays(country: str, subdivision: str | None = None) -> Container[date]:
    """The country's (and subdivision's) public holidays; years are filled in as they are
    asked for."""
    found: Container[date] = holidays.country_holidays(country, subdiv=subdivision)
    return found


@cache
def supported_countries() -> dict[str, list[str]]:
    """Countries the ``holidays`` package knows, with their subdivisions."""
    found: dict[str, list[str]] = holidays.list_supported_countries()
    return found
