"""Building a Temporal worker for ``runwire.AgentRun`` (standalone or embedded)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.runtimes.recorder import RunRecorder
from runwire_server.service.stores.factory import Stores
from runwire_server.service.tools.registry import ToolRegistry
from runwire_server.worker.activities import RunActivities
from runwire_server.worker.interceptors import RunLogContextInterceptor
from runwire_server.worker.workflows import AgentRun

#: Longest interval between two heartbeats the worker sends to the server for
#: one activity (activities record one every ``activities.HEARTBEAT_EVERY_SECONDS``).
HEARTBEAT_THROTTLE = timedelta(milliseconds=300)

#: Modules the workflow sandbox passes through instead of re-importing: they
#: are deterministic, hold no per-run state, and some are C extensions. The worker
#: runs workflows without the sandbox (``build_worker``); the replay test
#: (``tests/replay``) replays the recorded histories in it with these modules.
PASSTHROUGH_MODULES = (
    "runwire_server.service",
    "runwire_server.worker.workflow_effects",
    "runwire_server.worker.activities",
    "runwire",
    "buf",
    "google",
    "grpc",
    "pydantic",
    "pydantic_core",
    "jsonschema",
    "jsonschema_specifications",
    "referencing",
    "rpds",
    "attrs",
    "opentelemetry",
)


def build_worker(
    client: Client,
    *,
    task_queue: str,
    sticky_queue_timeout: timedelta,
    stores: Stores,
    providers: ProviderRegistry,
    tools: ToolRegistry,
    max_events_per_run: int = 0,
    graceful_shutdown_timeout: timedelta = timedelta(),
) -> Worker:
    """A worker polling ``task_queue`` with the workflow and activities.

    Payloads cross Temporal through ``client``'s data converter: its claim-check
    codec (``runwire_server.app.temporal_client.connect_temporal``) must use the same claim
    store as the service's client.

    ``sticky_queue_timeout`` is how long a workflow task waits for the worker that
    holds the workflow in its cache before another worker takes it.
    ``graceful_shutdown_timeout`` is how long running activities get to finish once
    ``shutdown()`` is called (SIGTERM) before they are cancelled and retried elsewhere.

    ``providers`` should have SDK retries off (``openai_max_retries=0``):
    the activity retry policy is the only one. ``max_events_per_run`` is
    ``RunRecorder``'s (0: no limit).
    """
    activities = RunActivities(
        recorder=RunRecorder(
            events=stores.events,
            runs=stores.runs,
            approvals=stores.approvals,
            max_events_per_run=max_events_per_run,
        ),
        providers=providers,
        tools=tools,
        threads=stores.threads,
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AgentRun],
        activities=activities.all(),
        # The client's interceptors (tracing) apply too; this one adds the run's
        # ids to the activities' log records.
        interceptors=[RunLogContextInterceptor()],
        # No sandbox: it re-imports the workflow's module for every workflow and
        # re-enters itself for every payload of every workflow task (the SDK asks
        # the workflow, inside the sandbox, for each payload's serialization
        # context), the largest share of the worker's CPU per run after the
        # activities' own work (docs/benchmarks.md, scenario 5). The loop and the
        # effects were passed through it already; the replay test still replays the
        # recorded histories in the sandbox, which refuses I/O, the clock and
        # randomness in the workflow module.
        workflow_runner=UnsandboxedWorkflowRunner(),
        # Heartbeats reach the server at least every HEARTBEAT_THROTTLE (the SDK's
        # default is 80% of the heartbeat timeout), so the timeout can be short:
        # see workflows.HEARTBEAT_TIMEOUT.
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        sticky_queue_schedule_to_start_timeout=sticky_queue_timeout,
        graceful_shutdown_timeout=graceful_shutdown_timeout,
    )
