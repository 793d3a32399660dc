"""The browser example (clients/typescript/examples/browser) in a real headless Chromium.

Builds the TypeScript client (``npm ci`` when its lock file changed, ``npm run
build``) and the example page (same, in examples/browser: ``tsc`` over the page,
then esbuild bundles it with ``@runwire/client/web`` for the browser platform,
where any ``node:*`` import fails the build). Starts a Runwire server in this
process with an HTTP listener, authentication on (the parity suite's API key)
and the page's origin as its only CORS origin, and serves the built page from
another loopback port, so every call from the page is cross-origin. The page
reaches the listener through a ``StreamBreaker`` (a TCP proxy whose connections
the driver cuts once).

``examples/browser/test/drive.mjs`` then drives Debian's Chromium
(/usr/bin/chromium, never a downloaded browser) with playwright-core: it starts
a run of a scripted agent that streams text and calls ``calculator``, which
needs an approval; waits for the Approve / Reject buttons; reloads the page and
checks that it resumes after the last sequence it kept (the text still
rendered, the same approval pending again, sequences 1..n each once); clicks
Approve and waits for the final text and SUCCEEDED; saves a screenshot
(build/artifacts/browser-example.png, printed); then runs the same agent again
with the binary format, cutting the connection while the approval waits (the
client must resume by itself: fetch's network TypeError comes out as
UNAVAILABLE, not UNKNOWN), and once with a wrong token (the page shows
UNAUTHENTICATED with its reason). Every answer from the server carried the
page's origin in ``access-control-allow-origin``. This test then checks, over gRPC, that the
runs SUCCEEDED with that output and that the page showed every logged event
once.

Skipped (with the reason) only when /usr/bin/chromium is missing and this
process is not root; as root (CI), ``scripts/bootstrap.sh --dev`` installs it
and the test fails if it is still missing.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import shutil
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2

from runwire_server.app.config import Settings
from tests.clients.node_support import npm_ci_if_stale
from tests.clients.stream_breaker import StreamBreaker
from tests.commands import run_command
from tests.support import (
    PARITY_TOKEN,
    Script,
    Stubs,
    create_agent,
    parity_auth,
    running_server,
    unique,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
EXAMPLE = CLIENT / "examples" / "browser"
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_PRESENT = CHROMIUM.exists()
SCREENSHOT = ROOT / "build" / "artifacts" / "browser-example.png"
FIRST_TEXT = "Let me work that out with the calculator."
FINAL_TEXT = "6 times 7 is 42."
SCRIPT: Script = [
    {
        "text": FIRST_TEXT,
        "tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}],
    },
    {"text": FINAL_TEXT},
]
#: Sources of the browser entry point: they must not import node:* or read process.*.
WEB_SOURCES = ("core.ts", "errors.ts", "exports.ts", "web.ts")

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not CHROMIUM_PRESENT and os.geteuid() != 0,
        reason=f"{CHROMIUM} is missing and this is not root: install Debian's chromium "
        "package (scripts/bootstrap.sh --dev as root does)",
    ),
]


async def _run(
    *args: str, cwd: pathlib.Path, seconds: float, env: dict[str, str] | None = None
) -> tuple[int, str]:
    return await run_command(*args, cwd=cwd, seconds=seconds, env=env)


async def _install_and_build(npm: str, folder: pathlib.Path) -> None:
    """``npm ci`` in ``folder`` when its lock file is newer than the install,
    then ``npm run build``."""
    await npm_ci_if_stale(folder)
    code, out = await _run(npm, "run", "build", cwd=folder, seconds=300)
    assert code == 0, f"npm run build in {folder} failed:\n{out[-4000:]}"


@pytest.fixture(scope="module")
async def built_page() -> pathlib.Path:
    """The client and the example page, built; returns the page's dist/ folder."""
    npm = shutil.which("npm")
    assert npm is not None and shutil.which("node") is not None, "node and npm are required"
    assert CHROMIUM_PRESENT, f"{CHROMIUM} is missing: run scripts/bootstrap.sh --dev as root"
    await _install_and_build(npm, CLIENT)
    await _install_and_build(npm, EXAMPLE)
    dist = EXAMPLE / "dist"
    assert (dist / "index.html").exists() and (dist / "main.js").exists(), list(dist.iterdir())
    return dist


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_origin(built_page: pathlib.Path) -> Iterator[str]:
    """The built page served on a loopback port of its own; yields its origin."""
    handler = functools.partial(_QuietHandler, directory=str(built_page))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="browser-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_web_entry_imports_nothing_from_node() -> None:
    """The browser entry point's sources use no node:* module and no process global."""
    for name in WEB_SOURCES:
        text = (CLIENT / "src" / name).read_text()
        assert '"node:' not in text, name
        assert "process." not in text, name
        assert "connect-node" not in text, name


