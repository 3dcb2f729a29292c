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


@lru_cache(maxsize=1)
def get_ops_settings() -> OpsSettings:
    return OpsSettings()
