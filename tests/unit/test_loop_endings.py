"""How a run ends: every row of the loop's failure table, cancellation and success.

``execute_run`` is driven through ``RecordingEffects``, a test double of the
``Effects`` seam (``runwire_server.service.agent.effects``) whose model call is whatever a
test gives it; the events the loop emits are recorded and the terminal one is
checked field by field (finish reason, ``google.rpc`` code, ``ErrorInfo``).
The integration suites pin the same endings end to end on both runtimes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from google.rpc import code_pb2, error_details_pb2
from runwire.v1 import event_pb2, run_pb2

from runwire_server.service.agent.effects import ModelTurn, SubRunOutcome, ToolResult
from runwire_server.service.agent.loop import execute_run
from runwire_server.service.core.errors import ERROR_DOMAIN, NotFoundError
from runwire_server.service.core.messages import ChatMessage, Role, Usage
from runwire_server.service.core.spec import Decision, LoopCheckpoint, RunSpec, ToolOutput
from runwire_server.service.llm.base import ModelError, ModelRequest

ModelCall = Callable[[ModelRequest], Awaitable[ModelTurn]]


class RecordingEffects:
    """``Effects`` that records events and answers model calls with ``model``."""

    def pause_requested(self) -> bool:
        return False

    async def wait_resumed(self) -> None:
        raise AssertionError("no test pauses")

    async def run_sub_run(self, spec: RunSpec) -> SubRunOutcome:
        raise AssertionError("no sub-agents here")

    def __init__(self, model: ModelCall) -> None:
        self.model = model
        self.events: list[event_pb2.RunEvent] = []
        self._ids = itertools.count(1)

    async def emit(self, event: event_pb2.RunEvent) -> None:
        self.events.append(event)

    async def call_model(self, request: ModelRequest, *, message_id: str) -> ModelTurn:
        return await self.model(request)

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        raise AssertionError("no test offers tools")

    async def wait_approval(self, approval_id: str, *, timeout_seconds: float) -> Decision | None:
        raise AssertionError("no test offers tools")

    async def wait_tool_output(self, tool_call_id: str) -> ToolOutput:
        raise AssertionError("no test offers tools")

    async def append_to_thread(self, thread_id: str, messages: list[ChatMessage]) -> None:
        return None

    async def checkpoint(self, checkpoint: LoopCheckpoint, messages: list[ChatMessage]) -> None:
        return None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):032x}"


def spec(**changes: Any) -> RunSpec:
    return RunSpec(run_id="run_1", agent_id="agent_1", prompt="hi", provider="test", **changes)


def answer(text: str, tokens: int = 2) -> ModelCall:
    async def model(request: ModelRequest) -> ModelTurn:
        return ModelTurn(
            message=ChatMessage(role=Role.ASSISTANT, content=text),
            usage=Usage(input_tokens=tokens // 2, output_tokens=tokens - tokens // 2),
        )

    return model


def failing(error: BaseException) -> ModelCall:
    async def model(request: ModelRequest) -> ModelTurn:
        raise error

    return model


async def run_error(
    model: ModelCall, **changes: Any
) -> tuple[event_pb2.RunError, error_details_pb2.ErrorInfo]:
    """Runs to the end; the terminal ``run_error`` and its ``ErrorInfo``."""
    fx = RecordingEffects(model)
    assert await execute_run(spec(**changes), fx) == run_pb2.RUN_STATE_FAILED
    assert fx.events[-1].WhichOneof("payload") == "run_error"
    failed = fx.events[-1].run_error
    assert len(failed.error.details) == 1
    info = error_details_pb2.ErrorInfo()
    assert failed.error.details[0].Unpack(info)
    assert info.domain == ERROR_DOMAIN and info.metadata["run_id"] == "run_1"
    return failed, info


async def test_a_final_answer_succeeds_with_stop() -> None:
    fx = RecordingEffects(answer("hello"))
    assert await execute_run(spec(), fx) == run_pb2.RUN_STATE_SUCCEEDED
    finished = fx.events[-1].run_finished
    assert (finished.state, finished.output, finished.finish_reason) == (
        run_pb2.RUN_STATE_SUCCEEDED,
        "hello",
        "stop",
    )


async def test_timeout_ends_with_deadline_exceeded() -> None:
    async def slow(request: ModelRequest) -> ModelTurn:
        await asyncio.Event().wait()  # never set: only the run timeout ends it
        raise AssertionError("unreachable")

    failed, info = await run_error(slow, timeout_seconds=0.05)
    assert (failed.finish_reason, failed.error.code) == ("timeout", code_pb2.DEADLINE_EXCEEDED)
    assert info.reason == "RUN_TIMEOUT"
    assert failed.error.message == "the run did not finish within its timeout of 0.05 s"


async def test_token_budget_ends_with_resource_exhausted() -> None:
    failed, info = await run_error(answer("long", tokens=30), token_budget=10)
    assert failed.finish_reason == "budget_exceeded"
    assert failed.error.code == code_pb2.RESOURCE_EXHAUSTED
    assert info.reason == "TOKEN_BUDGET_EXCEEDED"
    assert dict(info.metadata) == {"run_id": "run_1", "used_tokens": "30", "token_budget": "10"}
    assert failed.error.message == "the run used 30 tokens, over its budget of 10"
    assert failed.usage.total_tokens == 30


async def test_an_answer_off_the_schema_twice_fails_the_precondition() -> None:
    failed, info = await run_error(answer("not json"), response_format={"type": "object"})
    assert (failed.finish_reason, failed.error.code) == ("error", code_pb2.FAILED_PRECONDITION)
    assert info.reason == "OUTPUT_SCHEMA_MISMATCH"
    assert failed.error.message.startswith("the final answer does not match response_format")


@pytest.mark.parametrize(
    ("retryable", "code", "reason"),
    [
        (True, code_pb2.UNAVAILABLE, "PROVIDER_UNAVAILABLE"),
        (False, code_pb2.FAILED_PRECONDITION, "MODEL_ERROR"),
    ],
)
async def test_model_errors_keep_their_reason_and_metadata(
    retryable: bool, code: int, reason: str
) -> None:
    error = ModelError("test: down", provider="test", retryable=retryable, status_code=503)
    failed, info = await run_error(failing(error))
    assert (failed.finish_reason, failed.error.code) == ("error", code)
    assert (info.reason, failed.error.message) == (reason, "test: down")
    assert dict(info.metadata) == {"run_id": "run_1", "provider": "test", "http_status": "503"}


async def test_other_runwire_errors_are_internal_with_their_reason() -> None:
    error = NotFoundError("thread gone", reason="THREAD_NOT_FOUND", metadata={"thread_id": "t"})
    failed, info = await run_error(failing(error))
    assert (failed.finish_reason, failed.error.code) == ("error", code_pb2.INTERNAL)
    assert (info.reason, failed.error.message) == ("THREAD_NOT_FOUND", "thread gone")
    assert dict(info.metadata) == {"run_id": "run_1"}


async def test_unexpected_exceptions_are_internal_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed, info = await run_error(failing(KeyError("boom")))
    assert (failed.finish_reason, failed.error.code) == ("error", code_pb2.INTERNAL)
    assert info.reason == "RUN_FAILED"
    assert failed.error.message == "the run failed unexpectedly; the server log has the details"
    assert "boom" not in failed.error.message
    [record] = [r for r in caplog.records if r.name == "runwire_server.service.agent.loop"]
    assert record.getMessage() == "run run_1 failed unexpectedly"
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


async def test_cancellation_finishes_cancelled_and_propagates() -> None:
    started = asyncio.Event()

    async def waiting(request: ModelRequest) -> ModelTurn:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    fx = RecordingEffects(waiting)
    task = asyncio.create_task(execute_run(spec(), fx))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    finished = fx.events[-1].run_finished
    assert (finished.state, finished.finish_reason) == (run_pb2.RUN_STATE_CANCELLED, "cancelled")
