"""Ops' tables (schema ``ops``), declared here and nowhere else: the event log, and the
outbound webhooks' subscriptions, deliveries and attempts. Their queries are in
``store`` (the event log) and ``webhook_store`` (the webhooks).

The log is written in one order: every insert takes a transaction-scoped advisory lock
first, so ``seq`` (the stream position) grows in commit order and a reader that has seen
``seq = n`` never later finds a smaller one committed (what makes resuming from
``Last-Event-ID`` exact, and a subscription's cursor too).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

SCHEMA = "ops"
NOTIFY_CHANNEL = "ops_event_log"
metadata = MetaData(schema=SCHEMA)

event_log = Table(
    "event_log",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("type", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("subject", String(300)),
    Column("lead_id", Uuid),
    Column("firm_id", String(100)),
    Column("account_id", String(100)),
    Column("owner_id", String(100)),
    Column("channel", String(100)),
    Column("campaign", String(200)),
    Column("data", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("description", String(200)),
    # The event types as given (exact types or prefixes, the stream's ``type`` filter).
    Column("types", ARRAY(String(200)), nullable=False),
    # The partner firm that owns it (its own events only, as its stream); None: ops'.
    Column("owner_firm_id", String(100)),
    # Ops' optional filter to one firm's events (an ops subscription only).
    Column("firm_id", String(100)),
    # Standard Webhooks signs with an HMAC key: kept as issued, shown once, never read back.
    Column("secret", String(100), nullable=False),
    # The last event-log position looked at: every later matching event gets a delivery.
    Column("after_seq", BigInteger, nullable=False),
    Column("failing_since", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
    Column("disabled_reason", String(300)),
    Column("created_by", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "subscription_id",
        Uuid,
        ForeignKey(webhook_subscriptions.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", BigInteger, nullable=False),  # the event's position in the log
    Column("event_id", Uuid, nullable=False),
    Column("type", String(200), nullable=False),
    # pending (due at next_attempt_at), delivered, or failed (given up; redeliver by hand)
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("first_attempt_at", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("subscription_id", "event_id", name="uq_ops_webhook_delivery_event"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "delivery_id",
        BigInteger,
        ForeignKey(webhook_deliveries.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status_code", Integer),  # None: no answer (refused, timed out, ...)
    Column("error", String(300)),
    Column("latency_ms", Integer, nullable=False),
)

# --- notifications to people ------------------------------------------------------------

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    # The event and what it tells (``domain.notifications.Notice.key``): once a recipient
    # and channel, however often the event is read.
    Column("key", String(100), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("recipient_id", String(100), nullable=False),  # an owner id, or "ops"
    Column("channel", String(10), nullable=False),  # email, slack
    Column("address", String(2000), nullable=False),
    Column("lead_id", Uuid),
    Column("title", String(500), nullable=False),
    Column("sentence", String(2000), nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),  # the event's time
    # pending (due at next_attempt_at: the recipient's hours, the pace, a retry), sent,
    # or failed (given up).
    Column("status", String(10), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("leased_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("first_attempt_at", DateTime(timezone=True)),
    Column("last_error", String(300)),
    Column("sent_at", DateTime(timezone=True)),
    Column("message_id", String(100)),  # the message that carried it (a digest: several)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("key", "recipient_id", "channel", name="uq_ops_notification_key"),
)

# When each recipient's channel last had a message: one per ``OPS_NOTIFY_DIGEST_S``.
notify_pace = Table(
    "notify_pace",
    metadata,
    Column("recipient_id", String(100), primary_key=True),
    Column("channel", String(10), primary_key=True),
    Column("last_sent_at", DateTime(timezone=True), nullable=False),
)

# The notifier's position in the event log (one row): every later event is looked at.
notify_cursor = Table(
    "notify_cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("after_seq", BigInteger, nullable=False),
)
