"""Router's own settings (environment variables prefixed ``ROUTER_``), beside the shared
``Settings``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RouterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", case_sensitive=False)

    activation_needs_backtest_days: float | None = Field(
        default=None,
        gt=0,
        description="A stored rule set may be activated only after a backtest of it "
        "(POST /v1/routing/backtests with its ruleset_version) ran within this many days; "
        "the activation's audit entry names that backtest. Unset: no backtest needed.",
    )


@lru_cache(maxsize=1)
def get_router_settings() -> RouterSettings:
    return RouterSettings()
