"""A rolling deploy for the clients' drain tests: two ``runwire serve`` replicas on
one Redis behind a ``StreamBreaker``, whose control endpoint drains one for real.

``running_drain_lab(server, redis_url, directory)`` starts two replicas with the
secure server's TLS, mutual TLS and API key (``SecureServer``; a client reaches
them with ``server.client_env()``), both on one Redis and one key prefix, each
with a short ``shutdown_grace_seconds`` and a long ``drain_timeout_seconds``. The
proxy sends every connection to the *active* replica. ``POST /drain`` on its
control URL is a rolling deploy's step:

1. new connections go to the standby replica (open ones stay on the active one);
2. the active replica gets SIGTERM: a real graceful drain (health NOT_SERVING,
   new runs refused with UNAVAILABLE/DRAINING; after the grace its open streams
   end UNAVAILABLE/DRAINING with ``last_sequence`` in the ErrorInfo; it stops
   once its in-process runs have finished, which closes its connections);
3. the answer (``drained A; serving from B``) comes once A reports NOT_SERVING,
   so a call made after it on a connection to A meets the drain; a fresh
   standby starts in the background, so the lab can drain again.

``lab_env(lab)`` is what a client's unit tests read: ``RUNWIRE_TEST_DRAIN_ADDRESS``
(the proxy) and ``RUNWIRE_TEST_DRAIN_CONTROL`` (its control URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import uuid
from collections.abc import AsyncIterator

from grpc_health.v1 import health_pb2, health_pb2_grpc
from runwire import Stubs

from tests.clients.secure_server import (
    ROOT,
    RUNWIRE,
    SecureServer,
    api_key_config,
    clean_environment,
)
from tests.clients.stream_breaker import StreamBreaker
from tests.serve_process import serve_process
from tests.support import wait_until

#: Seconds a draining replica's open streams go on before they end DRAINING.
GRACE_SECONDS = 0.3
#: Seconds a draining replica's in-process runs get to finish (they finish).
DRAIN_TIMEOUT_SECONDS = 30.0


class Replica:
    """One ``runwire serve`` of the lab: its address, and the task that runs it
    until ``stopping`` is set (then it gets SIGTERM and is waited for)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.address = ""
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class DrainLab:
    """Two replicas on one Redis behind a proxy; see the module's docstring.

    Attributes:
        proxy: The ``StreamBreaker`` the clients connect through (``POST /cut``
            works too).
        active: The replica new connections go to.
        drained: The addresses drained so far, in order.
    """

    def __init__(self, server: SecureServer, redis_url: str, directory: pathlib.Path) -> None:
        self._server = server
        self._directory = directory
        self._config = directory / "runwire.toml"
        self._env = clean_environment() | {
            "PYTHONPATH": str(ROOT),
            "RUNWIRE_LOG_LEVEL": "WARNING",
            "RUNWIRE_TLS_CERT_FILE": str(server.pki.server_cert_file),
            "RUNWIRE_TLS_KEY_FILE": str(server.pki.server_key_file),
            "RUNWIRE_TLS_CLIENT_CA_FILE": str(server.pki.ca_file),
            "RUNWIRE_REDIS_URL": redis_url,
            "RUNWIRE_REDIS_PREFIX": f"drain-lab-{uuid.uuid4().hex[:8]}",
            "RUNWIRE_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
            "RUNWIRE_DRAIN_TIMEOUT_SECONDS": str(DRAIN_TIMEOUT_SECONDS),
        }
        self._replicas: list[Replica] = []
        self._lock = asyncio.Lock()
        self.active: Replica | None = None
        self._standby: asyncio.Task[Replica] | None = None
        self.drained: list[str] = []
        self.proxy: StreamBreaker | None = None

    async def start(self) -> None:
        self._config.write_text(api_key_config(self._server.token))
        self.active = await self._start_replica()
        self._standby = asyncio.create_task(self._start_replica())
        await self._standby
        self.proxy = StreamBreaker(self.active.address)
        self.proxy.commands["drain"] = self.drain
        await self.proxy.start()

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
        if self._standby is not None:
            await asyncio.gather(self._standby, return_exceptions=True)
        for replica in self._replicas:
            replica.stopping.set()
        tasks = [r.task for r in self._replicas if r.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self) -> str:
        """Drains the active replica (the standby takes the new connections) and
        starts a fresh standby; returns ``drained A; serving from B``."""
        async with self._lock:
            assert self.proxy is not None and self.active is not None
            assert self._standby is not None
            standby = await self._standby
            draining, self.active = self.active, standby
            self.proxy.route(standby.address)
            draining.stopping.set()
            await wait_until(
                lambda: self._not_serving(draining.address),
                f"replica {draining.name} reports NOT_SERVING after SIGTERM",
            )
            self.drained.append(draining.address)
            self._standby = asyncio.create_task(self._start_replica())
            return f"drained {draining.address}; serving from {standby.address}"

    async def _not_serving(self, address: str) -> bool:
        """True once ``address`` answers NOT_SERVING (or is gone)."""
        stubs = Stubs.connect(address, credentials=self._server.credentials())
        try:
            health = health_pb2_grpc.HealthStub(stubs.channel)
            response = await health.Check(health_pb2.HealthCheckRequest(), timeout=2)
        except Exception:  # gone already: drained too
            return True
        finally:
            await stubs.channel.close()
        return bool(response.status == health_pb2.HealthCheckResponse.NOT_SERVING)

    async def _start_replica(self) -> Replica:
        replica = Replica(f"r{len(self._replicas) + 1}")
        self._replicas.append(replica)
        started = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                async with serve_process(
                    RUNWIRE,
                    "--config",
                    str(self._config),
                    cwd=ROOT,
                    env=self._env,
                    log=self._directory / f"{replica.name}.log",
                    ready_seconds=30,
                    graceful=True,
                ) as address:
                    replica.address = address
                    started.set_result(None)
                    await replica.stopping.wait()
            except BaseException as error:
                if not started.done():
                    started.set_exception(error)
                raise

        replica.task = asyncio.create_task(run(), name=f"drain-lab-{replica.name}")
        await started
        return replica


@contextlib.asynccontextmanager
async def running_drain_lab(
    server: SecureServer, redis_url: str, directory: pathlib.Path
) -> AsyncIterator[DrainLab]:
    """A started ``DrainLab`` until the block ends (then every replica is stopped)."""
    lab = DrainLab(server, redis_url, directory)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()


def lab_env(lab: DrainLab) -> dict[str, str]:
    """The drain lab's part of a client's unit-test environment."""
    assert lab.proxy is not None
    return {
        "RUNWIRE_TEST_DRAIN_ADDRESS": lab.proxy.address,
        "RUNWIRE_TEST_DRAIN_CONTROL": lab.proxy.control,
    }
