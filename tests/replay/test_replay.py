"""Recorded ``runwire.AgentRun`` histories must replay on today's workflow code.

A failure here means a change to the workflow (or to the shared loop it runs)
is not deterministic for runs already in flight: guard it with
``workflow.patched()`` instead of changing behaviour in place. Histories are
recorded by ``python -m tests.replay.record``.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from worker.factory import PASSTHROUGH_MODULES
from worker.workflows import AgentRun

HISTORIES = sorted((pathlib.Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "approved_tool",
        "client_tool",
        "expired_then_cancelled",
        "continued_as_new",
        "long_tool_result",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: pathlib.Path) -> None:
    raw = path.read_text()  # noqa: ASYNC240 - a small fixture file
    workflow_id = (
        json.loads(raw)["events"][0]["workflowExecutionStartedEventAttributes"]["workflowId"]
        if "workflowId" in raw
        else path.stem
    )
    replayer = Replayer(
        workflows=[AgentRun],
        data_converter=pydantic_data_converter,
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
        ),
    )
    result = await replayer.replay_workflow(
        WorkflowHistory.from_json(workflow_id, raw), raise_on_replay_failure=True
    )
    assert result.replay_failure is None
