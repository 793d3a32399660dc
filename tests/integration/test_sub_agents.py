"""Sub-agents (agent-as-tool, issue 16 item 1), on every runtime of the parity suite.

An agent lists agents it may delegate to (``Agent.sub_agents``); the model
sees each as a tool with one ``prompt`` argument. A call starts a child run of
that agent (in-process: a task of the same process; Temporal: a child
workflow) whose output is the tool result. The parent's stream logs
``sub_run_started`` and ``sub_run_finished``, and announces the child's
approvals (``approval_requested``/``approval_resolved`` with the child's
``run_id``), so one subscriber sees everything waiting for a human. Runs carry
their place in the tree (``parent_run_id``, ``root_run_id``, ``depth``),
``limits.max_sub_agent_depth`` bounds it (a tool error past it), cycles are
refused when agents are written, and cancelling a parent cancels its children.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import runwire
from rich.console import Console
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2

from runwire_server.app.render import Renderer
from runwire_server.app.server import RunwireServer
from tests.support import (
    PARITY_TOKEN,
    Script,
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    events_until,
    kinds,
    run_until,
    status_details,
    unique,
)
from tests.tools_for_tests import STAMPS


def _calls(*calls: tuple[str, str]) -> dict[str, Any]:
    """A scripted turn calling each (tool, prompt) of ``calls`` in parallel."""
    return {"tool_calls": [{"name": name, "arguments": {"prompt": p}} for name, p in calls]}


async def _with_sub_agents(
    stubs: Stubs, agent: agent_pb2.Agent, *subs: agent_pb2.SubAgent, max_depth: int = 0
) -> agent_pb2.Agent:
    """``agent`` updated to delegate to ``subs`` (and with ``max_depth``, if set)."""
    agent.sub_agents.extend(subs)
    paths = ["sub_agents"]
    if max_depth:
        agent.limits.max_sub_agent_depth = max_depth
        paths.append("limits.max_sub_agent_depth")
    response = await stubs.agents.UpdateAgent(
        agent_pb2.UpdateAgentRequest(
            agent=agent,
            update_mask={"paths": paths},
        )
    )
    updated: agent_pb2.Agent = response.agent
    return updated


async def _start(stubs: Stubs, agent_id: str, prompt: str = "delegate") -> str:
    response = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent_id, prompt=prompt)
    )
    run_id: str = response.run.run_id
    return run_id


async def _get(stubs: Stubs, run_id: str) -> run_pb2.Run:
    response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))
    run: run_pb2.Run = response.run
    return run


async def _all_events(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    """Every event of an ended run."""
    return await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
    )


def _started(events: list[event_pb2.RunEvent]) -> list[event_pb2.SubRunStarted]:
    return [e.sub_run_started for e in events if e.HasField("sub_run_started")]


def _finished(events: list[event_pb2.RunEvent]) -> list[event_pb2.SubRunFinished]:
    return [e.sub_run_finished for e in events if e.HasField("sub_run_finished")]


def _results(events: list[event_pb2.RunEvent]) -> dict[str, event_pb2.ToolCallResult]:
    return {
        e.tool_call_result.tool_call_id: e.tool_call_result
        for e in events
        if e.HasField("tool_call_result")
    }


def _child_approval(events: list[event_pb2.RunEvent]) -> bool:
    return any(e.HasField("approval_requested") and e.approval_requested.run_id for e in events)


async def _approve(stubs: Stubs, approval_id: str) -> None:
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        )
    )


async def _check_children(
    stubs: Stubs, run_id: str, finished: list[event_pb2.SubRunFinished]
) -> None:
    """Each child is a normal run, linked to its parent ``run_id`` (the root); usage rolls up."""
    children_tokens = 0
    for sub in finished:
        run = await _get(stubs, sub.child_run_id)
        assert (run.parent_run_id, run.root_run_id, run.depth) == (run_id, run_id, 1)
        assert run.state == run_pb2.RUN_STATE_SUCCEEDED
        assert run.output == sub.output
        assert run.usage.total_tokens == sub.usage.total_tokens > 0
        children_tokens += run.usage.total_tokens
        child_events = await _all_events(stubs, sub.child_run_id)
        assert_gap_free(child_events)
        assert child_events[0].HasField("run_started")
        assert child_events[0].run_started.agent_id == sub.agent_id
    root = await _get(stubs, run_id)
    assert (root.parent_run_id, root.root_run_id, root.depth) == ("", run_id, 0)
    assert root.usage.total_tokens > children_tokens


async def test_parallel_delegation_with_a_child_approval(stubs: Stubs) -> None:
    """The parent delegates to two sub-agents at once; one of them waits for an
    approval, which the parent's stream announces; both outputs come back as
    tool results, and the usage of both rolls up into the parent's."""
    key = unique("sub-stamp")
    writer = await create_agent(stubs, [{"text": "the poem is written"}])
    stamper = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "stamp", "arguments": {"key": key}}]}, {"text": "stamped it"}],
        tools=["stamp"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    script: Script = [
        _calls(("writer", "write a poem"), ("stamper", "stamp the poem")),
        {"text": "all done"},
    ]
    parent = await create_agent(stubs, script)
    parent = await _with_sub_agents(
        stubs,
        parent,
        agent_pb2.SubAgent(agent_id=writer.agent_id, tool_name="writer", description="Writes."),
        agent_pb2.SubAgent(agent_id=stamper.agent_id, tool_name="stamper"),
    )
    run_id = await _start(stubs, parent.agent_id)

    waiting = await events_until(stubs, run_id, _child_approval, "a child's approval")
    (requested,) = [e.approval_requested for e in waiting if e.HasField("approval_requested")]
    started = {s.agent_id: s for s in _started(waiting)}
    assert set(started) == {writer.agent_id, stamper.agent_id}, kinds(waiting)
    stamper_run = started[stamper.agent_id].child_run_id
    assert requested.run_id == stamper_run
    assert requested.tool_name == "stamp"
    # The approval is the child's: its record and its run say so; the parent
    # does not wait for it itself.
    approval = (
        await stubs.approvals.GetApproval(
            approval_pb2.GetApprovalRequest(approval_id=requested.approval_id)
        )
    ).approval
    assert approval.run_id == stamper_run
    assert approval.agent_id == stamper.agent_id
    assert not (await _get(stubs, run_id)).required_actions
    child = await run_until(
        stubs, stamper_run, lambda r: bool(r.required_actions), "waiting for its approval"
    )
    assert child.required_actions[0].approval_id == requested.approval_id
    assert not STAMPS[key]

    await _approve(stubs, requested.approval_id)
    events = await _all_events(stubs, run_id)
    assert_gap_free(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, kinds(events)
    assert events[-1].run_finished.output == "all done"
    assert len(STAMPS[key]) == 1
    (resolved,) = [e.approval_resolved for e in events if e.HasField("approval_resolved")]
    assert resolved.run_id == stamper_run
    assert resolved.state == approval_pb2.APPROVAL_STATE_APPROVED

    finished = {f.agent_id: f for f in _finished(events)}
    assert set(finished) == {writer.agent_id, stamper.agent_id}
    assert all(f.state == run_pb2.RUN_STATE_SUCCEEDED for f in finished.values())
    assert finished[writer.agent_id].output == "the poem is written"
    assert finished[stamper.agent_id].output == "stamped it"
    results = _results(events)
    for agent_id, output in (
        (writer.agent_id, "the poem is written"),
        (stamper.agent_id, "stamped it"),
    ):
        result = results[finished[agent_id].tool_call_id]
        assert (result.content, result.is_error) == (output, False)

    await _check_children(stubs, run_id, list(finished.values()))
    # The child's own stream has its approval without a run_id (it is its own).
    child_events = await _all_events(stubs, stamper_run)
    (own,) = [e.approval_requested for e in child_events if e.HasField("approval_requested")]
    assert own.approval_id == requested.approval_id and not own.run_id


async def test_the_parent_policy_covers_the_delegation(stubs: Stubs) -> None:
    """A delegation waits for the parent's approval like any tool call; rejected,
    no child run starts and the model sees the rejection."""
    helper = await create_agent(stubs, [{"text": "helped"}])
    parent = await create_agent(
        stubs,
        [_calls(("helper", "help")), {"text": "gave up"}],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    parent = await _with_sub_agents(
        stubs, parent, agent_pb2.SubAgent(agent_id=helper.agent_id, tool_name="helper")
    )
    run_id = await _start(stubs, parent.agent_id)
    waiting = await events_until(
        stubs,
        run_id,
        lambda es: any(e.HasField("approval_requested") for e in es),
        "the delegation's approval",
    )
    (requested,) = [e.approval_requested for e in waiting if e.HasField("approval_requested")]
    assert requested.tool_name == "helper" and not requested.run_id
    assert '"prompt"' in requested.arguments
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=requested.approval_id,
            decision=approval_pb2.APPROVAL_DECISION_REJECT,
            reason="not now",
        )
    )
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.output == "gave up", kinds(events)
    assert not _started(events)
    (result,) = _results(events).values()
    assert result.is_error and "not now" in result.content


async def test_depth_cap_is_a_tool_error(stubs: Stubs) -> None:
    """With ``max_sub_agent_depth`` 1, the child may not delegate again: its
    call fails as a tool error its model sees, and the runs go on."""
    leaf = await create_agent(stubs, [{"text": "leaf answer"}])
    middle = await create_agent(stubs, [_calls(("leaf", "go deeper")), {"text": "middle answer"}])
    middle = await _with_sub_agents(
        stubs, middle, agent_pb2.SubAgent(agent_id=leaf.agent_id, tool_name="leaf")
    )
    root = await create_agent(stubs, [_calls(("middle", "delegate")), {"text": "root answer"}])
    root = await _with_sub_agents(
        stubs,
        root,
        agent_pb2.SubAgent(agent_id=middle.agent_id, tool_name="middle"),
        max_depth=1,
    )
    run_id = await _start(stubs, root.agent_id)
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.output == "root answer", kinds(events)
    (sub,) = _finished(events)
    assert sub.state == run_pb2.RUN_STATE_SUCCEEDED
    assert sub.output == "middle answer"
    middle_events = await _all_events(stubs, sub.child_run_id)
    assert not _started(middle_events)  # no grandchild
    (result,) = _results(middle_events).values()
    assert result.is_error and "depth" in result.content, result.content

    # With the default depth (2) the same tree goes one level deeper.
    root2 = await create_agent(stubs, [_calls(("middle", "delegate")), {"text": "root answer"}])
    root2 = await _with_sub_agents(
        stubs, root2, agent_pb2.SubAgent(agent_id=middle.agent_id, tool_name="middle")
    )
    run2 = await _start(stubs, root2.agent_id)
    events2 = await _all_events(stubs, run2)
    (sub2,) = _finished(events2)
    middle_events2 = await _all_events(stubs, sub2.child_run_id)
    (grandchild,) = _finished(middle_events2)
    assert grandchild.state == run_pb2.RUN_STATE_SUCCEEDED
    assert grandchild.output == "leaf answer"
    leaf_run = await _get(stubs, grandchild.child_run_id)
    assert (leaf_run.parent_run_id, leaf_run.root_run_id, leaf_run.depth) == (
        sub2.child_run_id,
        run2,
        2,
    )


async def test_grandchild_approvals_reach_the_root_stream(stubs: Stubs) -> None:
    key = unique("grand-stamp")
    leaf = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "stamp", "arguments": {"key": key}}]}, {"text": "leaf done"}],
        tools=["stamp"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    middle = await create_agent(stubs, [_calls(("leaf", "stamp")), {"text": "middle done"}])
    middle = await _with_sub_agents(
        stubs, middle, agent_pb2.SubAgent(agent_id=leaf.agent_id, tool_name="leaf")
    )
    root = await create_agent(stubs, [_calls(("middle", "go")), {"text": "root done"}])
    root = await _with_sub_agents(
        stubs, root, agent_pb2.SubAgent(agent_id=middle.agent_id, tool_name="middle")
    )
    run_id = await _start(stubs, root.agent_id)
    waiting = await events_until(stubs, run_id, _child_approval, "the grandchild's approval")
    (requested,) = [e.approval_requested for e in waiting if e.HasField("approval_requested")]
    leaf_run = await _get(stubs, requested.run_id)
    assert leaf_run.agent_id == leaf.agent_id and leaf_run.depth == 2
    await _approve(stubs, requested.approval_id)
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.output == "root done", kinds(events)
    assert len(STAMPS[key]) == 1


async def test_cancelling_the_parent_cancels_its_children(stubs: Stubs) -> None:
    key = unique("cancel-stamp")
    waiter = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "stamp", "arguments": {"key": key}}]}, {"text": "never"}],
        tools=["stamp"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    parent = await create_agent(stubs, [_calls(("waiter", "wait")), {"text": "never"}])
    parent = await _with_sub_agents(
        stubs, parent, agent_pb2.SubAgent(agent_id=waiter.agent_id, tool_name="waiter")
    )
    run_id = await _start(stubs, parent.agent_id)
    waiting = await events_until(stubs, run_id, _child_approval, "the child's approval")
    (requested,) = [e.approval_requested for e in waiting if e.HasField("approval_requested")]
    child_id = requested.run_id

    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run_id, reason="enough"))
    parent_run = await run_until(
        stubs, run_id, lambda r: r.state == run_pb2.RUN_STATE_CANCELLED, "cancelled"
    )
    child = await run_until(
        stubs, child_id, lambda r: r.state == run_pb2.RUN_STATE_CANCELLED, "cancelled"
    )
    assert child.end_time.ToNanoseconds() <= parent_run.end_time.ToNanoseconds()
    approval = (
        await stubs.approvals.GetApproval(
            approval_pb2.GetApprovalRequest(approval_id=requested.approval_id)
        )
    ).approval
    assert approval.state == approval_pb2.APPROVAL_STATE_CANCELLED
    assert not STAMPS[key]
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    closed = [e.approval_resolved for e in events if e.HasField("approval_resolved")]
    assert [(c.run_id, c.state) for c in closed] == [
        (child_id, approval_pb2.APPROVAL_STATE_CANCELLED)
    ]


