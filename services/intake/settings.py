"""Intake's own settings (environment variables prefixed ``INTAKE_``), beside the shared
``Settings``. Webhook secrets are here because a verifier must hold the secret itself
(an HMAC key cannot be stored as a digest): they come from the environment / a secret
store, never from the database or an API."""

from __future__ import annotations

import json
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", case_sensitive=False)

    dedup_window_days: float = Field(
        default=30, description="Same person, same source within this many days: a repeat."
    )
    partner_rate_per_s: float = Field(default=20, description="Partner key: requests/second.")
    partner_burst: float = Field(default=40, description="Partner key: burst size.")
    form_rate_per_min: float = Field(default=10, description="Form posts per client IP/minute.")
    form_burst: float = Field(default=5, description="Form posts per client IP in a burst.")
    webhook_secrets: str = Field(
        default="{}",
        description='JSON {"<source>": "whsec_new,whsec_old"}: each source\'s signing '
        "secrets (two while rotating).",
    )
    webhook_tolerance_s: int = Field(default=300, description="Webhook timestamp tolerance.")
    max_import_bytes: int = Field(
        default=200_000_000, description="Largest CSV accepted by POST /v1/imports."
    )
    import_batch_rows: int = Field(default=500, description="CSV rows per transaction.")
    import_spool_dir: str | None = Field(
        default=None,
        description="Where uploads wait for their import's process (default: a folder in "
        "the system's temporary directory).",
    )
    idempotency_pending_s: float = Field(
        default=60,
        description="A request holding an Idempotency-Key longer than this is presumed dead.",
    )

    idempotency_ttl_hours: float = Field(default=24, description="Idempotency keys kept.")
    webhook_receipt_ttl_hours: float = Field(default=24, description="Webhook ids kept.")

    def secrets_of(self, source: str) -> list[str]:
        try:
            table = json.loads(self.webhook_secrets or "{}")
        except json.JSONDecodeError:
            return []
        value = table.get(source) if isinstance(table, dict) else None
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        if isinstance(value, list):
            return [str(s) for s in value if s]
        return []


@lru_cache(maxsize=1)
def get_intake_settings() -> IntakeSettings:
    return IntakeSettings()
