"""deploy/prometheus/alerts.yaml is a well-formed Prometheus rule file whose expressions
name only metrics the services export (without promtool: structure and names)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from services.catalog import SERVICES

RULES = Path(__file__).parents[3] / "deploy" / "prometheus" / "alerts.yaml"
SEVERITIES = {"page", "ticket"}
# a histogram's own name is how the docs name it; its series carry the suffixes
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("", "_bucket", "_count", "_sum")}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def exported_series() -> set[str]:
    """Every series name the services can export, whether or not it has a sample yet."""
    for service in SERVICES.values():  # their modules define the service-specific metrics
        importlib.import_module(service.factory.split(":")[0])
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def test_the_rule_file_has_named_groups_of_alerts_with_a_severity_and_a_summary() -> None:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    groups = document["groups"]
    assert len({g["name"] for g in groups}) == len(groups)
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert isinstance(rule["expr"], str)
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_every_metric_an_alert_names_is_exported(rule: dict[str, Any]) -> None:
    expr = rule["expr"]
    assert expr.count("(") == expr.count(")")
    assert expr.count("{") == expr.count("}")
    named = set(re.findall(r"\bleadflow_[a-z_]+", expr))
    assert named, "an alert on Leadflow names a Leadflow metric"
    named |= set(re.findall(r"\bleadflow_[a-z_]+", rule["annotations"]["description"]))
    assert named <= exported_series(), f"not exported: {named - exported_series()}"


def test_the_alerts_cover_what_the_issue_asks_to_page_on() -> None:
    paged = " ".join(r["expr"] for r in rules() if r["labels"]["severity"] == "page")
    for metric in (
        "leadflow_intake_leads_total",
        "leadflow_outbox_backlog",
        "leadflow_consumer_lag",
        "leadflow_dead_letters_total",
        "leadflow_sla_events_total",
        "leadflow_dependency_up",
    ):
        assert metric in paged, metric
