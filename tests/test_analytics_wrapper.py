"""SQLMesh's analytics wrapper of Context methods, skipped while analytics are off
(sqlmesh_api.python_api_analytics_when_enabled, issue 20): a real Context on a throw-away
project; SQLMesh's own collector, given a recording dispatcher when analytics are on."""

from __future__ import annotations

import inspect

import pytest
from sqlmesh import Context
from sqlmesh.core import analytics
from sqlmesh.core.analytics.collector import AnalyticsCollector
from sqlmesh.core.analytics.dispatcher import EventDispatcher
from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

from benefits_mesh import sqlmesh_api


class Recording(EventDispatcher):
    def __init__(self) -> None:
        self.events: list[dict] = []

    def add_event(self, event: dict) -> None:
        self.events.append(event)

    def flush(self) -> None:
        pass

    def shutdown(self, flush: bool = True) -> None:
        pass


@pytest.fixture
def context(tmp_path, monkeypatch):
    sqlmesh_api.python_api_analytics_when_enabled()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.sql").write_text("MODEL (name t.m, kind VIEW); SELECT 1 AS k")
    config = Config(
        gateways={"local": GatewayConfig(connection=DuckDBConnectionConfig())},
        default_gateway="local",
        model_defaults=ModelDefaultsConfig(dialect="duckdb"),
        disable_anonymized_analytics=True,
    )
    ctx = Context(paths=tmp_path, config=config)
    stacks: list[int] = []
    walk = inspect.stack
    monkeypatch.setattr(inspect, "stack", lambda *a, **k: stacks.append(1) or walk(*a, **k))
    yield ctx, stacks
    ctx.close()


def test_disabled_analytics_skip_the_stack_walk(context):
    ctx, stacks = context
    assert ctx.render("t.m").sql() == 'SELECT 1 AS "k"'  # the method itself still answers
    assert stacks == []


def test_enabled_analytics_still_report(context, monkeypatch):
    ctx, stacks = context
    recording = Recording()
    monkeypatch.setattr(analytics, "collector", AnalyticsCollector(dispatcher=recording))
    assert ctx.render("t.m").sql() == 'SELECT 1 AS "k"'
    assert stacks, "the analytics wrapper ran"
    reported = [e for e in recording.events if e["event_type"] == "PYTHON_API_COMMAND"]
    assert len(reported) == 1, recording.events
    assert "render" in str(reported[0]), reported
