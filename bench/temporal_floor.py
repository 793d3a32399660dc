"""The Temporal floor: a minimal workflow that runs a given plan of no-op activities.

``MinimalRun`` executes batches of activities by name, one batch after the
other, the activities of a batch in parallel; ``noop`` (a dynamic activity)
answers every name at once. ``activity_plan`` reads that plan from a finished
``runwire.AgentRun`` history (activities scheduled by the same workflow task
form one batch; local activities, recorded as markers, are named
``local:<name>`` and run as local activities), so the floor runs the same
number and kind of activities as the Runwire run it is compared with, and none
of Runwire's work.

``python -m bench.temporal_floor --address HOST:PORT --task-queue QUEUE``
runs a worker for it in its own process (prints ``worker polling QUEUE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

WORKFLOW_NAME = "bench.MinimalRun"
#: The prefix of a local activity's name in a plan.
LOCAL = "local:"
#: The marker Temporal's SDKs record for a local activity.
LOCAL_ACTIVITY_MARKER = "core_local_activity"
#: The same as Runwire's worker (``RUNWIRE_TEMPORAL_STICKY_TIMEOUT_SECONDS``).
STICKY_TIMEOUT = timedelta(seconds=1)


#: Futures of runs started by ``run_until_last_activity`` in this process, by token.
_LAST_ACTIVITY: dict[str, asyncio.Future[None]] = {}


@activity.defn(dynamic=True)
async def noop(args: Sequence[RawValue]) -> None:
    """Any activity name: does nothing, except that an activity of the last batch
    (given a token) tells ``run_until_last_activity`` in this process it ran."""
    if args:
        token = activity.payload_converter().from_payload(args[0].payload, str)
        done = _LAST_ACTIVITY.pop(token, None)
        if done is not None and not done.done():
            done.set_result(None)


@workflow.defn(name=WORKFLOW_NAME)
class MinimalRun:
    """Runs ``plan``: batches of activity names; returns how many ran. The
    activities of the last batch get ``token`` as their argument."""

    @workflow.run
    async def run(self, plan: list[list[str]], token: str = "") -> int:
        count = 0
        for number, batch in enumerate(plan, 1):
            args = [token] if token and number == len(plan) else []
            await asyncio.gather(
                *(
                    workflow.execute_local_activity(
                        name.removeprefix(LOCAL),
                        args=args,
                        start_to_close_timeout=timedelta(seconds=60),
                    )
                    if name.startswith(LOCAL)
                    else workflow.execute_activity(
                        name, args=args, start_to_close_timeout=timedelta(seconds=60)
                    )
                    for name in batch
                )
            )
            count += len(batch)
        return count


async def run_until_last_activity(client: Client, plan: list[list[str]], task_queue: str) -> None:
    """Starts a ``MinimalRun`` and returns once an activity of its last batch ran
    (its worker must be in this process): the moment a Runwire run publishes its
    last event. The workflow then completes on its own."""
    token = uuid.uuid4().hex
    done = asyncio.get_running_loop().create_future()
    _LAST_ACTIVITY[token] = done
    try:
        await client.start_workflow(
            WORKFLOW_NAME, args=[plan, token], id=f"floor-{token}", task_queue=task_queue
        )
        await done
    finally:
        _LAST_ACTIVITY.pop(token, None)


def build_floor_worker(client: Client, task_queue: str) -> Worker:
    """A worker for ``MinimalRun`` with Runwire's worker settings (sticky timeout,
    no workflow sandbox: ``runwire_server.worker.factory.build_worker``)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[MinimalRun],
        activities=[noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
    )


async def activity_plan(client: Client, workflow_id: str) -> list[list[str]]:
    """The activities a finished workflow ran, in batches scheduled together."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    batches: dict[int, list[str]] = {}
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled = event.activity_task_scheduled_event_attributes
            batches.setdefault(scheduled.workflow_task_completed_event_id, []).append(
                scheduled.activity_type.name
            )
        elif event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            if marker.marker_name != LOCAL_ACTIVITY_MARKER:
                continue
            data = json.loads(marker.details["data"].payloads[0].data)
            batches.setdefault(marker.workflow_task_completed_event_id, []).append(
                LOCAL + str(data["activity_type"])
            )
    return [batches[key] for key in sorted(batches)]


def describe(plan: list[list[str]]) -> str:
    """``call_model x2, run_tool x1`` (with the multiplication sign) for a plan."""
    counts: dict[str, int] = {}
    for batch in plan:
        for name in batch:
            counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name}\u00d7{count}" for name, count in counts.items())


async def _serve(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    worker = build_floor_worker(client, task_queue)
    async with worker:
        print(f"worker polling {task_queue}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.temporal_floor")
    parser.add_argument("--address", required=True, help="Temporal frontend host:port")
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.address, args.task_queue))


if __name__ == "__main__":
    main()
