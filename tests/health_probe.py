"""A health probe on a server's event loop: each check's latency and the loop's CPU time.

- ``HealthProbe``: health checks on a channel of their own, each timed from when it
  was due (so a stall that begins between two checks counts in full), with the CPU
  time the event loop's thread used meanwhile (``Sample``).
- ``worst_health_during``: runs an attack while probing and holds every check during
  it to ``LOOP_CPU_BOUND`` and ``LATENCY_BOUND``, making the attack again (``ATTEMPTS``
  in all) while it is over one: a stall the server causes recurs every time, one of
  a machine busy with other work (or a garbage collection) seldom twice in a row.

Used by the fuzzer (``tests.fuzz``) and the hostile-input tests (``tests.integration``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import polls

#: Seconds between two health checks of the probe, unless told otherwise.
PROBE_INTERVAL_SECONDS = 0.02
#: The most CPU time, seconds, the event loop's thread may use while one health check
#: waits (issue 13's 100 ms: no request computes on the loop). Unlike a latency, it
#: does not grow when other processes take the machine's CPUs.
LOOP_CPU_BOUND = 0.100
#: The worst health-check latency allowed, seconds: a loop blocked without computing
#: (waiting on a socket, or for the GIL held by a thread's C code) uses no CPU.
#: Generous: on a machine busy with other work, even an idle server's checks are slow.
LATENCY_BOUND = 1.0
#: Attacks made at most while one is over a bound.
ATTEMPTS = 3


@dataclass(frozen=True)
class Sample:
    """One health check: when it was due and when it was answered (``perf_counter``);
    ``loop_cpu``: the CPU seconds the event loop's thread used from the previous
    answer to this one (unlike the latency, it does not grow when other processes
    take the machine's CPUs)."""

    due: float
    answered: float
    loop_cpu: float = 0.0

    @property
    def latency(self) -> float:
        return self.answered - self.due


class HealthProbe:
    """Health checks every ``interval`` seconds on a channel of their own; each is
    timed from when it was due, so a stall between two checks counts in full."""

    def __init__(self, address: str, interval: float = PROBE_INTERVAL_SECONDS) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._stop = asyncio.Event()
        self.interval = interval
        self.samples: list[Sample] = []

    async def run(self) -> None:
        """Checks until ``stop``; run it on the server's event loop (``loop_cpu``).

        Raises:
            AssertionError: a check answered other than SERVING.
        """
        due = time.perf_counter()
        cpu = time.thread_time()
        while not self._stop.is_set():
            response = await self._health.Check(health_pb2.HealthCheckRequest(), timeout=30)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
            answered, used = time.perf_counter(), time.thread_time()
            self.samples.append(Sample(due, answered, used - cpu))
            cpu = used
            # The next check is due one interval later (or now, after a slow one);
            # a stall while waiting for it counts in its latency.
            due = max(due + self.interval, answered)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - time.perf_counter()))

    async def answered_once_more(self) -> None:
        """Waits for one more answer (so a stall at the end of a test is measured).

        Raises:
            AssertionError: no answer came (``polls``' default deadline).
        """
        count = len(self.samples)
        async for _ in polls(interval=self.interval):
            if len(self.samples) > count:
                return
        raise AssertionError("the health probe stopped answering")

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        await self._channel.close()


async def worst_health_during(
    address: str,
    attack: Callable[[], Awaitable[None]],
    interval: float = PROBE_INTERVAL_SECONDS,
) -> float:
    """Runs ``attack`` while probing the server at ``address`` (``host:port``) every
    ``interval`` seconds; the worst latency, seconds, of the checks from the attack's
    start to the first answer after it, for an attack whose checks all stayed within
    ``LOOP_CPU_BOUND`` and ``LATENCY_BOUND``. An attack over a bound is made again, up
    to ``ATTEMPTS`` times: ``attack`` must be repeatable, and whatever it records it
    records afresh.

    Raises:
        AssertionError: every attack was over a bound (the message has each one's
            worst loop CPU time and latency), or the probe stopped answering.
    """
    measured = []
    for _ in range(ATTEMPTS):
        probe = HealthProbe(address, interval)
        task = asyncio.create_task(probe.run())
        try:
            await probe.answered_once_more()
            mark = len(probe.samples)
            await attack()
            await probe.answered_once_more()
        finally:
            probe.stop()
            await task
            await probe.close()
        samples = probe.samples[mark:]
        latency = max(sample.latency for sample in samples)
        loop_cpu = max(sample.loop_cpu for sample in samples)
        if loop_cpu < LOOP_CPU_BOUND and latency < LATENCY_BOUND:
            return latency
        measured.append(f"loop CPU {loop_cpu * 1000:.0f} ms, latency {latency * 1000:.0f} ms")
    raise AssertionError(
        f"a health check waited over {LOOP_CPU_BOUND * 1000:.0f} ms of loop CPU or "
        f"{LATENCY_BOUND * 1000:.0f} ms in each attack: " + "; ".join(measured)
    )
