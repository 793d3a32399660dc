"""Recorded ``runwire.AgentRun`` histories must replay on today's workflow code.

Versioning policy (``docs/temporal.md``): nothing is released yet, so a
workflow change may re-record these histories (``python -m tests.replay.record``).
From the first tagged release on, a failure here means a change to the workflow
(or to the shared loop it runs) is not deterministic for runs in flight: guard
it with ``workflow.patched()`` or ship it as a new workflow version instead.

Histories hold claim references where the claim-check codec kept a payload
out of them; the claims recorded beside them (``claims/``) are loaded into a
memory claim store, so replay decodes them as a worker would.
"""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from runwire_server.service.runtimes.payload_codec import CLAIM_ENCODING, claim_check_converter
from runwire_server.service.stores.claims import MemoryClaimStore
from runwire_server.worker.factory import PASSTHROUGH_MODULES
from runwire_server.worker.workflows import AgentRun

HERE = pathlib.Path(__file__).parent
HISTORIES = sorted((HERE / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "approved_tool",
        "client_tool",
        "long_client_output",
        "expired_then_cancelled",
        "continued_as_new",
        "long_tool_result",
        "paused_and_resumed",
        "sub_agents",
        "sub_agent_cancelled",
    }
    assert {p.stem for p in HISTORIES} == {p.stem for p in (HERE / "claims").glob("*.json")}


async def _claims(name: str) -> MemoryClaimStore:
    """A claim store holding the claims recorded with history ``name``."""
    store = MemoryClaimStore()
    raw = (HERE / "claims" / f"{name}.json").read_text()
    for key, data in json.loads(raw).items():
        await store.save_claim(key, base64.b64decode(data))
    return store


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
        data_converter=claim_check_converter(await _claims(path.stem)),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
        ),
    )
    result = await replayer.replay_workflow(
        WorkflowHistory.from_json(workflow_id, raw), raise_on_replay_failure=True
    )
    assert result.replay_failure is None


def test_the_histories_hold_claims() -> None:
    """The recorded runs exercise the codec: the long tool result, the long
    client output and the continued conversation are claimed, not inline."""
    for name in ("long_tool_result", "long_client_output", "continued_as_new"):
        claims = json.loads((HERE / "claims" / f"{name}.json").read_text())
        assert claims, f"{name} has no claims"
        # History JSON carries payload metadata in base64.
        encoding = base64.b64encode(CLAIM_ENCODING).decode()
        assert encoding in (HERE / "histories" / f"{name}.json").read_text()
