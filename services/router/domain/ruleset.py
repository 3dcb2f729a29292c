"""A rule set as data: an ordered list of ownership rules plus the matching settings,
validated on load (YAML or JSON) and named by its version in every decision.

The rule kinds are the issue's five, in the order the default rule set lists them:
``customer`` (→ account manager), ``firm_assignment`` (→ owning AE, do-not-market,
share with firm), ``named_owner``, ``territory`` (→ team, weighted round robin) and
``unassigned``. Only ``territory`` may appear more than once.

Any rule may carry an acceptance ``sla`` for the leads it decides; the rule set's own
``sla`` is the default (``domain/sla.py``).
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.router.domain.sla import DEFAULT_SLA, SlaPolicy

DEFAULT_RULESET_PATH = Path(__file__).resolve().parent.parent / "default_ruleset.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Matching(_Strict):
    """Fuzzy company-name matching: a score (0-100, rapidfuzz ``token_sort_ratio`` on
    cleaned names) at or above ``threshold`` is a match; from ``weak_threshold`` up to
    ``threshold`` a weak one, reported and (unless ``route_weak_matches``) not used for
    ownership. Candidates whose scores are within ``tie_margin`` of the best are tied."""

    threshold: float = Field(default=90, ge=0, le=100)
    weak_threshold: float = Field(default=80, ge=0, le=100)
    tie_margin: float = Field(default=0.5, ge=0, le=20)
    route_weak_matches: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Matching:
        if self.weak_threshold > self.threshold:
            raise ValueError("weak_threshold must not exceed threshold")
        return self


class _Rule(_Strict):
    sla: SlaPolicy | None = None  # the acceptance SLA of the leads this rule decides


class CustomerRule(_Rule):
    kind: Literal["customer"]
    name: str = "customer"


class FirmAssignmentRule(_Rule):
    kind: Literal["firm_assignment"]
    name: str = "firm_assignment"


class NamedOwnerRule(_Rule):
    kind: Literal["named_owner"]
    name: str = "named_owner"


class Segment(_Strict):
    """Conditions on where the lead's account (or, unmatched, the lead) is and what it is.
    Every condition given must hold; an empty list means "any"."""

    territories: list[str] = []
    countries: list[str] = []
    regions: list[str] = []
    states: list[str] = []
    industries: list[str] = []
    min_employees: int | None = Field(default=None, ge=0)
    max_employees: int | None = Field(default=None, ge=0)


class TerritoryRule(_Rule):
    kind: Literal["territory"]
    name: str = Field(min_length=1, max_length=100)
    when: Segment = Segment()
    team: str = Field(min_length=1, max_length=100)


class UnassignedRule(_Rule):
    kind: Literal["unassigned"]
    name: str = "unassigned"
    queue: str = Field(default="unassigned", min_length=1, max_length=100)


Rule = Annotated[
    CustomerRule | FirmAssignmentRule | NamedOwnerRule | TerritoryRule | UnassignedRule,
    Field(discriminator="kind"),
]


class RuleSet(_Strict):
    version: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    description: str = ""
    matching: Matching = Matching()
    sla: SlaPolicy = DEFAULT_SLA
    rules: list[Rule] = Field(min_length=1, max_length=500)

    @field_validator("rules")
    @classmethod
    def _well_formed(cls, rules: list[Rule]) -> list[Rule]:
        names = [r.name for r in rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        for kind in ("customer", "firm_assignment", "named_owner", "unassigned"):
            if sum(r.kind == kind for r in rules) > 1:
                raise ValueError(f"at most one {kind} rule")
        if rules[-1].kind != "unassigned":
            raise ValueError("the last rule must be 'unassigned' (no lead is ever lost)")
        return rules

    @cached_property
    def _slas(self) -> dict[str, SlaPolicy | None]:
        return {r.name: r.sla for r in self.rules}

    def rule_sla(self, name: str | None) -> SlaPolicy | None:
        return self._slas.get(name or "")


def parse_ruleset(text: str) -> RuleSet:
    """A rule set from YAML (JSON is YAML too). Raises ``ValueError``/``ValidationError``."""
    try:
        # Aliases are refused before anything is built: a few bytes of nested aliases
        # ("billion laughs") would otherwise make validation walk an exponential tree.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text)):
            raise ValueError("YAML aliases (*name) are not allowed in a rule set")
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("a rule set is a mapping with 'version' and 'rules'")
    ruleset = RuleSet.model_validate(data)
    if "\\u0000" in ruleset.model_dump_json():  # a YAML "\0" escape; JSONB refuses NUL
        raise ValueError("a rule set must not contain NUL characters")
    return ruleset


@cache
def default_ruleset() -> RuleSet:
    """Parsed once per process: it is routed with for every lead until one is activated."""
    return parse_ruleset(DEFAULT_RULESET_PATH.read_text())
