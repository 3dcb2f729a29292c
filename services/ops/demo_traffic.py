"""Demo traffic: a steady trickle of leads, touches, meetings and acceptances through
intake's real API, so the dashboard has something to show a minute after ``leadflow up``.

Each lead arrives through one of intake's channels (the API with a campaign, a partner
firm's key, a web form). A little later sales accepts or rejects the API and partner
leads (router's stage API); on the demo firm's accounts the firm then books a meeting,
held or missed; some accepted leads go on to qualified, opportunity and won or lost.
The demo team gets a three-minute acceptance SLA, so unanswered leads show SLA events.
Nothing here touches a database: it is a client, like a website, a partner or a CRM.

Quiet when healthy: a lead router has not routed yet (its stage API answers 404) is
asked about again a little later, without a word; only a real failure is a warning (a
refused request, a service that cannot be reached, a lead still unrouted after
ROUTING_PATIENCE_S), and none once it is being stopped.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.observability import get_logger

log = get_logger(__name__)

DEMO_FIRM = "acme-outreach"
FORM_KEY = "demo-site"
FORM_ORIGIN = "https://www.example.com"
DEMO_TEAM = "na-commercial"
DEMO_TEAM_SLA = {
    "name": "North America commercial",
    "queue": "na-commercial",
    "sla": {"name": "demo-3min", "accept_within_minutes": 3, "reminder_share": 0.5},
}

FIRST = ["Alex", "Sam", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie", "Robin", "Kim"]
LAST = ["Lee", "Patel", "Garcia", "Nguyen", "Smith", "Okafor", "Rossi", "Müller", "Kowalski"]
# (domain, company, country): the demo workspace's accounts (the firm's, a named owner's,
# a customer's) and prospects only a territory or the unassigned queue will take.
COMPANIES = [
    ("walmart.com", "Walmart Inc.", "US"),
    ("samsclub.com", "Sam's Club", "US"),
    ("initech.com", "Initech", "US"),
    ("globex.com", "Globex", "US"),
    ("hooli.com", "Hooli", "US"),
    ("umbrella.co.uk", "Umbrella plc", "GB"),
    ("stark.de", "Stark GmbH", "DE"),
    ("wayne.example", "Wayne Enterprises", "BR"),
]
FIRM_DOMAINS = {"walmart.com", "samsclub.com"}
CAMPAIGNS = ["demo-request", "pricing-page", "webinar-q4", "ebook-roi"]
REJECTIONS = ["contact_left_company", "missing_information", "not_icp", "unreachable_contact"]
RETRY_S = 5  # a lead not routed yet is asked about again this much later
ROUTING_PATIENCE_S = 120  # ... until it has waited this long: then it is a warning


class NotRoutedYet(Exception):
    """Router has not seen the lead yet (its stage API answers 404): normal for a few
    seconds after intake took it, longer while router catches up."""


@dataclass(order=True)
class _FollowUp:
    due: float
    order: int
    act: Callable[[], None] = field(compare=False)
    tries: int = field(default=1, compare=False)


class DemoTraffic:
    """Sends about ``per_minute`` new leads a minute (and their follow-ups) until stopped."""

    def __init__(
        self,
        urls: dict[str, str],
        ops_token: str,
        per_minute: float,
        seed: int | None = None,
    ) -> None:
        self.intake = urls["intake"].rstrip("/")
        self.router = urls["router"].rstrip("/")
        self.ops = {"Authorization": f"Bearer {ops_token}"}
        self.per_minute = per_minute
        self.random = random.Random(seed)  # noqa: S311 - demo data, not secrets
        self.partner: dict[str, str] = {}
        self.sent = 0
        self._follow_ups: list[_FollowUp] = []
        self._order = itertools.count()
        self._client = httpx.Client(timeout=10)
        self._stop = threading.Event()

    def run(self, stop: threading.Event, *, burst: int = 5) -> None:
        self._stop = stop
        try:
            self._prepare()
            for _ in range(burst):
                self._new_lead()
            next_lead = time.monotonic()
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_lead:
                    self._new_lead()
                    next_lead = now + self.random.expovariate(self.per_minute / 60)
                while self._follow_ups and self._follow_ups[0].due <= now:
                    due = heapq.heappop(self._follow_ups)
                    self._attempt(due.act, due.tries)
                stop.wait(0.2)
        finally:
            self._client.close()

    def _later(self, seconds: float, act: Callable[[], None], tries: int = 1) -> None:
        heapq.heappush(
            self._follow_ups,
            _FollowUp(time.monotonic() + seconds, next(self._order), act, tries),
        )

    def _attempt(self, act: Callable[[], None], tries: int = 1) -> None:
        try:
            act()
        except NotRoutedYet as not_yet:
            if tries * RETRY_S < ROUTING_PATIENCE_S:
                self._later(RETRY_S, act, tries + 1)
            elif not self._stop.is_set():
                log.warning("demo_lead_not_routed", lead_id=str(not_yet), waited_s=tries * RETRY_S)
        except httpx.HTTPError as exc:  # a busy or restarting service: the demo goes on
            if not self._stop.is_set():
                log.warning("demo_traffic_failed", error=repr(exc))

    def _post(
        self, path: str, body: dict[str, Any], headers: dict[str, str], *, to: str = ""
    ) -> httpx.Response:
        answer = self._client.post(f"{to or self.intake}{path}", json=body, headers=headers)
        answer.raise_for_status()
        return answer

    def _prepare(self) -> None:
        """The demo firm with a key of its own, and a web form on the demo site."""
        made = self._client.post(
            f"{self.intake}/v1/firms",
            json={"firm_id": DEMO_FIRM, "name": "Acme Outreach"},
            headers=self.ops,
        )
        if made.status_code not in (201, 409):
            made.raise_for_status()
        key = self._post(f"/v1/firms/{DEMO_FIRM}/keys", {}, self.ops).json()["token"]
        self.partner = {"Authorization": f"Bearer {key}"}
        form = {"name": "Demo site contact form", "allowed_origins": [FORM_ORIGIN]}
        self._client.put(
            f"{self.intake}/v1/forms/{FORM_KEY}", json=form, headers=self.ops
        ).raise_for_status()
        # A short SLA on the demo team, so the leads nobody answers (the web-form ones)
        # are reminded, breached and reassigned within minutes (in business hours).
        self._client.put(
            f"{self.router}/v1/teams/{DEMO_TEAM}", json=DEMO_TEAM_SLA, headers=self.ops
        ).raise_for_status()

    def _person(self) -> dict[str, str]:
        domain, company, country = self.random.choice(COMPANIES)
        first, last = self.random.choice(FIRST), self.random.choice(LAST)
        local = f"{first}.{last}{self.random.randrange(10_000)}".lower().replace("ü", "u")
        return {
            "email": f"{local}@{domain}",
            "name": f"{first} {last}",
            "company": company,
            "title": self.random.choice(["CIO", "Director of IT", "VP Sales", "Head of Ops"]),
            "country": country,
        }

    def _new_lead(self) -> None:
        self._attempt(self._send_lead)

    def _send_lead(self) -> None:
        person = self._person()
        channel = self.random.choices(["api", "partner", "web_form"], weights=[5, 2, 2])[0]
        if channel == "partner":
            answer = self._post("/v1/partner/leads", person, self.partner).json()
            lead_id = answer["results"][0]["id"]
        elif channel == "web_form":
            form = self._client.post(
                f"{self.intake}/v1/forms/{FORM_KEY}/submissions",
                json={k: v for k, v in person.items() if k != "country"},
                headers={"Origin": FORM_ORIGIN, "Accept": "application/json"},
            )
            if form.status_code != 429:  # the form's per-visitor limit: a real site sees it too
                form.raise_for_status()
                self.sent += 1
            return  # a public form is not told the lead id, so nothing follows up here
        else:
            body = {**person, "source": "website", "campaign": self.random.choice(CAMPAIGNS)}
            lead_id = self._post("/v1/leads", body, self.ops).json()["lead_id"]
        self.sent += 1
        domain = person["email"].split("@")[1]
        if domain in FIRM_DOMAINS and self.random.random() < 0.5:
            self._attempt(lambda: self._touch(person["email"]))  # the firm worked it before
        submitted = channel == "partner"  # a firm books meetings on its own leads only
        self._later(
            self.random.uniform(5, 15), lambda: self._decide(lead_id, person["email"], submitted)
        )

    def _touch(self, email: str) -> None:
        touch = {
            "kind": self.random.choice(["call", "email", "linkedin"]),
            "occurred_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
            "contact_email": email,
        }
        self._post("/v1/partner/activities", touch, self.partner)

    def _stage(self, lead_id: str, stage: str, reason_code: str | None = None) -> None:
        body: dict[str, Any] = {"stage": stage}
        if reason_code is not None:
            body["reason_code"] = reason_code
        answer = self._client.post(
            f"{self.router}/v1/leads/{lead_id}/stage", json=body, headers=self.ops
        )
        if answer.status_code == 404:
            raise NotRoutedYet(lead_id)
        answer.raise_for_status()

    def _decide(self, lead_id: str, email: str, submitted_by_firm: bool) -> None:
        """Sales answers; an accepted lead the firm submitted gets a meeting, another may
        move on through the funnel."""
        if self.random.random() >= 0.75:
            self._stage(lead_id, "rejected", self.random.choice(REJECTIONS))
        elif submitted_by_firm:
            self._stage(lead_id, "accepted")
            self._later(self.random.uniform(3, 10), lambda: self._book(lead_id, email))
        else:
            self._stage(lead_id, "accepted")
            self._maybe_progress(lead_id)

    def _maybe_progress(self, lead_id: str) -> None:
        if self.random.random() < 0.5:
            steps = ["qualified", "opportunity", self.random.choice(["closed_won", "closed_lost"])]
            self._later(self.random.uniform(10, 30), lambda: self._advance(lead_id, steps))

    def _advance(self, lead_id: str, steps: list[str]) -> None:
        self._stage(lead_id, steps[0])
        if steps[1:]:
            self._later(self.random.uniform(10, 30), lambda: self._advance(lead_id, steps[1:]))

    def _book(self, lead_id: str, email: str) -> None:
        meeting = {
            "contact_email": email,
            "lead_id": lead_id,
            "scheduled_for": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
        }
        meeting_id = self._post("/v1/partner/meetings", meeting, self.partner).json()["meeting_id"]
        outcome = "held" if self.random.random() < 0.7 else "no_show"
        self._later(
            self.random.uniform(10, 30), lambda: self._outcome(lead_id, meeting_id, outcome)
        )

    def _outcome(self, lead_id: str, meeting_id: str, outcome: str) -> None:
        self._post(f"/v1/meetings/{meeting_id}/outcome", {"status": outcome}, self.ops)
        if outcome == "held":
            self._maybe_progress(lead_id)


def start_demo_traffic(
    urls: dict[str, str], ops_token: str, per_minute: float
) -> tuple[threading.Thread, threading.Event]:
    """Run the demo traffic (``urls``: intake's and router's) in a daemon thread; set the
    event to stop it."""
    stop = threading.Event()
    traffic = DemoTraffic(urls, ops_token, per_minute)
    thread = threading.Thread(target=traffic.run, args=(stop,), name="demo-traffic", daemon=True)
    thread.start()
    return thread, stop
