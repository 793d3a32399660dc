"""Real Runwire processes for the durability tests: a service and Temporal workers.

``deployment(...)`` yields a ``Deployment``: the environment of one test (the
session's Redis and Temporal dev server, a unique task queue and Redis
prefix, the test tools) from which it starts ``runwire serve`` processes
(no embedded worker) and ``python -m runwire_server.app worker`` processes. Each process writes
its stdout and stderr to files in the test's directory (no pipes to drain);
starting one waits for its ready line ("serving on ..." / "worker polling
...") for up to ``READY_TIMEOUT`` seconds and fails with its stderr. Every
process still running when the block exits is stopped (SIGTERM, SIGKILL after
``STOP_GRACE`` seconds) and waited for, so no process outlives its test.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

#: The repository root (PYTHONPATH and working directory of the processes).
ROOT = pathlib.Path(__file__).resolve().parents[2]
#: The ``runwire`` console script of the interpreter running the tests.
RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))
#: Seconds to wait for a started process's ready line.
READY_TIMEOUT = 30.0
#: Seconds between SIGTERM and SIGKILL when stopping a process.
STOP_GRACE = 5.0
#: Seconds between looks at a starting process's stdout.
_POLL_SECONDS = 0.02
#: Characters of a process's stderr quoted in a failure message.
_STDERR_TAIL = 4000
#: Exit code of ``runwire serve`` when it cannot listen (runwire_server.app.cli.EXIT_USAGE).
_EXIT_USAGE = 2


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Kill:
    """When a process got SIGKILL.

    Attributes:
        monotonic: ``time.monotonic()`` just before the signal.
        wall: ``time.time()`` just before the signal (to compare with event
            ``create_time``, which Redis stamps on the same host).
    """

    monotonic: float
    wall: float


@dataclass
class Process:
    """A started Runwire process and its output files.

    Attributes:
        name: For messages, such as ``worker-2``.
        popen: The process.
        stdout: File with its stdout.
        stderr: File with its stderr.
    """

    name: str
    popen: subprocess.Popen[bytes]
    stdout: pathlib.Path
    stderr: pathlib.Path

    @property
    def running(self) -> bool:
        """The process has not exited (or has not been waited for)."""
        return self.popen.poll() is None

    def output(self) -> str:
        """Its stdout so far."""
        return self.stdout.read_text(errors="replace")

    def errors(self) -> str:
        """The end of its stderr so far."""
        return self.stderr.read_text(errors="replace")[-_STDERR_TAIL:]

    async def wait_ready(self, prefix: str) -> str:
        """Waits for a stdout line starting with ``prefix``; returns the line.

        Raises:
            AssertionError: the process exited first, or no such line came
                within ``READY_TIMEOUT`` seconds (then it is killed); the
                message has its stdout and stderr.
        """
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            for line in self.output().splitlines():
                if line.startswith(prefix):
                    return line
            if not self.running:
                raise AssertionError(
                    f"{self.name} exited with code {self.popen.returncode} before printing "
                    f"{prefix!r}; stdout: {self.output()!r}; stderr:\n{self.errors()}"
                )
            if time.monotonic() > deadline:
                await self.kill()
                raise AssertionError(
                    f"{self.name} printed no {prefix!r} within {READY_TIMEOUT} s; "
                    f"stdout: {self.output()!r}; stderr:\n{self.errors()}"
                )
            await asyncio.sleep(_POLL_SECONDS)

    async def kill(self) -> Kill:
        """Sends SIGKILL and waits for the process to exit; returns when it was sent."""
        when = Kill(monotonic=time.monotonic(), wall=time.time())
        if self.running:
            self.popen.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.popen.wait)
        return when

    async def stop(self, grace: float = STOP_GRACE) -> int:
        """Sends SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return await asyncio.to_thread(self.popen.wait, grace)
            except subprocess.TimeoutExpired:
                pass
        await self.kill()
        return self.popen.returncode