async def test_cancelling_a_child_alone_is_a_tool_error(stubs: Stubs) -> None:
    """CancelRun of a child ends only the child; its parent's model sees a tool error."""
    waiter = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "stamp", "arguments": {"key": unique("k")}}]}],
        tools=["stamp"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    parent = await create_agent(stubs, [_calls(("waiter", "wait")), {"text": "went on"}])
    parent = await _with_sub_agents(
        stubs, parent, agent_pb2.SubAgent(agent_id=waiter.agent_id, tool_name="waiter")
    )
    run_id = await _start(stubs, parent.agent_id)
    waiting = await events_until(stubs, run_id, _child_approval, "the child's approval")
    (requested,) = [e.approval_requested for e in waiting if e.HasField("approval_requested")]
    await stubs.runs.CancelRun(
        run_service_pb2.CancelRunRequest(run_id=requested.run_id, reason="not this one")
    )
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.output == "went on", kinds(events)
    (sub,) = _finished(events)
    assert sub.state == run_pb2.RUN_STATE_CANCELLED
    (result,) = _results(events).values()
    assert result.is_error and "CANCELLED" in result.content, result.content


async def test_a_failed_child_is_a_tool_error(stubs: Stubs) -> None:
    """A child run that fails (here: its budget) is a tool error the parent's
    model sees, with the child's error in ``sub_run_finished``."""
    failing = await create_agent(stubs, [{"text": "x" * 400}], token_budget=10)
    parent = await create_agent(stubs, [_calls(("failing", "try")), {"text": "coped"}])
    parent = await _with_sub_agents(
        stubs, parent, agent_pb2.SubAgent(agent_id=failing.agent_id, tool_name="failing")
    )
    run_id = await _start(stubs, parent.agent_id)
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.output == "coped", kinds(events)
    (sub,) = _finished(events)
    assert sub.state == run_pb2.RUN_STATE_FAILED
    assert sub.error.code != 0
    (result,) = _results(events).values()
    assert result.is_error and "FAILED" in result.content


async def _refused(stubs: Stubs, agent: agent_pb2.Agent, *, create: str = "") -> dict[str, str]:
    """The field violations of a refused CreateAgent (``create``: the new id) or UpdateAgent."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        if create:
            await stubs.agents.CreateAgent(
                agent_pb2.CreateAgentRequest(agent_id=create, agent=agent)
            )
        else:
            await stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=agent))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return status_details(caught.value).field_violations


async def test_sub_agents_are_checked_when_agents_are_written(stubs: Stubs) -> None:
    """Unknown agents, duplicate tool names and cycles are refused."""
    a = await create_agent(stubs, [{"text": "a"}], tools=["stamp"])
    b = await create_agent(stubs)
    b = await _with_sub_agents(stubs, b, agent_pb2.SubAgent(agent_id=a.agent_id))
    c = await create_agent(stubs)
    c = await _with_sub_agents(stubs, c, agent_pb2.SubAgent(agent_id=b.agent_id))

    # a -> c would close the loop a -> c -> b -> a.
    cyclic = agent_pb2.Agent()
    cyclic.CopyFrom(a)
    cyclic.sub_agents.add(agent_id=c.agent_id)
    violations = await _refused(stubs, cyclic)
    assert "cycle" in violations["agent.sub_agents[0].agent_id"], violations
    assert b.agent_id in violations["agent.sub_agents[0].agent_id"]

    itself = agent_pb2.Agent()
    itself.CopyFrom(c)
    itself.sub_agents.add(agent_id=c.agent_id, tool_name="me")
    assert "itself" in (await _refused(stubs, itself))["agent.sub_agents[1].agent_id"]

    new_id = unique("agent")
    fresh = agent_pb2.Agent()
    fresh.CopyFrom(a)
    fresh.ClearField("agent_id")
    fresh.sub_agents.add(agent_id="no-such-agent")
    fresh.sub_agents.add(agent_id=b.agent_id, tool_name="stamp")  # a tool of the agent
    fresh.sub_agents.add(agent_id=c.agent_id, tool_name="stamp")
    violations = await _refused(stubs, fresh, create=new_id)
    assert "unknown agent" in violations["agent.sub_agents[0].agent_id"], violations
    assert "taken" in violations["agent.sub_agents[1].tool_name"]
    assert "taken" in violations["agent.sub_agents[2].tool_name"]

    # The default tool name comes from the agent id.
    response = await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=c.agent_id))
    assert [s.agent_id for s in response.agent.sub_agents] == [b.agent_id]


async def test_the_tool_listing_shows_sub_agents(stubs: Stubs) -> None:
    """ListAgentTools lists each sub-agent as the model is offered it: last,
    with the ``prompt`` schema, its description (by default the sub-agent's
    own) and whether a call waits for an approval under the parent's policy."""
    described = await create_agent(stubs)
    plain = await create_agent(stubs)
    parent = await create_agent(
        stubs,
        tools=["stamp"],
        mode=agent_pb2.APPROVAL_MODE_ALLOWLIST,
        auto_approved=["researcher"],
    )
    await stubs.agents.UpdateAgent(
        agent_pb2.UpdateAgentRequest(
            agent=agent_pb2.Agent(agent_id=described.agent_id, description="Knows things."),
            update_mask={"paths": ["description"]},
        )
    )
    await _with_sub_agents(
        stubs,
        parent,
        agent_pb2.SubAgent(agent_id=described.agent_id, tool_name="researcher"),
        agent_pb2.SubAgent(agent_id=plain.agent_id, description="Writes things."),
    )
    response = await stubs.agents.ListAgentTools(
        agent_pb2.ListAgentToolsRequest(agent_id=parent.agent_id)
    )
    rows = {t.name: t for t in response.tools}
    assert [t.name for t in response.tools] == ["stamp", "researcher", plain.agent_id]
    researcher, writer = rows["researcher"], rows[plain.agent_id]
    for row, agent_id in ((researcher, described.agent_id), (writer, plain.agent_id)):
        assert row.source == agent_pb2.TOOL_SOURCE_SUB_AGENT
        assert row.sub_agent_id == agent_id
        assert dict(row.parameters) == {
            "type": "object",
            "properties": {"prompt": {"type": "string"}},
            "required": ["prompt"],
        }
    assert (researcher.description, researcher.requires_approval) == ("Knows things.", False)
    assert (writer.description, writer.requires_approval) == ("Writes things.", True)


def test_the_renderer_shows_sub_agent_runs() -> None:
    """``runwire run`` prints a delegation's child run, its announced approval
    and its end."""
    console = Console(record=True, width=120, color_system=None)
    renderer = Renderer(console)
    usage = run_pb2.Usage(input_tokens=30, output_tokens=12, total_tokens=42)
    events = [
        event_pb2.RunEvent(
            sub_run_started=event_pb2.SubRunStarted(
                child_run_id="run_child", agent_id="researcher", tool_call_id="call_1_0"
            )
        ),
        event_pb2.RunEvent(
            approval_resolved=event_pb2.ApprovalResolved(
                approval_id="apr_1",
                state=approval_pb2.APPROVAL_STATE_APPROVED,
                resolved_by="alice",
                run_id="run_child",
            )
        ),
        event_pb2.RunEvent(
            sub_run_finished=event_pb2.SubRunFinished(
                child_run_id="run_child",
                agent_id="researcher",
                state=run_pb2.RUN_STATE_SUCCEEDED,
                output="found it",
                usage=usage,
            )
        ),
        event_pb2.RunEvent(
            sub_run_finished=event_pb2.SubRunFinished(
                child_run_id="run_other",
                agent_id="writer",
                state=run_pb2.RUN_STATE_CANCELLED,
            )
        ),
    ]
    for event in events:
        renderer.render(event)
    assert console.export_text().splitlines() == [
        "⇢ sub-agent researcher runs as run_child",
        "  approved (sub-agent run run_child) by alice",
        "⇠ sub-agent researcher SUCCEEDED · tokens 42",
        "⇠ sub-agent writer CANCELLED · tokens 0",
    ]


async def test_a_client_stream_opened_late_answers_a_childs_pending_approval(
    stubs: Stubs, server: RunwireServer, runtime: str
) -> None:
    """The Python client's ``on_approval`` answers a sub-agent's approval that the
    parent's history announced before the stream opened (the parent's own
    required_actions do not list it; the approval's record says it is pending)."""
    if runtime != "in_process":
        pytest.skip("the client's history check is the same on every runtime")
    key = unique("late-stamp")
    stamper = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "stamp", "arguments": {"key": key}}]}, {"text": "stamped"}],
        tools=["stamp"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    parent = await create_agent(stubs, [_calls(("stamper", "stamp it")), {"text": "done"}])
    parent = await _with_sub_agents(
        stubs, parent, agent_pb2.SubAgent(agent_id=stamper.agent_id, tool_name="stamper")
    )
    run_id = await _start(stubs, parent.agent_id)
    await events_until(stubs, run_id, _child_approval, "a child's approval")
    async with runwire.connect_async(server.addresses[0], token=PARITY_TOKEN, tls=False) as client:
        ended = await client.runs.handle(run_id).events(on_approval=lambda _: True).result()
    assert ended.state == run_pb2.RUN_STATE_SUCCEEDED
    assert len(STAMPS[key]) == 1
