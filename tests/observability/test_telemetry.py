"""Telemetry: a run produces linked spans and metrics, on every runtime.

The SDK's in-memory exporters stand in for OTLP (set up once per process:
OpenTelemetry's global providers can be set only once). This module starts its
own servers, after installing the providers: a server instruments gRPC only
when tracing is configured at its start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from runwire.v1 import run_service_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.core.telemetry import ATTR_AGENT_ID, ATTR_RUN_ID, ATTR_TOOL_NAME
from tests.conftest import RUNTIMES, server_settings
from tests.support import (
    Script,
    Stubs,
    collect,
    create_agent,
    polls,
    running_server,
    wait_until,
)

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers() -> None:
    """The SDK providers with this module's exporter and reader (a tracer provider
    another test module installed first is kept: the exporter joins it)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))


@pytest.fixture(scope="module", params=RUNTIMES)
async def server(
    request: pytest.FixtureRequest, providers: None, redis_url: str, temporal_address: str
) -> AsyncIterator[RunwireServer]:
    """This module's own server per runtime, started after ``providers``."""
    settings = server_settings(
        request.param, redis_url=redis_url, temporal_address=temporal_address
    )
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
async def stubs(server: RunwireServer) -> AsyncIterator[Stubs]:
    s = Stubs.connect(server.addresses[0])
    yield s
    await s.channel.close()


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        ancestor = by_id[parent.span_id]
        names.append(ancestor.name)
        parent = ancestor.parent
    return names


async def _spans_of(run_id: str, want: set[str]) -> list[ReadableSpan]:
    async for _ in polls():
        spans = list(_EXPORTER.get_finished_spans())
        names = {s.name for s in spans if (s.attributes or {}).get(ATTR_RUN_ID) == run_id}
        if want <= names:
            return spans
    raise AssertionError(f"spans {want - names} of run {run_id} never ended")


def _metric_points(name: str) -> list[object]:
    data = _READER.get_metrics_data()
    points: list[object] = []
    if data is None:
        return points
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    points.extend(metric.data.data_points)
    return points


async def test_a_run_produces_linked_spans_and_metrics(stubs: Stubs, runtime: str) -> None:
    script: Script = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "traced"}}]},
        {"text": "done tracing"},
    ]
    agent = await create_agent(stubs, script, tools=["echo"])
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    run_id = events[0].run_id
    want = {"runwire.llm.call", "runwire.tool.call"}
    if runtime != "temporal":
        want.add("runwire.run")
    spans = await _spans_of(run_id, want)
    by_id = {s.context.span_id: s for s in spans}
    mine = [s for s in spans if (s.attributes or {}).get(ATTR_RUN_ID) == run_id]

    llm = [s for s in mine if s.name == "runwire.llm.call"]
    assert len(llm) == 2
    for span in llm:
        attrs = span.attributes or {}
        assert attrs[ATTR_AGENT_ID] == agent.agent_id
        assert int(attrs["runwire.llm.input_tokens"]) > 0  # type: ignore[arg-type]
        assert int(attrs["runwire.llm.output_tokens"]) > 0  # type: ignore[arg-type]
    (tool,) = [s for s in mine if s.name == "runwire.tool.call"]
    assert (tool.attributes or {})[ATTR_TOOL_NAME] == "echo"

    # On Temporal the run is the workflow: its spans come from TracingInterceptor.
    run_span = "StartWorkflow:runwire.AgentRun" if runtime == "temporal" else "runwire.run"
    for span in [*llm, tool]:
        chain = _ancestors(span, by_id)
        assert run_span in chain, (span.name, chain)
        # ... and the run hangs under the gRPC call that started it.
        assert "/runwire.v1.RunService/StreamRun" in chain, (span.name, chain)

    started = _metric_points("runwire.runs.started")
    assert sum(p.value for p in started) >= 1  # type: ignore[attr-defined]

    def finished_states() -> set[object]:
        finished = _metric_points("runwire.runs.finished")
        return {p.attributes.get("runwire.run.state") for p in finished}  # type: ignore[attr-defined]

    # A run's end is counted once its terminal event is logged, which streams at once.
    await wait_until(
        lambda: "RUN_STATE_SUCCEEDED" in finished_states(),
        lambda: f"a run counted as ended SUCCEEDED: {finished_states()}",
    )
    tokens = _metric_points("runwire.llm.input_tokens")
    assert sum(p.value for p in tokens) > 0  # type: ignore[attr-defined]
    calls = _metric_points("runwire.tool.calls")
    assert any(p.attributes.get(ATTR_TOOL_NAME) == "echo" for p in calls)  # type: ignore[attr-defined]
    assert _metric_points("runwire.llm.duration")
    assert _metric_points("runwire.streams.open")
