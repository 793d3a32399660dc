"""History growth of ``runwire.AgentRun``: bytes of workflow history per LLM turn.

Runs a scripted run of N tool-call turns (echo, auto-approved) plus a final
answer on a real Temporal dev server, with an embedded worker, and measures
the run's workflow history (events and serialized bytes). The conversation
lives outside history (only new messages enter it), so bytes per turn should
stay flat as N grows. ``python -m bench.temporal_history [N ...]``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from runwire.v1 import run_pb2, run_service_pb2, run_service_pb2_grpc
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.common import LocalRunwire, create_agent, scripted_agent
from service.config import Settings
from tests.temporal_server import start_temporal


async def measure(turns: list[int]) -> list[tuple[int, int, int]]:
    """Returns (turns, history events, history bytes) per scenario."""
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
        client = await Client.connect(address, data_converter=pydantic_data_converter)
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
                history = await client.get_workflow_handle(run.run_id).fetch_history()
                size = sum(event.ByteSize() for event in history.events)
                rows.append((n, len(history.events), size))
        finally:
            await runwire.close()
    return rows


def main() -> None:
    turns = [int(a) for a in sys.argv[1:]] or [10, 100]
    rows = asyncio.run(measure(turns))
    print(f"{'turns':>6} {'events':>7} {'bytes':>9} {'bytes/turn':>11} {'events/turn':>12}")
    for n, events, size in rows:
        print(f"{n:>6} {events:>7} {size:>9} {size / n:>11.0f} {events / n:>12.1f}")


if __name__ == "__main__":
    main()
