"""AG-UI's own TypeScript client (``HttpAgent`` of ``@ag-ui/client``) against a
real Runwire server's AG-UI endpoint.

Installs clients/typescript/examples/agui from its lock file when its
node_modules are missing or stale (``npm ci``), starts a server with the HTTP
listener and authentication on, creates the example's four agents over gRPC,
and runs ``agui.mjs`` with node: a text answer, a server tool, a frontend tool
round trip and an approval through an interrupt must each print their OK line.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import AsyncIterator

import pytest
from runwire.v1 import agent_pb2

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from tests.clients.node_support import npm_ci_if_stale
from tests.commands import run_command
from tests.support import PARITY_TOKEN, Script, Stubs, create_agent, parity_auth, running_server

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "clients" / "typescript" / "examples" / "agui"

pytestmark = pytest.mark.timeout(420)


async def _run(*args: str, seconds: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    return await run_command(*args, cwd=EXAMPLE, seconds=seconds, env=env)


@pytest.fixture(scope="module")
async def installed() -> None:
    """``npm ci`` when node_modules are missing or older than the lock file."""
    await npm_ci_if_stale(EXAMPLE)


@pytest.fixture(scope="module")
async def agui_server() -> AsyncIterator[RunwireServer]:
    settings = Settings(
        listen=["127.0.0.1:0"],
        http_listen=["127.0.0.1:0"],
        auth=parity_auth(),
        log_level="WARNING",
        shutdown_grace_seconds=1.0,
    )
    async with running_server(settings) as server:
        yield server


async def _agents(stubs: Stubs) -> dict[str, str]:
    calculator: Script = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
    ]
    lookup: Script = [
        {"tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-17"}}]},
        {"text": "Order A-17 has shipped."},
    ]
    text = await create_agent(stubs, [{"text": "Hello from Runwire over AG-UI."}])
    tool = await create_agent(stubs, [*calculator, {"text": "6*7 = 42"}], tools=["calculator"])
    frontend = await create_agent(stubs, lookup)
    approval = await create_agent(
        stubs,
        [*calculator, {"text": "The answer is 42."}],
        tools=["calculator"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    return {
        "text": text.agent_id,
        "tool": tool.agent_id,
        "frontend": frontend.agent_id,
        "approval": approval.agent_id,
    }


async def test_http_agent_against_a_live_server(
    installed: None, agui_server: RunwireServer
) -> None:
    stubs = Stubs.connect(agui_server.addresses[0], token=PARITY_TOKEN)
    try:
        agents = await _agents(stubs)
    finally:
        await stubs.channel.close()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "RUNWIRE_AGUI_URL": f"http://{agui_server.http_addresses[0]}/agui",
        "RUNWIRE_TOKEN": PARITY_TOKEN,
        "RUNWIRE_AGUI_AGENTS": json.dumps(agents),
    }
    code, out = await _run("node", "agui.mjs", seconds=120, env=env)
    assert code == 0, f"agui.mjs exited {code}:\n{out}"
    for line in ("OK text answer", "OK server tool", "OK frontend tool", "OK approval"):
        assert line in out, out
    assert "AG-UI example: all scenarios passed" in out, out

    # Without the token the endpoint answers 401 and HttpAgent fails.
    code, out = await _run("node", "agui.mjs", seconds=60, env={**env, "RUNWIRE_TOKEN": ""})
    assert code != 0 and "401" in out, out
