"""Records workflow histories for the replay test: ``python -m tests.replay.record [SCENARIO ...]``.

Starts a Temporal dev server and a Runwire app with an embedded worker
(memory stores), runs one scenario per history, and writes each run's
history as JSON to ``tests/replay/histories/<scenario>.json``, and the
payloads its claim references name (the claim-check codec keeps large ones
out of history) to ``tests/replay/claims/<scenario>.json`` (claim key ->
base64 of the serialized ``Payload``).

Re-record only on purpose. Until the first tagged release, a workflow change
may re-record these histories; from then on a history that no longer replays
means the change needs ``workflow.patched`` or a new workflow version
(``docs/temporal.md``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
import sys
from collections.abc import Awaitable, Callable, Iterator

from google.protobuf import duration_pb2, struct_pb2
from google.protobuf.message import Message
from runwire.v1 import agent_pb2, approval_pb2, run_pb2, run_service_pb2, thread_pb2
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.wiring import Runwire
from runwire_server.service.runtimes.payload_codec import CLAIM_ENCODING
from runwire_server.service.stores.claims import ClaimStore
from tests.support import Script, Stubs, collect, run_until
from tests.temporal_server import start_temporal

HERE = pathlib.Path(__file__).parent / "histories"
CLAIMS = pathlib.Path(__file__).parent / "claims"

Scenario = Callable[[Stubs], Awaitable[str]]


async def _agent(
    stubs: Stubs,
    agent_id: str,
    script: Script,
    mode: agent_pb2.ApprovalMode,
    *,
    delay_ms: int = 0,
    sub_agents: tuple[str, ...] = (),
    **limits: int,
) -> None:
    options = struct_pb2.Struct()
    options.update({"script": script, "chunk_chars": 8, "delay_ms": delay_ms})
    agent = agent_pb2.Agent(
        model=agent_pb2.Model(provider="scripted", options=options),
        tools=["echo", "calculator"],
        approval_policy=agent_pb2.ApprovalPolicy(mode=mode),
        runtime=agent_pb2.RUNTIME_TEMPORAL,
        sub_agents=[agent_pb2.SubAgent(agent_id=a) for a in sub_agents],
    )
    if "max_iterations" in limits:
        agent.limits.max_iterations = limits["max_iterations"]
    if "approval_timeout" in limits:
        agent.limits.approval_timeout.CopyFrom(
            duration_pb2.Duration(seconds=limits["approval_timeout"])
        )
    await stubs.agents.CreateAgent(agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=agent))


async def _until(stubs: Stubs, run_id: str, state: run_pb2.RunState) -> run_pb2.Run:
    return await run_until(
        stubs, run_id, lambda run: run.state == state, run_pb2.RunState.Name(state)
    )


async def _until_new_approvals(
    stubs: Stubs, run_id: str, seen: set[str], count: int
) -> run_pb2.Run:
    """Waits until the run requires ``count`` approvals, none of them in ``seen``."""

    def new_approvals(run: run_pb2.Run) -> bool:
        pending = {a.approval_id for a in run.required_actions if a.approval_id}
        return run.state == run_pb2.RUN_STATE_REQUIRES_ACTION and len(pending - seen) == count

    return await run_until(stubs, run_id, new_approvals, f"requiring {count} new approvals")


async def approved_tool(stubs: Stubs) -> str:
    script: Script = [
        {
            "text": "Let me compute.",
            "tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}],
        },
        {
            "tool_calls": [
                {"name": "echo", "arguments": {"text": "a"}},
                {"name": "echo", "arguments": {"text": "b"}},
            ]
        },
        {"text": "42, and the echoes said a and b."},
    ]
    await _agent(stubs, "approved-tool", script, agent_pb2.APPROVAL_MODE_ALLOWLIST)
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id="approved-tool", prompt="6*7?")
        )
    ).run
    run = await _until_new_approvals(stubs, run.run_id, set(), 1)
    for action in run.required_actions:
        await stubs.approvals.ResolveApproval(
            approval_pb2.ResolveApprovalRequest(
                approval_id=action.approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
            )
        )
    first = {action.approval_id for action in run.required_actions}
    run = await _until_new_approvals(stubs, run.run_id, first, 2)
    for action in [a for a in run.required_actions if a.approval_id not in first]:
        await stubs.approvals.ResolveApproval(
            approval_pb2.ResolveApprovalRequest(
                approval_id=action.approval_id,
                decision=approval_pb2.APPROVAL_DECISION_REJECT,
                reason="not now",
            )
        )
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_SUCCEEDED)
    return run.run_id


async def _client_tool_run(stubs: Stubs, agent_id: str, item: str, output: str, answer: str) -> str:
    """A run whose one client tool call the client answers with ``output``."""
    script: Script = [
        {"tool_calls": [{"name": "lookup", "arguments": {"id": item}}]},
        {"text": answer},
    ]
    await _agent(stubs, agent_id, script, agent_pb2.APPROVAL_MODE_AUTO)
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent_id,
                prompt=f"find {item}",
                client_tools=[run_pb2.ClientTool(name="lookup")],
            )
        )
    ).run
    run = await _until(stubs, run.run_id, run_pb2.RUN_STATE_REQUIRES_ACTION)
    await stubs.runs.SubmitToolOutputs(
        run_service_pb2.SubmitToolOutputsRequest(
            run_id=run.run_id,
            tool_outputs=[
                run_pb2.ToolOutput(tool_call_id=run.required_actions[0].tool_call_id, output=output)
            ],
        )
    )
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_SUCCEEDED)
    return run.run_id


async def client_tool(stubs: Stubs) -> str:
    return await _client_tool_run(stubs, "client-tool", "7", "item 7", "found it")


async def long_client_output(stubs: Stubs) -> str:
    """A long client tool output: the update's input is a claim."""
    return await _client_tool_run(
        stubs,
        "long-client-output",
        "8",
        "item 8: " + "a long description; " * 300,
        "found the long one",
    )


