"""Ops' own settings (environment variables prefixed ``OPS_``), beside the shared
``Settings``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPS_", extra="ignore", case_sensitive=False)

    max_streams: int = Field(
        default=100, description="Open event streams per instance; beyond it 429."
    )
    max_streams_per_firm: int = Field(
        default=5, description="Open event streams of one partner firm per instance; beyond 429."
    )
    stream_ping_s: float = Field(default=15, description="Keep-alive comment interval.")
    stream_poll_s: float = Field(
        default=2,
        description="Longest a stream waits before looking for new events when no NOTIFY "
        "arrives (a lost notification costs at most this).",
    )
    dashboard_cache_s: float = Field(
        default=3, description="How long the dashboard's aggregates are reused."
    )
    lag_cache_s: float = Field(default=10, description="How long consumer lag is reused.")
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Let webhook subscriptions point at loopback, private and other internal "
        "addresses, and at plain http (development; leadflow up sets it). Off: https to "
        "public addresses only, checked when subscribing and on every delivery.",
    )
    webhook_timeout_s: float = Field(
        default=10, gt=0, description="Longest a webhook receiver may take to answer."
    )
    webhook_poll_s: float = Field(
        default=1,
        gt=0,
        description="Longest the webhook sender waits before looking for new events and "
        "deliveries due (new events wake it at once).",
    )
    webhook_batch: int = Field(
        default=50, ge=1, le=1000, description="Deliveries attempted at once by one instance."
    )
    webhook_first_retry_s: float = Field(
        default=5, gt=0, description="Delay before a failed delivery's first retry (doubling)."
    )
    webhook_longest_retry_s: float = Field(
        default=7200, gt=0, description="Longest delay between two attempts of a delivery."
    )
    webhook_give_up_after_s: float = Field(
        default=86400, gt=0, description="A delivery is failed once retrying would pass this."
    )
    webhook_disable_after_s: float = Field(
        default=86400,
        gt=0,
        description="A subscription none of whose deliveries succeeded for this long is "
        "disabled (re-enable it by API).",
    )


@lru_cache(maxsize=1)
def get_ops_settings() -> OpsSettings:
    return OpsSettings()
