"""The fuzzer's report and guards: what it sent, what came back, what it must never see.

- ``FuzzReport`` (fixture ``fuzz_report``): examples per RPC and kind, status codes,
  run time, worst health-check latency, the server's memory, known issues; printed at
  the end of the pytest run (``pytest_terminal_summary``) whenever a fuzz test ran.
- ``NetworkGuard`` (in fixture ``guards``): while active, every name lookup and
  connection this process attempts beyond loopback is recorded and refused (an audit
  hook on ``socket.getaddrinfo`` and ``socket.connect``), so no hostile agent reaches
  another host from a test run.
- ``ErrorLogs`` (in fixture ``guards``): log records at ERROR or above, or carrying a
  traceback, while active.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import socket
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class RpcStats:
    """What the fuzzer did to one RPC.

    Attributes:
        examples: Requests sent.
        kinds: Requests by kind (``valid``, ``mutated``, ``raw``).
        codes: Answers by status code name (``OK``, ``INVALID_ARGUMENT`` ...).
        follow_ups: Runs started on agents the fuzzer created or updated.
        seconds: Wall-clock time of the RPC's fuzz test.
        worst_health_seconds: Worst health-check latency during it.
        worst_loop_cpu_seconds: Most CPU time the event loop's thread used while one
            health check waited, during it (``tests.fuzz.harness.Sample.loop_cpu``).
        rss_growth_bytes: Growth of the process's resident memory during it.
    """

    examples: int = 0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    codes: collections.Counter[str] = field(default_factory=collections.Counter)
    follow_ups: int = 0
    seconds: float = 0.0
    worst_health_seconds: float = 0.0
    worst_loop_cpu_seconds: float = 0.0
    rss_growth_bytes: int = 0


@dataclass
class FuzzReport:
    """The fuzz run's numbers (one per pytest process).

    Attributes:
        rpcs: Stats by RPC (``Service/Method``).
        rss_before_bytes: Resident memory of this process (the server runs in it)
            when the fuzz server had started; 0 before.
        rss_after_bytes: The same after the last fuzz test; 0 before.
        known_issues: Failing cases let through on purpose (``tests.fuzz.known_issues``)
            -> how many times they were seen.
        known_stall_seconds: Known issue -> the worst health-check latency while a
            case of it was in flight.
    """

    rpcs: dict[str, RpcStats] = field(default_factory=dict)
    rss_before_bytes: int = 0
    rss_after_bytes: int = 0
    known_issues: collections.Counter[str] = field(default_factory=collections.Counter)
    known_stall_seconds: dict[str, float] = field(default_factory=dict)

    def stats(self, rpc: str) -> RpcStats:
        return self.rpcs.setdefault(rpc, RpcStats())

    def lines(self) -> list[str]:
        """The report as text lines."""
        total = sum(s.examples for s in self.rpcs.values())
        seconds = sum(s.seconds for s in self.rpcs.values())
        worst = max((s.worst_health_seconds for s in self.rpcs.values()), default=0.0)
        cpu = max((s.worst_loop_cpu_seconds for s in self.rpcs.values()), default=0.0)
        out = [
            f"{total} requests over {len(self.rpcs)} RPCs in {seconds:.1f} s; "
            f"worst health check {worst * 1000:.1f} ms ({cpu * 1000:.1f} ms of loop CPU "
            "at most while one waited)"
        ]
        if self.rss_before_bytes and self.rss_after_bytes:
            growth = (self.rss_after_bytes - self.rss_before_bytes) / 2**20
            out.append(
                f"process RSS {self.rss_before_bytes / 2**20:.0f} MiB -> "
                f"{self.rss_after_bytes / 2**20:.0f} MiB ({growth:+.0f} MiB)"
            )
        for name, s in self.rpcs.items():
            codes = ", ".join(f"{code} {n}" for code, n in s.codes.most_common())
            kinds = "/".join(str(s.kinds[k]) for k in ("valid", "mutated", "raw"))
            follow = f", {s.follow_ups} follow-up runs" if s.follow_ups else ""
            out.append(
                f"  {name}: {s.examples} (valid/mutated/raw {kinds}{follow}) "
                f"{s.seconds:.1f} s, health <= {s.worst_health_seconds * 1000:.0f} ms "
                f"(loop CPU <= {s.worst_loop_cpu_seconds * 1000:.0f} ms), "
                f"RSS {s.rss_growth_bytes / 2**20:+.0f} MiB: {codes}"
            )
        for issue, count in self.known_issues.items():
            stall = self.known_stall_seconds.get(issue)
            during = f" (health check up to {stall * 1000:.0f} ms meanwhile)" if stall else ""
            out.append(f"  known issue, {count} cases{during}: {issue}")
        return out


REPORT = FuzzReport()


@pytest.fixture(scope="session")
def fuzz_report() -> FuzzReport:
    return REPORT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT.rpcs:
        terminalreporter.write_sep("-", "fuzz")
        for line in REPORT.lines():
            terminalreporter.write_line(line)


@dataclass(frozen=True)
class Attempt:
    """One refused attempt to reach beyond loopback.

    Attributes:
        event: The audit event (``socket.getaddrinfo``, ``socket.connect``).
        host: The host asked for.
        port: The port, when known.
        where: The thread, and the innermost frames of Runwire's code (``runwire_server/service/``,
            ``runwire_server/app/``) that asked (none for a lookup in a worker thread).
    """

    event: str
    host: str
    port: object
    where: str


def _is_local(host: object) -> bool:
    if host is None or host in ("", "localhost", b"localhost"):
        return True
    text = str(host).strip("[]")
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


class NetworkGuard:
    """Refuses and records lookups and connections beyond loopback while active."""

    def __init__(self) -> None:
        self.active = False
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "socket.getaddrinfo":
            host, port = args[0], args[1]
        elif event in ("socket.connect", "socket.sendto"):
            address = args[-1]
            if not isinstance(address, tuple):  # a Unix socket path
                return
            host, port = address[0], address[1]
        else:
            return
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        if _is_local(host):
            return
        frames = [
            f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.lineno}"
            for f in traceback.extract_stack()
            if "/service/" in f.filename or "/app/" in f.filename
        ]
        with self._lock:
            where = " < ".join([threading.current_thread().name, *frames[-3:][::-1]])
            self.attempts.append(Attempt(event, str(host), port, where))
        if event == "socket.getaddrinfo":
            raise socket.gaierror(socket.EAI_NONAME, f"fuzz: lookup of {host} refused")
        raise ConnectionRefusedError(f"fuzz: connection to {host}:{port} refused")

    def take(self) -> list[Attempt]:
        """The attempts recorded since the last call."""
        with self._lock:
            taken, self.attempts = self.attempts, []
        return taken


_GUARD = NetworkGuard()
#: Audit hooks cannot be removed: the guard's is added once, when first used.
_HOOKED: list[bool] = []


class ErrorLogs(logging.Handler):
    """Collects records at ERROR or above, and records with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def take(self) -> list[str]:
        """``logger: message`` of the records collected since the last call."""
        taken, self.records = self.records, []
        return [f"{r.name}: {r.getMessage()[:300]}" for r in taken]


@dataclass(frozen=True)
class Guards:
    """The fixture ``guards``: a ``NetworkGuard`` and an ``ErrorLogs``, both active."""

    network: NetworkGuard
    logs: ErrorLogs


@pytest.fixture(scope="session")
def guards() -> Iterator[Guards]:
    if not _HOOKED:
        sys.addaudithook(_GUARD.hook)
        _HOOKED.append(True)
    logs = ErrorLogs()
    root = logging.getLogger()
    root.addHandler(logs)
    _GUARD.active = True
    try:
        yield Guards(_GUARD, logs)
    finally:
        _GUARD.active = False
        root.removeHandler(logs)
