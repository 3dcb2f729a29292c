"""Intake's HTTP shapes (pydantic in/out)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=500)

    email: str = Field(max_length=320, examples=["dana@walmart.com"])
    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, max_length=60)
    source: str = Field(default="api", max_length=100)
    campaign: str | None = Field(default=None, max_length=200)


class LeadAccepted(BaseModel):
    lead_id: UUID
    duplicate: bool = Field(
        default=False,
        description="True when this was a repeat of a lead registered within the window "
        "(same person, same source): the id is the existing lead's.",
    )


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    received_at: datetime
    channel: str
    source: str
    campaign: str | None
    email: str
    email_domain: str
    free_mail: bool
    name: str | None
    company: str | None
    title: str | None
    phone: str | None
    country: str | None
    firm_id: str | None = None
    company_key: str | None = None
    disposable: bool = False
