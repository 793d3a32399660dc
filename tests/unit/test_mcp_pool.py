"""``McpPool`` against the test MCP server over stdio: listing, calls with the tool
context, errors as outcomes, crash and reconnection, redaction, status listeners."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import AsyncIterator

import pytest

from runwire_server.service.tools.context import ToolContext
from runwire_server.service.tools.mcp import (
    McpPool,
    McpServerConfig,
    McpServerStatus,
    McpState,
    _Redactor,
)
from runwire_server.service.tools.registry import ToolRegistry
from tests.support import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]


def local(name: str = "local", **extra: object) -> McpServerConfig:
    return McpServerConfig(
        name=name,
        transport="stdio",
        command=sys.executable,
        args=("-m", "tests.mcp_servers", "stdio"),
        cwd=ROOT,
        env={"MCP_TEST_SECRET": "pool-secret"},
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def pool() -> AsyncIterator[McpPool]:
    mcp = McpPool([local(deny_tools=("hidden",))])
    seen: list[McpServerStatus] = []

    async def note(status: McpServerStatus) -> None:
        seen.append(status)

    mcp.listen(note)
    await mcp.start()
    mcp.seen = seen  # type: ignore[attr-defined]
    yield mcp
    await mcp.aclose()


CONTEXT = ToolContext.of(run_id="run_x", tool_call_id="call_1")


async def test_lists_filtered_tools_and_calls_them(pool: McpPool) -> None:
    assert [t.name for t in pool.server_tools("local")] == [
        "local_add",
        "local_crash",
        "local_nap",
        "local_shout",
        "local_whoami",
    ]
    assert pool.find("local_hidden") is None
    outcome = await pool.call("local_add", {"a": 40, "b": 2}, CONTEXT)
    assert outcome is not None and (outcome.content, outcome.is_error) == ("42", False)
    secret = await pool.call("local_whoami", {}, CONTEXT)
    assert secret is not None and secret.content == "pool-secret"
    assert await pool.call("local_hidden", {}, CONTEXT) is None
    (status,) = pool.statuses()
    assert status.state is McpState.CONNECTED and status.error == ""
    assert [s.state for s in pool.seen] == [McpState.CONNECTED]  # type: ignore[attr-defined]


async def test_the_registry_routes_mcp_names_to_the_pool(pool: McpPool) -> None:
    registry = ToolRegistry()
    registry.attach(pool)
    outcome = await registry.execute("local_shout", {"text": "hey"}, CONTEXT)
    assert (outcome.content, outcome.is_error) == ("HEY", False)
    unknown = await registry.execute("local_nothing", {}, CONTEXT)
    assert unknown.is_error and "unknown tool" in unknown.content


async def test_a_crash_is_an_error_outcome_then_the_session_comes_back(pool: McpPool) -> None:
    crashed = await pool.call("local_crash", {}, CONTEXT)
    assert crashed is not None and crashed.is_error
    assert "failed during the call of 'local_crash'" in crashed.content
    again = await pool.call("local_add", {"a": 1, "b": 1}, CONTEXT)
    assert again is not None and again.content == "2"
    await wait_until(
        lambda: (
            [s.state for s in pool.seen]  # type: ignore[attr-defined]
            == [McpState.CONNECTED, McpState.UNAVAILABLE, McpState.CONNECTED]
        ),
        "connected, lost, connected again",
    )


async def test_the_call_timeout_is_a_tool_error() -> None:
    mcp = McpPool([local(call_timeout_seconds=0.5)])
    try:
        outcome = await mcp.call("local_nap", {"seconds": 30}, CONTEXT)
        assert outcome is not None and outcome.is_error
        assert "did not answer within 0.5 s" in outcome.content
        fine = await mcp.call("local_add", {"a": 1, "b": 2}, CONTEXT)
        assert fine is not None and fine.content == "3"
    finally:
        await mcp.aclose()


async def test_a_server_down_at_start_is_reported_and_its_calls_are_tool_errors() -> None:
    down = McpServerConfig(
        name="down",
        transport="stdio",
        command=sys.executable,
        args=("-c", "raise SystemExit(1)"),
        connect_timeout_seconds=1,
    )
    mcp = McpPool([down])
    try:
        await mcp.start()
        (status,) = mcp.statuses()
        assert status.state is McpState.UNAVAILABLE
        assert status.error.startswith("cannot connect") and sys.executable not in status.error
        assert mcp.tools() == []
    finally:
        await mcp.aclose()


def test_redaction_hides_secrets_url_and_command() -> None:
    config = McpServerConfig(
        name="web",
        transport="streamable_http",
        url="https://mcp.internal:8443/mcp",
        headers={"Authorization": "Bearer very-secret-token"},
    )
    redact = _Redactor(config)
    text = redact("401 from https://mcp.internal:8443/mcp with Bearer very-secret-token")
    assert "very-secret-token" not in text and "mcp.internal" not in text
    assert "[url]" in text
