"""Standard Webhooks signature verification (https://www.standardwebhooks.com/).

``webhook-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>`` over
``{webhook-id}.{webhook-timestamp}.{body}``. Any configured secret may match (two are
valid at once while a source rotates). Pure: the clock is passed in. Written here rather
than with ``standardwebhooks.Webhook.verify``, which raises on malformed headers with
errors other than its own and cannot take a clock."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

TOLERANCE_S = 300


class SignatureError(ValueError):
    """The webhook is not proved to come from the source; ``reason`` says why."""


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: str
    signature: str


def secret_bytes(secret: str) -> bytes:
    """A ``whsec_<base64>`` secret's key bytes."""
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be whsec_ followed by base64") from None
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,...`` signature a sender computes (used by tests and the docs)."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secrets: Sequence[str],
    headers: SignedHeaders,
    body: bytes,
    now: float,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Raise ``SignatureError`` unless one signature matches one secret and the timestamp
    is within ``tolerance_s`` of ``now`` (both ways: replays of old messages and clocks
    set ahead are refused)."""
    if not (headers.webhook_id and headers.timestamp and headers.signature):
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        timestamp = int(headers.timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("webhook-timestamp is outside the 5-minute tolerance")
    presented = []
    for part in headers.signature.split():
        version, _, value = part.partition(",")
        if version != "v1":
            continue
        try:
            presented.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    matched = False
    message = f"{headers.webhook_id}.{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret_bytes(secret), message, hashlib.sha256).digest()
        for candidate in presented:  # every pair compared: time does not reveal which
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no signature matches a secret of this source")
