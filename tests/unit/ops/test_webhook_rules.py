"""The outbound webhooks' rules: the retry schedule (exponential, jittered, given up after a
day), when a subscription is disabled, which targets are refused in production, and a
signature the ``standardwebhooks`` library verifies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.ops.domain.webhooks import (
    RetryPolicy,
    TargetRefused,
    check_addresses,
    check_target,
    new_secret,
    retry_at,
    should_disable,
    signed,
)

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
POLICY = RetryPolicy(
    first_delay=timedelta(seconds=5),
    longest_delay=timedelta(hours=2),
    give_up_after=timedelta(days=1),
)


def test_retries_back_off_exponentially_within_their_jitter() -> None:
    delays = []
    for attempts in range(1, 8):
        low = retry_at(POLICY, attempts=attempts, first_attempt_at=T0, now=T0, random=lambda: 0)
        high = retry_at(POLICY, attempts=attempts, first_attempt_at=T0, now=T0, random=lambda: 1)
        assert low is not None
        assert high is not None
        delays.append((low - T0, high - T0))
    assert delays[0] == (timedelta(seconds=2.5), timedelta(seconds=5))
    assert delays[1] == (timedelta(seconds=5), timedelta(seconds=10))
    assert delays[4] == (timedelta(seconds=40), timedelta(seconds=80))
    assert all(later[1] == 2 * earlier[1] for earlier, later in itertools.pairwise(delays))


def test_the_delay_stops_growing_at_its_longest() -> None:
    at = retry_at(POLICY, attempts=40, first_attempt_at=T0, now=T0, random=lambda: 1)
    assert at == T0 + timedelta(hours=2)


def test_a_delivery_is_given_up_once_a_retry_would_pass_a_day() -> None:
    late = T0 + timedelta(hours=23)
    assert retry_at(POLICY, attempts=12, first_attempt_at=T0, now=late, random=lambda: 0) == (
        late + timedelta(hours=1)
    )
    assert retry_at(POLICY, attempts=12, first_attempt_at=T0, now=late, random=lambda: 1) is None


def test_a_subscription_is_disabled_after_failing_long_enough() -> None:
    day = timedelta(days=1)
    assert not should_disable(None, T0, day)
    assert not should_disable(T0, T0 + timedelta(hours=23), day)
    assert should_disable(T0, T0 + day, day)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "http or https"),
        ("https:///path-only", "no host"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("http://hooks.example.com/", "https is required"),
        ("https://localhost:8443/hook", "loopback host"),
        ("https://api.localhost/hook", "loopback host"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.9/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://hooks.example.com/" + "x" * 2000, "at most"),
    ],
)
def test_internal_or_odd_targets_are_refused_in_production(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused, match=reason):
        check_target(url, allow_private=False)


def test_public_https_targets_pass_and_development_allows_this_machine() -> None:
    assert check_target("https://hooks.example.com/leadflow", allow_private=False)
    assert check_target("https://93.184.215.14/hook", allow_private=False)
    assert check_target("http://127.0.0.1:9000/hook", allow_private=True)


def test_a_name_resolving_to_an_internal_address_is_refused() -> None:
    check_addresses(
        ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"], allow_private=False
    )
    with pytest.raises(TargetRefused, match="private"):
        check_addresses(["93.184.215.14", "10.0.0.7"], allow_private=False)
    with pytest.raises(TargetRefused, match="link-local"):
        check_addresses(["fe80::1%eth0"], allow_private=False)
    check_addresses(["127.0.0.1"], allow_private=True)


def test_a_signed_delivery_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    now = datetime.now(UTC)
    request = signed(secret, message_id="evt-1", at=now, body=b'{"type":"x"}')
    assert request.headers["webhook-id"] == "evt-1"
    assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(secret).verify(request.body, request.headers) == {"type": "x"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"type":"y"}', request.headers)