@dataclass
class Deployment:
    """The processes of one test and the environment they share.

    Attributes:
        env: Environment of every process started here.
        directory: Where the processes' output files go.
        task_queue: The test's Temporal task queue.
        processes: Every process started here, in order.
    """

    env: dict[str, str]
    directory: pathlib.Path
    task_queue: str
    processes: list[Process] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)

    async def _spawn(
        self, kind: str, command: list[str], env: Mapping[str, str] | None = None
    ) -> Process:
        number = self._counts[kind] = self._counts.get(kind, 0) + 1
        name = f"{kind}-{number}"
        stdout = self.directory / f"{name}.out"
        stderr = self.directory / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            popen = await asyncio.to_thread(
                subprocess.Popen,
                command,
                env={**self.env, **(env or {})},
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        process = Process(name=name, popen=popen, stdout=stdout, stderr=stderr)
        self.processes.append(process)
        return process

    async def start_service(self, port: int, *, bind_retry_seconds: float = 0.0) -> Process:
        """Starts ``runwire serve --listen 127.0.0.1:PORT`` and waits until it serves.

        Args:
            port: The TCP port to listen on.
            bind_retry_seconds: For this long, a process that exits because it
                cannot listen (the port is still held) is started again.

        Raises:
            AssertionError: it did not start (the message has its stderr).
        """
        deadline = time.monotonic() + bind_retry_seconds
        while True:
            process = await self._spawn(
                "service", [RUNWIRE, "serve", "--listen", f"127.0.0.1:{port}"]
            )
            try:
                await process.wait_ready("serving on ")
            except AssertionError:
                await asyncio.to_thread(process.popen.wait)
                cannot_listen = (
                    process.popen.returncode == _EXIT_USAGE and "cannot listen" in process.errors()
                )
                if cannot_listen and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    continue
                raise
            return process

    async def start_worker(self, env: Mapping[str, str] | None = None) -> Process:
        """Starts ``python -m runwire_server.app worker`` and waits until it polls the task queue.

        Args:
            env: Variables that override the deployment's for this worker.

        Raises:
            AssertionError: it did not start (the message has its stderr).
        """
        process = await self._spawn(
            "worker", [sys.executable, "-m", "runwire_server.app", "worker"], env
        )
        await process.wait_ready(f"worker polling {self.task_queue}")
        return process

    async def close(self) -> None:
        """Stops every process still running and waits for all of them."""
        await asyncio.gather(*(p.stop() for p in self.processes), return_exceptions=True)
        for process in self.processes:  # stop() failed? never leave one behind
            if process.popen.poll() is None:
                process.popen.kill()
                await asyncio.to_thread(process.popen.wait)


def deployment_env(*, redis_url: str, temporal_address: str) -> tuple[dict[str, str], str]:
    """The environment of a test's processes and its task queue.

    Inherited ``RUNWIRE_*`` and ``OTEL_*`` variables are dropped, so the
    developer's settings cannot leak in.
    """
    task_queue = f"durability-{uuid.uuid4().hex[:8]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RUNWIRE_", "OTEL_", "OPENAI_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "OTEL_SDK_DISABLED": "true",
            "RUNWIRE_REDIS_URL": redis_url,
            "RUNWIRE_REDIS_PREFIX": f"durability-{uuid.uuid4().hex[:8]}",
            "RUNWIRE_TEMPORAL_ADDRESS": temporal_address,
            "RUNWIRE_TEMPORAL_TASK_QUEUE": task_queue,
            "RUNWIRE_TEMPORAL_EMBEDDED_WORKER": "false",
            "RUNWIRE_DEFAULT_RUNTIME": "temporal",
            "RUNWIRE_TOOL_MODULES": "tests.tools_for_tests",
            "RUNWIRE_LOG_LEVEL": "WARNING",
            "RUNWIRE_HEARTBEAT_INTERVAL_SECONDS": "1",
            "RUNWIRE_SHUTDOWN_GRACE_SECONDS": "1",
        }
    )
    return env, task_queue


@asynccontextmanager
async def deployment(
    *, redis_url: str, temporal_address: str, directory: pathlib.Path
) -> AsyncIterator[Deployment]:
    """A ``Deployment`` for the block; stops all its processes on exit."""
    env, task_queue = deployment_env(redis_url=redis_url, temporal_address=temporal_address)
    deployed = Deployment(env=env, directory=directory, task_queue=task_queue)
    try:
        yield deployed
    finally:
        await deployed.close()


class FreezingProxy:
    """A loopback TCP proxy that can cut its clients off from the target, for good.

    Until ``freeze()`` it forwards bytes both ways. From then on, bytes sent
    by a client are swallowed, as by a network partition, and ``held`` is set:
    the client is stuck waiting for an answer. Point a worker's
    ``RUNWIRE_REDIS_URL`` at ``url(...)`` to stop it mid-activity.

    Attributes:
        held: Set once a client sent bytes after ``freeze()``.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._frozen = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.held = asyncio.Event()

    @classmethod
    async def for_url(cls, url: str) -> tuple[FreezingProxy, str]:
        """A started proxy to the ``host:port`` of ``url``, and ``url`` pointing at it."""
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname is not None and parts.port is not None, url
        proxy = cls(parts.hostname, parts.port)
        port = await proxy.start()
        return proxy, urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))

    async def start(self) -> int:
        """Starts listening on 127.0.0.1; returns the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        """Stops forwarding what clients send (until ``close``)."""
        self._frozen = True

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            target_reader, target_writer = await asyncio.open_connection(*self._target)
        except OSError:
            await self._close_writer(writer)
            return
        self._writers.add(target_writer)
        pipes = {
            asyncio.create_task(self._pipe(reader, target_writer, from_client=True)),
            asyncio.create_task(self._pipe(target_reader, writer, from_client=False)),
        }
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            await self._close_writer(writer)
            await self._close_writer(target_writer)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, from_client: bool
    ) -> None:
        with suppress(OSError):
            while data := await reader.read(65536):
                if from_client and self._frozen:
                    self.held.set()
                    continue
                writer.write(data)
                await writer.drain()

    async def _close_writer(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()

    async def close(self) -> None:
        """Stops listening and closes every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
