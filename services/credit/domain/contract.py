"""A firm's statement-of-work terms as validated data, each with a sensible default.

A contract is versioned: every change is a new version, and every decision names the
version it applied. The sticking points (SP1-SP10, docs/design.md) a term settles are
cited.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.calendar import supported_countries
from shared.events.firms import DEFAULT_REPORTING_WINDOW_DAYS

TOUCH_HORIZON_DAYS = 365
"""The longest look-back any term may ask for: a touch older than this before a lead
never bears on it, so a touch re-decides only the leads after it inside it."""

RejectionCode = Literal[
    "wrong_owner",
    "contact_left_company",
    "unreachable_contact",
    "missing_information",
    "not_icp",
    "duplicate",
    "other",
]


LeadField = Literal["name", "company", "title", "phone", "country"]
Channel = Literal["api", "web_form", "webhook", "import", "partner"]


def _company_channels() -> list[Channel]:
    return ["api", "web_form", "webhook"]


def _company_only() -> list[LeadField]:
    return ["company"]


def _routing_data_or_criteria() -> list[RejectionCode]:
    return [
        "wrong_owner",
        "contact_left_company",
        "unreachable_contact",
        "missing_information",
        "not_icp",
        "duplicate",
    ]


class PriceTier(BaseModel):
    """From the ``from_nth`` held meeting in a calendar month on, each pays ``price``."""

    model_config = ConfigDict(frozen=True)

    from_nth: int = Field(ge=1)
    price: Decimal = Field(ge=0)


class Terms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = Field(default="USD", pattern="^[A-Z]{3}$")
    starts_on: date = date(2026, 1, 1)
    ends_on: date | None = None
    notice_days: int = Field(default=30, ge=0, description="SP10: leads in notice still count")

    pays_for: Literal["lead", "meeting", "both"] = "both"
    price_per_lead: Decimal = Field(default=Decimal("150.00"), ge=0)
    meeting_tiers: list[PriceTier] = Field(
        default_factory=lambda: [
            PriceTier(from_nth=1, price=Decimal("350.00")),
            PriceTier(from_nth=11, price=Decimal("150.00")),
        ]
    )

    inbound_credit: bool = Field(default=True, description="SP3: inbound leads can earn credit")
    inbound_lookback_days: int = Field(
        default=30, ge=0, le=TOUCH_HORIZON_DAYS, description="SP3: a touch this recent"
    )
    inbound_channels: list[Channel] = Field(
        default_factory=_company_channels,
        description="SP3: the channels whose leads can earn inbound credit (by default not "
        "list imports: a list is not a prospect reaching out)",
    )
    inbound_sources: list[str] | None = Field(
        default=None,
        max_length=100,
        description="SP3: only leads from these sources earn inbound credit (none: any)",
    )
    inbound_cap_per_account_per_month: int | None = Field(
        default=5,
        ge=0,
        description="SP3: at most this many inbound credits per account in a calendar month "
        "(none: no cap)",
    )
    customers: Literal["excluded", "cross_sell_only"] = Field(default="excluded", description="SP4")
    required_fields: list[LeadField] = Field(
        default_factory=_company_only, description="SP5: what makes a lead count"
    )
    country: str = Field(
        default="US", description="whose public holidays are not business days (ISO 3166)"
    )
    timezone: str = Field(
        default="UTC", max_length=64, description="where business days are counted (IANA)"
    )
    acceptance_business_days: int = Field(
        default=5,
        ge=0,
        le=60,
        description="SP5: sales accepts or rejects within this many business days "
        "(0: the lead counts on arrival)",
    )
    silence_means: Literal["accepted", "rejected"] = Field(
        default="accepted", description="SP5: a lead sales did not answer in time is this"
    )
    return_window_days: int = Field(
        default=10, ge=0, description="SP5: a rejection later than this no longer voids credit"
    )
    return_cap_per_month: int | None = Field(
        default=None,
        ge=0,
        description="SP5: returns beyond this many in a calendar month do not void credit "
        "(none: no cap)",
    )
    voiding_rejections: list[RejectionCode] = Field(
        default_factory=_routing_data_or_criteria,
        description="SP5/SP9: routing, data or criteria problems; not 'no interest'",
    )
    reschedule_window_days: int = Field(default=30, ge=0, description="SP6: held within this")
    sales_move_keeps_credit: bool = Field(
        default=True,
        description="SP7: once sales moved or cancelled a meeting, a later miss by the "
        "prospect does not take the firm's credit back (false: the miss counts)",
    )
    no_show_report_hours: int = Field(
        default=24, ge=0, description="SP6: a no-show reported later counts as held"
    )
    holding_days: int = Field(default=30, ge=0, description="before an amount is payable")
    reporting_window_days: int = Field(
        default=DEFAULT_REPORTING_WINDOW_DAYS,
        ge=0,
        le=TOUCH_HORIZON_DAYS,
        description="a firm reports a touch or a meeting change at most this many days after "
        "it happened; older ones are refused",
    )

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in supported_countries():
            raise ValueError("a country the holidays calendar knows (ISO 3166 alpha-2)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("an IANA time zone, such as Europe/Berlin") from None
        return value

    @model_validator(mode="after")
    def _tiers_start_at_one(self) -> Terms:
        if not self.meeting_tiers or self.meeting_tiers[0].from_nth != 1:
            raise ValueError("meeting_tiers must start with from_nth 1")
        if [t.from_nth for t in self.meeting_tiers] != sorted(
            {t.from_nth for t in self.meeting_tiers}
        ):
            raise ValueError("meeting_tiers must be in increasing from_nth order")
        return self

    def meeting_price(self, nth_in_month: int) -> Decimal:
        price = self.meeting_tiers[0].price
        for tier in self.meeting_tiers:
            if nth_in_month >= tier.from_nth:
                price = tier.price
        return price

    def last_day(self) -> date | None:
        """The last day a lead can count: the end plus the notice period (SP10)."""
        if self.ends_on is None:
            return None
        return self.ends_on + timedelta(days=self.notice_days)


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True)

    firm_id: str
    version: int
    terms: Terms

    @property
    def label(self) -> str:
        return f"{self.firm_id}/v{self.version}"
