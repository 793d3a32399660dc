"""OpenTelemetry: traces and metrics of runs, model calls, tool calls and streams.

Everything here is a no-op unless configured: ``configure_telemetry()``
installs SDK providers with OTLP exporters only when the standard
``OTEL_*`` variables ask for them (``OTEL_EXPORTER_OTLP_ENDPOINT``, or
``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` = ``otlp``); the
exporters read the rest of the ``OTEL_*`` variables themselves. Code records
through the API (``TRACER``, ``METRICS``), which forwards to whatever
provider is installed, including the in-memory ones of the tests.

Spans: ``runwire.run`` (in-process runs; on Temporal the workflow's
``StartWorkflow:runwire.AgentRun`` span from ``temporalio.contrib.opentelemetry``
and its activity spans play that role), ``runwire.llm.call`` and ``runwire.tool.call`` (both
runtimes), under the gRPC server spans of ``opentelemetry-instrumentation-grpc``.
Attributes: ``runwire.run_id``, ``runwire.agent_id``, ``runwire.tool.name``,
``runwire.llm.provider``, ``runwire.llm.input_tokens``, ``runwire.llm.output_tokens``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass

from opentelemetry import metrics, trace

TRACER = trace.get_tracer("runwire")
_METER = metrics.get_meter("runwire")

ATTR_RUN_ID = "runwire.run_id"
ATTR_AGENT_ID = "runwire.agent_id"
ATTR_PRINCIPAL = "runwire.principal"
ATTR_TENANT = "runwire.tenant"
ATTR_TOOL_NAME = "runwire.tool.name"
ATTR_PROVIDER = "runwire.llm.provider"
ATTR_INPUT_TOKENS = "runwire.llm.input_tokens"
ATTR_OUTPUT_TOKENS = "runwire.llm.output_tokens"
ATTR_STATE = "runwire.run.state"


@dataclass(frozen=True)
class _Metrics:
    runs_started: metrics.Counter
    runs_finished: metrics.Counter
    run_duration: metrics.Histogram
    llm_latency: metrics.Histogram
    input_tokens: metrics.Counter
    output_tokens: metrics.Counter
    tool_calls: metrics.Counter
    tool_failures: metrics.Counter
    open_streams: metrics.UpDownCounter


METRICS = _Metrics(
    runs_started=_METER.create_counter(
        "runwire.runs.started", unit="{run}", description="Runs started."
    ),
    runs_finished=_METER.create_counter(
        "runwire.runs.finished", unit="{run}", description="Runs ended, by terminal state."
    ),
    run_duration=_METER.create_histogram(
        "runwire.run.duration", unit="s", description="Wall time from run start to end."
    ),
    llm_latency=_METER.create_histogram(
        "runwire.llm.duration", unit="s", description="Duration of one streamed model call."
    ),
    input_tokens=_METER.create_counter(
        "runwire.llm.input_tokens", unit="{token}", description="Tokens sent to models."
    ),
    output_tokens=_METER.create_counter(
        "runwire.llm.output_tokens", unit="{token}", description="Tokens models generated."
    ),
    tool_calls=_METER.create_counter(
        "runwire.tool.calls", unit="{call}", description="Server tool calls executed."
    ),
    tool_failures=_METER.create_counter(
        "runwire.tool.failures", unit="{call}", description="Server tool calls that failed."
    ),
    open_streams=_METER.create_up_down_counter(
        "runwire.streams.open", unit="{stream}", description="Open event streams."
    ),
)


def otlp_requested() -> bool:
    """True when the standard OTEL_* variables ask for OTLP export."""
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_TRACES_EXPORTER", "").lower() == "otlp"
        or os.environ.get("OTEL_METRICS_EXPORTER", "").lower() == "otlp"
    )


def configure_telemetry(*, service_name: str = "runwire") -> bool:
    """Installs OTLP-exporting providers when OTEL_* asks for them; returns whether it did.

    Call once per process, at start (``runwire serve`` / ``runwire worker``).
    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` override ``service_name``.
    """
    if not otlp_requested() or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(
        MeterProvider(
            resource=resource,
            metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())],
        )
    )
    return True


def tracing_configured() -> bool:
    """True when a tracer provider was installed (by ``configure_telemetry``, or
    by the embedding program or a test); False while the API's default proxy
    stands in, whose spans go nowhere."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def start_span(name: str, attributes: Mapping[str, str]) -> AbstractContextManager[trace.Span]:
    """``TRACER.start_as_current_span(name, attributes=...)``, or a no-op span
    when no tracer provider is installed (``tracing_configured()``): the API's
    proxy would still build a non-recording span and attach it to the context,
    about 2% of a scripted run's time in ``python -m bench.profile``."""
    if not tracing_configured():
        return contextlib.nullcontext(trace.INVALID_SPAN)
    return TRACER.start_as_current_span(name, attributes=attributes)


def instrument_grpc_server() -> None:
    """Server spans for every RPC (``opentelemetry-instrumentation-grpc``); idempotent.

    Call it only when ``tracing_configured()``: with no tracer provider the
    interceptor costs every RPC and every streamed message time for spans that
    go nowhere (about 3% of a run's server time in ``python -m bench.profile``),
    and it logs "Failed to detach context" errors when clients cancel streams.
    Affects grpc.aio servers created after the call.
    """
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer  # noqa: PLC0415

    instrumentor = GrpcAioInstrumentorServer()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
