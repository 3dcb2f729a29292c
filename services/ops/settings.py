"""Ops' own settings (environment variables prefixed ``OPS_``), beside the shared
``Settings``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
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

    public_url: str = Field(
        default="http://127.0.0.1:8003",
        description="Ops' address as people reach it: the dashboard links in notifications "
        "(leadflow up sets it).",
    )
    smtp_host: str | None = Field(
        default=None,
        description="The SMTP server notifications are sent through; unset: no email (Slack only).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls: upgrade the connection (refused if the server cannot); tls: "
        "TLS from the start (port 465); none: plain (a local relay or the mail sink).",
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    notify_from: str = Field(
        default="Leadflow <leadflow@localhost>", description="The From of notification email."
    )
    notify_ops_email: str | None = Field(
        default=None,
        description="Where ops' notifications go (a dispute opened, a webhook disabled, an "
        "SLA breach of an owner without a manager).",
    )
    notify_ops_slack_url: str | None = Field(
        default=None, description="A Slack incoming webhook for ops' notifications."
    )
    notify_digest_s: float = Field(
        default=300,
        ge=0,
        description="At most one message per recipient and channel in this time: what comes "
        "in between goes in one digest at its end (0: every notification alone). An SLA "
        "breach is never held.",
    )
    notify_poll_s: float = Field(
        default=1, gt=0, description="Longest the notifier waits before looking again."
    )
    notify_batch: int = Field(
        default=500, ge=1, le=5000, description="Notifications claimed per pass."
    )
    notify_timeout_s: float = Field(
        default=10, gt=0, description="Longest an SMTP server or a Slack webhook may take."
    )
    notify_first_retry_s: float = Field(
        default=5, gt=0, description="Delay before a failed notification's first retry (doubling)."
    )
    notify_longest_retry_s: float = Field(
        default=1800, gt=0, description="Longest delay between two tries of a notification."
    )
    notify_give_up_after_s: float = Field(
        default=86400, gt=0, description="A notification not sent by then is failed."
    )


@lru_cache(maxsize=1)
def get_ops_settings() -> OpsSettings:
    return OpsSettings()