async def expired_then_cancelled(stubs: Stubs) -> str:
    script: Script = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]},
        {"tool_calls": [{"name": "echo", "arguments": {"text": "y"}}]},
    ]
    await _agent(
        stubs, "expire-cancel", script, agent_pb2.APPROVAL_MODE_REQUIRE_ALL, approval_timeout=1
    )
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id="expire-cancel", prompt="go")
        )
    ).run
    events = []
    async for response in stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run.run_id)
    ):
        events.append(response.event)
        if sum(1 for e in events if e.HasField("approval_requested")) == 2:
            break
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id, reason="enough"))
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_CANCELLED)
    return run.run_id


async def cancelled_mid_model(stubs: Stubs) -> str:
    """CancelRun while the model streams: the workflow stops the run, cancels
    the model activity and waits for it to stop, logs CANCELLING, ends CANCELLED."""
    script: Script = [
        {"text": "thinking " * 40, "tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]},
        {"text": "never said"},
    ]
    await _agent(stubs, "cancel-mid-model", script, agent_pb2.APPROVAL_MODE_AUTO, delay_ms=50)
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id="cancel-mid-model", prompt="go")
        )
    ).run
    async for response in stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run.run_id)
    ):
        if response.event.HasField("text_message_content"):
            break
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id, reason="stop"))
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_CANCELLED)
    return run.run_id


async def continued_as_new(stubs: Stubs) -> str:
    """12 tool turns on a thread: the run continues as new (the test dev server
    suggests it after 100 history events); its last execution is recorded: its
    input carries the conversation (a claim), then the thread append."""
    turns = 12
    script: Script = [
        {"text": f"turn {i}", "tool_calls": [{"name": "echo", "arguments": {"text": f"e{i}"}}]}
        for i in range(turns)
    ]
    script.append({"text": "all turns done"})
    await _agent(stubs, "continued", script, agent_pb2.APPROVAL_MODE_AUTO, max_iterations=turns + 1)
    await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id="continued"))
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id="continued", prompt="go", thread_id="continued"
            )
        )
    ).run
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_SUCCEEDED)
    return run.run_id


async def long_tool_result(stubs: Stubs) -> str:
    """A tool result kept out of history (a claimed activity result)."""
    script: Script = [
        {
            "tool_calls": [
                {"name": "calculator", "arguments": {"expression": "9**1000*9**1000*9**1000"}}
            ]
        },
        {"text": "a big number"},
    ]
    await _agent(stubs, "long-result", script, agent_pb2.APPROVAL_MODE_AUTO)
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id="long-result", prompt="compute")
        )
    ).run
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_SUCCEEDED)
    return run.run_id


async def paused_and_resumed(stubs: Stubs) -> str:
    """PauseRun while the run waits for an approval: once approved, the tool
    runs and the run pauses before its next model call (the pause signal, the
    wait); ResumeRun (the resume signal) lets it end SUCCEEDED."""
    script: Script = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "p"}}]},
        {"text": "resumed and done"},
    ]
    await _agent(stubs, "paused", script, agent_pb2.APPROVAL_MODE_REQUIRE_ALL)
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(run_service_pb2.CreateRunRequest(agent_id="paused", prompt="go"))
    ).run
    run = await _until_new_approvals(stubs, run.run_id, set(), 1)
    await stubs.runs.PauseRun(run_service_pb2.PauseRunRequest(run_id=run.run_id))
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=run.required_actions[0].approval_id,
            decision=approval_pb2.APPROVAL_DECISION_APPROVE,
        )
    )
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_PAUSED)
    await stubs.runs.ResumeRun(run_service_pb2.ResumeRunRequest(run_id=run.run_id))
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_SUCCEEDED)
    return run.run_id


