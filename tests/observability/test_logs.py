"""Logs: every line about a run carries its run id and agent id, on every
runtime, also lines of code that knows nothing of runs (a tool's library)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from runwire.v1 import run_pb2, run_service_pb2

from runwire_server.service.core.logs import (
    JsonFormatter,
    RunContextFilter,
    TextFormatter,
    run_context,
)
from tests.support import PARITY_PRINCIPAL, PARITY_TENANT, Stubs, collect, create_agent


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """JSON log lines of every record at INFO or above, as ``configure_logging`` sets them up."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RunContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _records(out: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_library_lines_inside_a_run_carry_its_ids(
    stubs: Stubs, json_lines: io.StringIO
) -> None:
    marker = f"library line {uuid.uuid4().hex[:8]}"
    script = [{"tool_calls": [{"name": "log_line", "arguments": {"message": marker}}]}]
    agent = await create_agent(stubs, [*script, {"text": "logged it"}], tools=["log_line"])
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    run_id = events[-1].run_id
    (line,) = [r for r in _records(json_lines) if r["message"] == marker]
    assert line["logger"] == "tests.library"
    assert line["run_id"] == run_id
    assert line["agent_id"] == agent.agent_id


async def test_a_run_names_who_started_it_in_the_log(stubs: Stubs, json_lines: io.StringIO) -> None:
    agent = await create_agent(stubs, [{"text": "hello"}])
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    run_id = events[-1].run_id
    (line,) = [
        r for r in _records(json_lines) if r["message"] == "run created" and r["run_id"] == run_id
    ]
    assert (line["principal"], line["tenant"]) == (PARITY_PRINCIPAL, PARITY_TENANT)


def test_run_context_fills_only_missing_ids() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with run_context("run_1", "agent_1"):
        assert RunContextFilter().filter(record)
    assert TextFormatter().format(record).endswith("hello run_id=run_1 agent_id=agent_1")
    own = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    own.run_id = "run_2"
    with run_context("run_1"):
        RunContextFilter().filter(own)
    assert getattr(own, "run_id", None) == "run_2"
    assert not hasattr(own, "agent_id")
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    RunContextFilter().filter(outside)
    assert not hasattr(outside, "run_id")
