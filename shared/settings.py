"""Settings for every Leadflow process, read from the environment (pydantic-settings).

One class, one place: each variable is documented in the README's configuration table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:port/db). Unset: embedded.",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers (host:port,...). Unset: embedded."
    )
    kafka_enable_idempotence: bool = Field(
        default=True,
        description="Idempotent producer. On for real Kafka; the embedded broker lacks it.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        description="Longest a fetch waits for data. Kafka answers as soon as data arrives; "
        "the embedded broker waits the whole time, so leadflow up sets 20.",
    )
    kafka_topic_partitions: int | None = Field(
        default=None,
        ge=1,
        description="Partitions per topic when Leadflow creates its topics (a topic with "
        "fewer in the catalog keeps its count). Unset: the catalog's (6 for the busy "
        "topics). The embedded broker works through every partition on every fetch, even "
        "idle, so leadflow up sets 2.",
    )
    kafka_client_id: str = "leadflow"
    kafka_request_timeout_s: float = 15.0
    kafka_send_timeout_s: float = 30.0

    leadflow_data_dir: Path = Field(
        default=Path(".leadflow"), description="Where the embedded database keeps its data."
    )
    leadflow_instance: str = Field(default="", description="Instance name used in logs.")
    forwarded_allow_ips: str = Field(
        default="",
        description="Comma-separated addresses or networks (CIDR) of the proxies trusted to "
        "set X-Forwarded-For / X-Forwarded-Proto; the client address behind rate limits "
        "comes from them only. Empty (the default): no proxy is trusted and the socket's "
        "peer is the client. Behind an ingress: its address range.",
    )

    otel_traces_exporter: Literal["none", "console", "memory", "otlp"] = Field(
        default="none",
        description="Where spans go. none: trace context is still carried through requests "
        "and events, nothing is recorded; console: stdout (development); memory: kept in "
        "the process (tests); otlp: an OpenTelemetry collector (production; needs the "
        "opentelemetry-exporter-otlp package and the standard OTEL_EXPORTER_OTLP_* "
        "variables). Set the same on every service.",
    )

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    max_body_bytes: int = 1_000_000
    outbox_batch_size: int = 500
    outbox_idle_wakeup_s: float = Field(
        default=15.0, description="Safety sweep of the outbox when no NOTIFY arrives."
    )
    outbox_max_backlog: int = Field(
        default=100_000,
        description="Unsent events beyond which writes answer 503 (the broker is down too long).",
    )
    consumer_max_attempts: int = Field(
        default=5, description="Attempts of a failing handler before the event goes to the DLQ."
    )
    consumer_batch_size: int = Field(
        default=200, description="The most events a consumer handles in one transaction."
    )
    consumer_bulk_batch_size: int = Field(
        default=50,
        description="The most bulk-lane events a consumer takes at once: a live event that "
        "arrives meanwhile waits for this batch only.",
    )
    db_pool_size: int = 10


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