async def sub_agents(stubs: Stubs) -> str:
    """A parent delegates to two sub-agents in parallel (two child workflows);
    one child waits for an approval of its tool call (announced in the
    parent's stream), then both end and the parent answers."""
    await _agent(stubs, "helper", [{"text": "helped"}], agent_pb2.APPROVAL_MODE_AUTO)
    child_script: Script = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "checked"}}]},
        {"text": "checked it"},
    ]
    await _agent(stubs, "checker", child_script, agent_pb2.APPROVAL_MODE_REQUIRE_ALL)
    script: Script = [
        {
            "tool_calls": [
                {"name": "helper", "arguments": {"prompt": "help"}},
                {"name": "checker", "arguments": {"prompt": "check"}},
            ]
        },
        {"text": "helped and checked"},
    ]
    await _agent(
        stubs, "delegator", script, agent_pb2.APPROVAL_MODE_AUTO, sub_agents=("helper", "checker")
    )
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id="delegator", prompt="go")
        )
    ).run
    async for response in stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run.run_id)
    ):
        if response.event.HasField("approval_requested"):
            approval_id = response.event.approval_requested.approval_id
            break
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        )
    )
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_SUCCEEDED)
    return run.run_id


async def sub_agent_cancelled(stubs: Stubs) -> str:
    """CancelRun of a parent whose child waits for an approval: the child
    workflow is cancelled and waited for, then the parent ends CANCELLED."""
    child_script: Script = [{"tool_calls": [{"name": "echo", "arguments": {"text": "w"}}]}]
    await _agent(stubs, "waiting-child", child_script, agent_pb2.APPROVAL_MODE_REQUIRE_ALL)
    script: Script = [
        {"tool_calls": [{"name": "waiting-child", "arguments": {"prompt": "wait"}}]},
        {"text": "never said"},
    ]
    await _agent(
        stubs,
        "cancelled-parent",
        script,
        agent_pb2.APPROVAL_MODE_AUTO,
        sub_agents=("waiting-child",),
    )
    run: run_pb2.Run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id="cancelled-parent", prompt="go")
        )
    ).run
    async for response in stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run.run_id)
    ):
        if response.event.HasField("approval_requested"):
            break
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id, reason="stop"))
    await _until(stubs, run.run_id, run_pb2.RUN_STATE_CANCELLED)
    return run.run_id


SCENARIOS: dict[str, Scenario] = {
    "approved_tool": approved_tool,
    "client_tool": client_tool,
    "long_client_output": long_client_output,
    "expired_then_cancelled": expired_then_cancelled,
    "cancelled_mid_model": cancelled_mid_model,
    "continued_as_new": continued_as_new,
    "long_tool_result": long_tool_result,
    "paused_and_resumed": paused_and_resumed,
    "sub_agents": sub_agents,
    "sub_agent_cancelled": sub_agent_cancelled,
}


def claim_keys(message: Message) -> Iterator[str]:
    """The claim keys of every reference payload inside ``message`` (depth first)."""
    if isinstance(message, Payload):
        if message.metadata.get("encoding") == CLAIM_ENCODING:
            yield message.data.decode()
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = list(value.values())
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        for item in values:
            if isinstance(item, Message):
                yield from claim_keys(item)


async def dump_claims(store: ClaimStore, keys: Iterator[str]) -> dict[str, str]:
    """``{key: base64 of the claimed payload}`` for ``keys``, read from ``store``."""
    claims = {}
    for key in keys:
        data = await store.load_claim(key)
        assert data is not None, f"claim {key} is not in the store"
        claims[key] = base64.b64encode(data).decode()
    return claims


async def main(names: list[str]) -> None:
    async with start_temporal() as address:
        settings = Settings(listen=["127.0.0.1:0"], temporal_address=address, log_level="WARNING")
        app = await Runwire.create(settings)
        server = RunwireServer(app, settings)
        (grpc_address,) = await server.start()
        stubs = Stubs.connect(grpc_address)
        client = await Client.connect(address)
        try:
            HERE.mkdir(parents=True, exist_ok=True)
            CLAIMS.mkdir(parents=True, exist_ok=True)
            for name in names:
                run_id = await SCENARIOS[name](stubs)
                await collect(
                    stubs.runs.StreamRunEvents(
                        run_service_pb2.StreamRunEventsRequest(run_id=run_id)
                    )
                )
                history = await client.get_workflow_handle(run_id).fetch_history()
                (HERE / f"{name}.json").write_text(history.to_json())
                keys = (key for event in history.events for key in claim_keys(event))
                claims = await dump_claims(app.stores.claims, keys)
                (CLAIMS / f"{name}.json").write_text(json.dumps(claims, indent=1, sort_keys=True))
                print(f"recorded {name}: {len(history.events)} events, {len(claims)} claims")
        finally:
            await stubs.channel.close()
            await server.stop(0)


if __name__ == "__main__":
    # ``python -m tests.replay.record [SCENARIO ...]``: all scenarios by default.
    asyncio.run(main(sys.argv[1:] or list(SCENARIOS)))
