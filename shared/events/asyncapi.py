"""The event catalog as an AsyncAPI 3.0 document, generated from the pydantic models, so
a consumer outside this codebase (a dashboard team, kcat) needs no Python to read a topic.

``leadflow asyncapi`` writes it to docs/asyncapi.json; a test keeps that file current.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from shared.events.base import event_types
from shared.events.envelope import Envelope
from shared.events.topics import TOPICS, dlq_topic


def asyncapi_document() -> dict[str, Any]:
    types = event_types()
    models = sorted(types.values(), key=lambda m: m.event_type)
    every: list[type[BaseModel]] = [Envelope, *models]
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "serialization") for m in every]
    _, schemas = models_json_schema(wanted, ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    messages: dict[str, Any] = {}
    for model in models:
        name = model.__name__
        messages[name] = {
            "name": model.event_type,
            "title": name,
            "summary": (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {
                    "content-type": {
                        "type": "string",
                        "const": "application/cloudevents+json; charset=UTF-8",
                        "description": "CloudEvents Kafka binding, structured mode",
                    },
                    "traceparent": {"type": "string"},
                    "tracestate": {"type": "string"},
                },
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": model.event_type},
                            "data": {"$ref": f"#/components/schemas/{name}"},
                        },
                    },
                ]
            },
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in TOPICS:
        on_topic = [m.__name__ for m in models if m.topic.name == topic.name]
        channel_id = topic.name.replace(".", "_")
        channels[channel_id] = {
            "address": topic.name,
            "description": f"{topic.description} Key: {topic.key}. Partitions: {topic.partitions}."
            f" Failed messages go to {dlq_topic(topic.name)}.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in on_topic},
        }
        operations[f"consume_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in on_topic],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Leadflow events",
            "version": "1",
            "description": "Every event is a CloudEvents 1.0 JSON document (structured mode);"
            " `time` is event time. Types are versioned: a breaking change is a new type.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "Set to your cluster's bootstrap servers.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }
