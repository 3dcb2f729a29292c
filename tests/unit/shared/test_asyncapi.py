"""The generated event catalog covers every event type and topic, and the checked-in copy
in docs/ is current."""

from __future__ import annotations

import json
from pathlib import Path

from shared.events import TOPICS, event_types
from shared.events.asyncapi import asyncapi_document

CHECKED_IN = Path(__file__).parents[3] / "docs" / "asyncapi.json"


def test_every_event_type_is_a_message_on_its_topic_with_a_schema() -> None:
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    names = {message["name"] for message in messages.values()}
    assert names == set(event_types())
    for model in event_types().values():
        channel = document["channels"][model.topic.name.replace(".", "_")]
        assert model.__name__ in channel["messages"]
        assert model.__name__ in schemas
    assert {c["address"] for c in document["channels"].values()} == {t.name for t in TOPICS}


def test_the_checked_in_catalog_is_current() -> None:
    current = json.loads(json.dumps(asyncapi_document()))
    assert json.loads(CHECKED_IN.read_text()) == current, "run: leadflow asyncapi"