async def test_the_example_page_runs_an_agent_in_chromium(page_origin: str) -> None:
    settings = Settings(
        listen=["127.0.0.1:0"],
        http_listen=["127.0.0.1:0"],
        http_cors_allowed_origins=[page_origin],
        auth=parity_auth(),
        heartbeat_interval_seconds=0.5,
        shutdown_grace_seconds=1.0,
        log_level="WARNING",
    )
    async with running_server(settings) as server:
        stubs = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
        breaker = StreamBreaker(server.http_addresses[0])
        await breaker.start()
        try:
            agent = await create_agent(
                stubs,
                SCRIPT,
                tools=["calculator"],
                mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
                chunk_chars=4,
                delay_ms=5,
                agent_id=unique("browser"),
            )
            query = urllib.parse.urlencode(
                {
                    "server": f"http://{breaker.address}",
                    "agent": agent.agent_id,
                    "token": PARITY_TOKEN,
                    "prompt": "What is 6*7?",
                }
            )
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            SCREENSHOT.unlink(missing_ok=True)
            env = os.environ | {
                "RUNWIRE_PAGE_URL": f"{page_origin}/index.html?{query}",
                "RUNWIRE_EXPECT": FINAL_TEXT,
                "RUNWIRE_SCREENSHOT": str(SCREENSHOT),
                "CHROMIUM": str(CHROMIUM),
                "RUNWIRE_WAIT_MS": "60000",
                "RUNWIRE_PROXY_CONTROL": breaker.control,
            }
            started = time.monotonic()
            code, out = await _run("node", "test/drive.mjs", cwd=EXAMPLE, seconds=300, env=env)
            print(f"browser scenario: {time.monotonic() - started:.1f} s")
            print("\n".join(line for line in out.splitlines() if line.startswith("STEP ")))
            results = [line for line in out.splitlines() if line.startswith("RESULT ")]
            assert results, f"the driver printed no RESULT (exit {code}):\n{out[-6000:]}"
            result: dict[str, Any] = json.loads(results[-1].removeprefix("RESULT "))
            assert code == 0 and result["ok"], (
                f"the driver failed:\n{result.get('failure')}\n{out[-6000:]}"
            )
            print(f"screenshot: {SCREENSHOT}")
            assert SCREENSHOT.stat().st_size > 0

            # The page rendered the streamed text before the approval, and the
            # reload kept it; the tool call and its result show.
            before, done = result["beforeReload"], result["done"]
            assert before["messages"][0] == FIRST_TEXT, before["messages"]
            assert result["afterReload"]["messages"] == before["messages"]
            assert done["messages"] == [FIRST_TEXT, FINAL_TEXT], done["messages"]
            assert done["toolCalls"] == [
                {"name": "calculator", "args": '{"expression":"6*7"}', "result": "→ 42"}
            ], done["toolCalls"]

            # Cross-origin calls, each answered with the page's origin allowed:
            # StreamRun, StreamRunEvents after the reload, ResolveApproval.
            assert {c["allowOrigin"] for c in result["cors"]} == {page_origin}
            paths = {c["path"] for c in result["cors"]}
            for method in ("StreamRun", "StreamRunEvents"):
                assert f"/runwire.v1.RunService/{method}" in paths, paths
            assert "/runwire.v1.ApprovalService/ResolveApproval" in paths, paths
            assert result["badToken"].startswith("UNAUTHENTICATED (UNAUTHENTICATED): "), result

            # The cut connection under the binary run's stream was resumed by the client.
            assert breaker.cuts == 1
            assert result["reconnect"].endswith("(UNAVAILABLE)"), result.get("reconnect")

            # Every logged event reached the page once, in order, for both runs.
            for shown in (done, result["binary"]):
                await _check_against_server(stubs, shown)
        finally:
            await breaker.close()
            await stubs.channel.close()


async def _check_against_server(stubs: Stubs, shown: dict[str, Any]) -> None:
    """The run the page showed SUCCEEDED with FINAL_TEXT, and the page showed
    exactly the logged events' sequences."""
    run_id = shown["runId"]
    response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))
    assert response.run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert response.run.output == FINAL_TEXT
    logged: list[int] = []
    token = ""
    while True:
        page = await stubs.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(run_id=run_id, page_token=token, page_size=200)
        )
        logged += [e.sequence for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert shown["sequences"] == logged, (shown["sequences"], logged)
    assert logged[-1] == response.run.last_sequence
