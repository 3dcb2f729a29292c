"""Standard Webhooks verification: valid, tampered, expired, future, rotated, malformed."""

from __future__ import annotations

import pytest

from services.intake.domain.signatures import SignatureError, SignedHeaders, sign, verify

NEW = "whsec_bmV3LXNlY3JldA=="
OLD = "whsec_b2xkLXNlY3JldA=="
BODY = b'{"type":"x"}'
NOW = 1_800_000_000


def headers(secret: str = NEW, at: int = NOW, body: bytes = BODY) -> SignedHeaders:
    return SignedHeaders("msg_1", str(at), sign(secret, "msg_1", at, body))


def test_a_valid_signature_passes_with_either_rotation_secret() -> None:
    verify([NEW, OLD], headers(NEW), BODY, NOW)
    verify([NEW, OLD], headers(OLD), BODY, NOW)


def test_matches_the_standardwebhooks_library() -> None:
    from standardwebhooks import Webhook

    expected = Webhook(NEW).sign(
        "msg_1", __import__("datetime").datetime.fromtimestamp(NOW), BODY.decode()
    )
    assert expected == sign(NEW, "msg_1", NOW, BODY)


@pytest.mark.parametrize(
    ("signed", "body", "now", "reason"),
    [
        (headers(), BODY + b" ", NOW, "no signature"),
        (headers("whsec_b3RoZXI="), BODY, NOW, "no signature"),
        (headers(), BODY, NOW + 301, "tolerance"),
        (headers(), BODY, NOW - 301, "tolerance"),
        (SignedHeaders("msg_1", "soon", "v1,AAAA"), BODY, NOW, "integer"),
        (SignedHeaders("msg_1", str(NOW), "v1,not base64!"), BODY, NOW, "no signature"),
        (SignedHeaders("msg_1", str(NOW), "garbage"), BODY, NOW, "no signature"),
        (SignedHeaders("", str(NOW), "v1,AAAA"), BODY, NOW, "required"),
    ],
)
def test_refusals(signed: SignedHeaders, body: bytes, now: int, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify([NEW], signed, body, now)


def test_several_signatures_in_one_header() -> None:
    good = headers()
    both = SignedHeaders(good.webhook_id, good.timestamp, f"v1,AAAA {good.signature}")
    verify([NEW], both, BODY, NOW)
