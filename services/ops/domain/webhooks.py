"""Outbound webhooks, the rules as plain data and pure functions: where a subscription may
point, when a failed delivery is tried again and when it is given up, when a subscription
that keeps failing is disabled, and how a delivery is signed (Standard Webhooks,
https://www.standardwebhooks.com/).

A delivery is retried with exponential backoff and jitter (half the delay fixed, half
random, so a receiver coming back is not hit by every sender at once) until a day has
passed since its first attempt; then it is ``failed``, and stays in the log for a
redelivery by hand. A subscription none of whose deliveries has succeeded for
``disable_after`` is disabled (ops is told; a re-enable starts it from where it stopped).
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from standardwebhooks import Webhook

MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(seconds=5)
    longest_delay: timedelta = timedelta(hours=2)
    give_up_after: timedelta = timedelta(days=1)


def retry_at(
    policy: RetryPolicy,
    *,
    attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    random: Callable[[], float],
) -> datetime | None:
    """When to try again after ``attempts`` failed attempts (the last one ``now``); None
    when the delivery is given up (the next try would fall past ``give_up_after``)."""
    delay = min(policy.longest_delay, policy.first_delay * (1 << min(30, max(0, attempts - 1))))
    jittered = delay / 2 + delay / 2 * random()
    at = now + jittered
    if at - first_attempt_at > policy.give_up_after:
        return None
    return at


def should_disable(failing_since: datetime | None, now: datetime, disable_after: timedelta) -> bool:
    """Whether a subscription that has not had a delivery succeed since ``failing_since``
    has failed long enough to be disabled."""
    return failing_since is not None and now - failing_since >= disable_after


class TargetRefused(ValueError):
    """A webhook URL that may not be a target: the reason, for a 422 on ``url``."""


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for flag, what in (
        (address.is_loopback, "a loopback"),
        (address.is_link_local, "a link-local"),  # cloud metadata (169.254.169.254) among them
        (address.is_unspecified, "an unspecified"),
        (address.is_multicast, "a multicast"),
        (address.is_reserved, "a reserved"),
        (address.is_private, "a private"),  # last: the flags above are private ranges too
    ):
        if flag:
            return f"{address} is {what} address"
    return None


def check_target(url: str, *, allow_private: bool) -> str:
    """The URL, if a subscription may point there: http(s) with a host, no credentials in
    it, and (unless ``allow_private``, development) not a loopback, private, link-local
    or otherwise internal address, nor ``localhost``. A host name is checked again, on
    every delivery, against the addresses it resolves to (``check_addresses``)."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"at most {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise TargetRefused("an http or https URL is expected")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("credentials do not belong in the URL; the signature authenticates")
    if not allow_private:
        if parts.scheme != "https":
            raise TargetRefused("https is required")
        host = parts.hostname.rstrip(".").lower()
        if host == "localhost" or host.endswith(".localhost"):
            raise TargetRefused(f"{host} is a loopback host")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return url
        reason = _refused_address(literal)
        if reason is not None:
            raise TargetRefused(reason)
    return url


def check_addresses(addresses: Iterable[str], *, allow_private: bool) -> None:
    """Raise ``TargetRefused`` if a host resolves to an internal address (a public name
    pointed at one after the subscription was made)."""
    if allow_private:
        return
    for text in addresses:
        reason = _refused_address(ipaddress.ip_address(text.split("%", 1)[0]))
        if reason is not None:
            raise TargetRefused(reason)


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form (``whsec_`` and 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Signed:
    headers: dict[str, str]
    body: bytes


def signed(secret: str, *, message_id: str, at: datetime, body: bytes) -> Signed:
    """The request a delivery sends: ``webhook-id`` (the event's id, the same on every
    attempt, for the receiver to drop repeats), ``webhook-timestamp`` (this attempt's, in
    seconds, for the receiver's replay window), ``webhook-signature``."""
    signature = Webhook(secret).sign(message_id, at, body.decode())
    return Signed(
        headers={
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        },
        body=body,
    )
