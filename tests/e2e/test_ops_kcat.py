"""A Kafka client that is not Python reads every topic as JSON lines: kcat (Debian's
``kcat`` package) consumes each topic of the catalog from the beginning, and each line is
a CloudEvent any JSON tool can read (the commands are in docs/ops.md).

The embedded broker (Tansu 0.6) answers ApiVersions v3 with a tail librdkafka 2.0.2
(Debian's kcat) cannot parse, so against it kcat skips that request
(``api.version.request=false``, ``broker.version.fallback=0.9.0``) and starts at offset 0
rather than asking for the logical beginning. Against Apache Kafka the plain command is
used."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import httpx
import pytest

from shared.events.envelope import Envelope
from shared.events.topics import TOPICS
from tests.support.stack import Stack

KCAT = shutil.which("kcat") or "/usr/bin/kcat"
FOR_EMBEDDED_BROKER = [
    "-X",
    "api.version.request=false",
    "-X",
    "broker.version.fallback=0.9.0",
    "-o",
    "0",
]


def kcat(broker: str, topic: str, *, embedded: bool) -> list[dict[str, object]]:
    offsets = FOR_EMBEDDED_BROKER if embedded else ["-o", "beginning"]
    run = subprocess.run(
        [KCAT, "-b", broker, "-C", "-t", topic, *offsets, "-e", "-J", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def test_kcat_reads_every_topic_as_json_lines_of_cloudevents(stack: Stack) -> None:
    if not shutil.which(KCAT):
        pytest.fail(f"kcat is needed for this test (Debian: apt-get install kcat); no {KCAT}")
    embedded = stack.infra.kafka is not None
    email = f"kcat.{int(time.time() * 1000)}@initech.com"
    answer = httpx.post(
        f"{stack.urls['intake']}/v1/leads", json={"email": email}, headers=stack.auth, timeout=10
    )
    answer.raise_for_status()
    lead_id = answer.json()["lead_id"]
    deadline = time.monotonic() + 60
    records: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        records = kcat(stack.infra.bootstrap_servers, "leads.received", embedded=embedded)
        if any(lead_id in str(r.get("payload")) for r in records):
            break
        time.sleep(1)
    envelopes = [Envelope.model_validate_json(str(r["payload"])) for r in records]
    assert all(r["topic"] == "leads.received" for r in records)
    assert all(e.specversion == "1.0" and e.type.startswith("leadflow.lead.") for e in envelopes)
    ours = [e for e in envelopes if e.data.get("lead_id") == lead_id]
    assert [e.type for e in ours] == ["leadflow.lead.received.v1"]
    assert ours[0].data["email"] == email
    (record,) = [r for r in records if lead_id in str(r["payload"])]
    assert record["key"] == lead_id  # the partition key, as the catalog says

    for topic in TOPICS:  # every other topic reads the same way
        lines = kcat(stack.infra.bootstrap_servers, topic.name, embedded=embedded)
        for line in lines:
            assert line["topic"] == topic.name
            Envelope.model_validate_json(str(line["payload"]))
