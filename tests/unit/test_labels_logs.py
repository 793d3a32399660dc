"""Labels reach a run's log lines (bounded) and its spans (``runwire.label.<key>``)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from runwire.v1 import run_pb2, run_service_pb2

from runwire_server.service.core.logs import (
    MAX_LABEL_LOG_CHARS,
    JsonFormatter,
    RunContextFilter,
    TextFormatter,
    labels_text,
    run_context,
)
from runwire_server.service.core.spec import label_attributes
from runwire_server.service.core.telemetry import ATTR_RUN_ID
from tests.support import Stubs, collect, create_agent, polls, unique


def test_labels_on_a_line_inside_a_run_are_sorted_and_bounded() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with run_context("run_1", "agent_1", {"user": "u 1", "b": "2"}):
        RunContextFilter().filter(record)
    assert (
        TextFormatter()
        .format(record)
        .endswith('hello run_id=run_1 agent_id=agent_1 labels="b=2,user=u 1"')
    )
    assert json.loads(JsonFormatter().format(record))["labels"] == "b=2,user=u 1"

    many = {f"key{i:02}": "v" * 256 for i in range(32)}
    text = labels_text(many)
    assert len(text) == MAX_LABEL_LOG_CHARS and text.endswith("…")
    assert text.startswith("key00=vvv")

    bare = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with run_context("run_2"):
        RunContextFilter().filter(bare)
    assert "labels" not in TextFormatter().format(bare)


def test_label_attributes() -> None:
    assert label_attributes({"user": "u-1", "a/b": "c"}) == {
        "runwire.label.a/b": "c",
        "runwire.label.user": "u-1",
    }


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RunContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Finished spans from now on (a tracer provider is installed once per process)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_an_in_process_run_logs_and_traces_its_labels(
    stubs: Stubs, runtime: str, json_lines: io.StringIO, spans: InMemorySpanExporter
) -> None:
    if runtime == "temporal":
        pytest.skip("in-process runs: a Temporal run's labels are in its workflow memo")
    agent = await create_agent(stubs, [{"text": "ok"}])
    ticket = unique("ticket")
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="p", labels={"ticket": ticket, "user": "u-1"}
            )
        )
    )
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    run_id = events[-1].run_id
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    mine = [line for line in lines if line.get("run_id") == run_id]
    assert {line["message"] for line in mine} >= {"run created", "run started"}
    assert all(line["labels"] == f"ticket={ticket},user=u-1" for line in mine), mine

    async for _ in polls():
        ours = {
            s.name: dict(s.attributes or {})
            for s in spans.get_finished_spans()
            if (s.attributes or {}).get(ATTR_RUN_ID) == run_id
        }
        if {"runwire.run", "runwire.llm.call"} <= set(ours):
            break
    for name in ("runwire.run", "runwire.llm.call"):
        assert ours[name]["runwire.label.ticket"] == ticket, ours
        assert ours[name]["runwire.label.user"] == "u-1", ours


async def test_a_temporal_run_traces_its_labels_in_its_activities(
    stubs: Stubs, runtime: str, spans: InMemorySpanExporter
) -> None:
    """The activities' inputs carry the labels (``ModelCallInput.labels``): the
    model call's span has them, as in-process."""
    if runtime != "temporal":
        pytest.skip("the worker's activities are Temporal's")
    agent = await create_agent(stubs, [{"text": "ok"}])
    ticket = unique("ticket")
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="p", labels={"ticket": ticket}
            )
        )
    )
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    run_id = events[-1].run_id
    async for _ in polls():
        calls = [
            dict(s.attributes or {})
            for s in spans.get_finished_spans()
            if s.name == "runwire.llm.call" and (s.attributes or {}).get(ATTR_RUN_ID) == run_id
        ]
        if calls:
            break
    assert all(call["runwire.label.ticket"] == ticket for call in calls), calls
