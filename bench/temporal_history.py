"""History growth of ``runwire.AgentRun``: bytes of workflow history per LLM turn.

Runs a scripted run of N tool-call turns (echo, auto-approved) plus a final
answer on a real Temporal dev server, with an embedded worker, and measures
the run's workflow history (events and serialized bytes), summed over every
execution of its continue-as-new chain (the test dev server suggests
continue-as-new after 100 history events, ``tests/temporal_server.py``), and
the largest single execution's history. Activities get whole inputs (the
whole model request every turn), and the claim-check payload codec
(``runwire_server.service.runtimes.payload_codec``) swaps every payload over its threshold for
a small reference, so bytes per turn should stay flat as N grows, and no
execution's history grows with N.

Each execution's first and last events (started, continued-as-new) carry the
run's spec, agent snapshot included (here the scripted model's options hold
the whole script, N turns long), and the conversation so far: as references
once they are large. "w/o spec" leaves those events out.

``python -m bench.temporal_history [N ...]``; N is at most 99 (N tool turns
plus the answer take N + 1 LLM rounds, and an agent allows at most 100).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from runwire.v1 import run_pb2, run_service_pb2, run_service_pb2_grpc
from temporalio.client import Client

from bench.common import LocalRunwire, create_agent, exit_now, scripted_agent
from runwire_server.app.config import Settings
from tests.temporal_server import start_temporal


@dataclass
class Chain:
    """The histories of one run's workflow executions (continue-as-new chain)."""

    executions: int = 0
    events: int = 0
    bytes: int = 0
    largest_bytes: int = 0
    #: Bytes of the events that carry the run's spec (started, continued-as-new).
    spec_bytes: int = 0


async def chain_of(client: Client, workflow_id: str) -> Chain:
    """Walks back from the latest execution of ``workflow_id`` to the first."""
    chain = Chain()
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        size = sum(event.ByteSize() for event in history.events)
        chain.executions += 1
        chain.events += len(history.events)
        chain.bytes += size
        chain.largest_bytes = max(chain.largest_bytes, size)
        chain.spec_bytes += sum(
            event.ByteSize()
            for event in history.events
            if event.HasField("workflow_execution_started_event_attributes")
            or event.HasField("workflow_execution_continued_as_new_event_attributes")
        )
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return chain
        run_id = started.continued_execution_run_id


async def measure(turns: list[int]) -> list[tuple[int, Chain]]:
    """Returns (turns, the run's history chain) per scenario."""
    rows = []
    async with start_temporal() as address:
        settings = Settings(
            listen=["127.0.0.1:0"],
            temporal_address=address,
            default_runtime="temporal",
            log_level="WARNING",
        )
        runwire = await LocalRunwire.start(settings)
        runs = run_service_pb2_grpc.RunServiceStub(runwire.channel)
        # Reads raw history only: claim references are counted as they are.
        client = await Client.connect(address)
        try:
            for n in turns:
                script: list[dict[str, Any]] = [
                    {
                        "text": f"Turn {i}: calling echo.",
                        "tool_calls": [{"name": "echo", "arguments": {"text": f"hello {i}"}}],
                    }
                    for i in range(n)
                ]
                script.append({"text": "All turns done."})
                agent = scripted_agent(script, tools=["echo"], max_iterations=n + 1)
                await create_agent(runwire.channel, f"history-{n}", agent)
                run = (
                    await runs.WaitRun(
                        run_service_pb2.WaitRunRequest(agent_id=f"history-{n}", prompt="go")
                    )
                ).run
                assert run.state == run_pb2.RUN_STATE_SUCCEEDED, run
                rows.append((n, await chain_of(client, run.run_id)))
        finally:
            await runwire.close()
    return rows


def main() -> None:
    turns = [int(a) for a in sys.argv[1:]] or [10, 99]
    rows = asyncio.run(measure(turns))
    print(
        f"{'turns':>6} {'executions':>10} {'events':>7} {'bytes':>9} {'bytes/turn':>11} "
        f"{'w/o spec':>9} {'events/turn':>12} {'largest execution':>18}"
    )
    for n, chain in rows:
        print(
            f"{n:>6} {chain.executions:>10} {chain.events:>7} {chain.bytes:>9} "
            f"{chain.bytes / n:>11.0f} {(chain.bytes - chain.spec_bytes) / n:>9.0f} "
            f"{chain.events / n:>12.1f} {chain.largest_bytes:>16} B"
        )


if __name__ == "__main__":
    main()
    exit_now()
