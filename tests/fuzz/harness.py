"""How the fuzzer calls an RPC and judges the answer; the health probe that times the server.

- ``targets``: every RPC of every ``runwire.v1`` service, and of ``grpc.health.v1.Health``,
  from the service descriptors.
- ``call``: sends request bytes as they are (identity serializers) with the caller's
  bearer token and a deadline; a server stream is read for a few responses, then
  cancelled.
- ``violations``: what is wrong with how a call ended (the module docstring of
  ``test_fuzz_rpcs`` lists the invariants); ``follow_up`` runs an agent the fuzzer made.
- ``Window`` and ``stalls`` tie a slow health check (``tests.health_probe``) to the
  requests in flight meanwhile.
- ``settle``: makes the server let go of the last request and collects the garbage it left.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import runwire
from google.protobuf import duration_pb2, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from runwire.v1 import agent_pb2, approval_pb2, run_pb2, run_service_pb2, thread_pb2

from tests.health_probe import Sample
from tests.support import Stubs

#: Deadline of a call that must answer at once, seconds.
CALL_SECONDS = 15.0
#: Deadline of a call that may wait (``WAITING``), seconds.
WAIT_SECONDS = 1.0
#: Responses read from a stream before the client cancels it.
STREAM_MESSAGES = 3
#: How long a follow-up run of a fuzzed agent is waited for (``WaitRun.timeout``), seconds.
FOLLOW_UP_SECONDS = 1

#: Calls that may legitimately wait: a client deadline or cancel ends them.
WAITING = frozenset(
    {
        "runwire.v1.RunService/StreamRun",
        "runwire.v1.RunService/WaitRun",
        "runwire.v1.RunService/StreamRunEvents",
        "runwire.v1.RunService/WatchRuns",
        "runwire.v1.ApprovalService/WatchApprovals",
        "grpc.health.v1.Health/Watch",
    }
)
#: Streams that send what they have, then wait for changes: one response is read.
WATCHES = ("/Watch", "/WatchRuns", "/WatchApprovals")
#: Statuses no request may end with.
FORBIDDEN = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.DATA_LOSS,
    }
)
#: Text no error message may hold: tracebacks and Python reprs.
LEAKS = ("Traceback", 'File "', "<class '", " object at 0x")
#: Run states before the end.
NOT_ENDED = (
    run_pb2.RUN_STATE_QUEUED,
    run_pb2.RUN_STATE_RUNNING,
    run_pb2.RUN_STATE_REQUIRES_ACTION,
)


@dataclass(frozen=True)
class Target:
    """One RPC to fuzz.

    Attributes:
        name: ``Service/Method`` (the full service name).
        method: Its descriptor.
    """

    name: str
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.name}"

    @property
    def runwire(self) -> bool:
        return self.name.startswith("runwire.")

    @property
    def waits(self) -> bool:
        return self.name in WAITING

    @property
    def messages(self) -> int:
        """Responses read before the client cancels (a watch sends what it has, then
        waits for changes: one is enough)."""
        return 1 if self.name.endswith(WATCHES) else STREAM_MESSAGES

    def decode(self, data: bytes) -> Message | None:
        """``data`` as this RPC's request message; None when it does not decode."""
        try:
            request: Message = message_factory.GetMessageClass(self.method.input_type)()
            request.ParseFromString(data)
        except Exception:  # any parser error: DecodeError, RecursionError, ...
            return None
        return request

    def describe(self, data: bytes, limit: int = 400) -> str:
        """A request in one line, at most about ``limit`` characters: its fields (long
        values cut, with their sizes) when it decodes, else its first bytes."""
        request = self.decode(data)
        if request is None:
            return f"{len(data)} undecodable bytes {data[: limit // 4]!r}"
        text = _outline(request, depth=0)
        return f"{len(data)} bytes: {text[:limit]}{'...' if len(text) > limit else ''}"


#: Items of a repeated field, and characters of a string, that ``_outline`` shows.
_OUTLINE_ITEMS = 2
_OUTLINE_CHARS = 40


def _outline(message: Message, depth: int) -> str:
    """``message``'s set fields, briefly: work bounded whatever the message's size."""
    if message.DESCRIPTOR.full_name == "google.protobuf.Struct":
        return f"Struct({len(message.fields)} fields)"  # type: ignore[attr-defined]
    parts = []
    for f, value in message.ListFields():
        if f.is_repeated:
            first = itertools.islice(value, _OUTLINE_ITEMS)  # a map is not sliceable
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                items = [f"{k!r}: {_scalar(value[k], depth)}" for k in first]
            else:
                items = [_scalar(v, depth) for v in first]
            more = f", ... {len(value)} in all" if len(value) > _OUTLINE_ITEMS else ""
            parts.append(f"{f.name}: [{', '.join(items)}{more}]")
        else:
            parts.append(f"{f.name}: {_scalar(value, depth)}")
    return "{" + ", ".join(parts) + "}"


def _scalar(value: object, depth: int) -> str:
    if isinstance(value, Message):
        return _outline(value, depth + 1) if depth < 3 else "{...}"
    if isinstance(value, str | bytes) and len(value) > _OUTLINE_CHARS:
        return f"{value[:_OUTLINE_CHARS]!r}...({len(value)})"
    return repr(value)


def targets() -> dict[str, Target]:
    """Every RPC of every ``runwire.v1`` service, and of the health service, by name."""
    found = {}
    for module in (agent_pb2, run_service_pb2, approval_pb2, thread_pb2, health_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                name = f"{service.full_name}/{method.name}"
                found[name] = Target(name, method)
    return found


@dataclass
class Outcome:
    """How one call ended.

    Attributes:
        code: The status (OK also when the client cancelled a stream it had read enough of).
        details: The status details of an error; None on OK.
        response: The response bytes of a unary call that succeeded.
    """

    code: grpc.StatusCode
    details: runwire.StatusDetails | None = None
    response: bytes = b""


def _identity(data: bytes) -> bytes:
    return data


async def call(channel: grpc.aio.Channel, target: Target, data: bytes, token: str) -> Outcome:
    """Sends ``data`` as the request of ``target`` with ``authorization: Bearer token``;
    a stream is read for at most ``target.messages`` responses, then cancelled."""
    metadata = (("authorization", f"Bearer {token}"),)
    timeout = WAIT_SECONDS if target.waits else CALL_SECONDS
    try:
        if target.method.server_streaming:
            stream = channel.unary_stream(
                target.path, request_serializer=_identity, response_deserializer=_identity
            )(data, metadata=metadata, timeout=timeout)
            read = 0
            async for _ in stream:
                read += 1
                if read >= target.messages:
                    stream.cancel()
                    break
            return Outcome(grpc.StatusCode.OK)
        response = await channel.unary_unary(
            target.path, request_serializer=_identity, response_deserializer=_identity
        )(data, metadata=metadata, timeout=timeout)
        return Outcome(grpc.StatusCode.OK, response=response)
    except grpc.aio.AioRpcError as error:
        return Outcome(error.code(), details=runwire.status_details(error))


def violations(target: Target, outcome: Outcome, token: str) -> list[str]:
    """What is wrong with how a call of ``target`` ended (empty: nothing)."""
    code, details = outcome.code, outcome.details
    if code == grpc.StatusCode.OK or details is None:
        return []
    problems = []
    if code in FORBIDDEN:
        problems.append(f"status {code.name}")
    client_side = code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)
    if client_side and not target.waits:
        problems.append(f"status {code.name} on a call that answers at once")
    if target.runwire and not client_side and details.domain != "runwire.dev":
        problems.append(f"{code.name} without an ErrorInfo of domain runwire.dev")
    problems += [f"the message holds {leak!r}" for leak in LEAKS if leak in details.message]
    if token in details.message:
        problems.append("the message holds the caller's token")
    if problems:
        problems.append(f"message: {details.message[:300]!r}")
    return problems


def _code_name(number: int) -> str:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return str(code.name)
    return str(number)


async def follow_up(stubs: Stubs, agent_id: str) -> list[str]:
    """Runs the fuzzed agent ``agent_id`` for up to ``FOLLOW_UP_SECONDS`` (cancels it if
    it has not ended then); what is wrong with how it went."""
    request = run_service_pb2.WaitRunRequest(
        agent_id=agent_id, prompt="hello", timeout=duration_pb2.Duration(seconds=FOLLOW_UP_SECONDS)
    )
    try:
        waited = await stubs.runs.WaitRun(request, timeout=CALL_SECONDS)
    except grpc.aio.AioRpcError as error:
        details = runwire.status_details(error)
        if error.code() in FORBIDDEN or error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return [f"its run: WaitRun {error.code().name}: {details.message[:300]!r}"]
        return []
    run = waited.run
    problems = []
    if run.state in NOT_ENDED:
        await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))
    elif run.state == run_pb2.RUN_STATE_FAILED:
        code = _code_name(run.error.code)
        if code in ("INTERNAL", "UNKNOWN"):
            problems.append(f"its run failed with {code}: {run.error.message[:300]!r}")
        problems += [
            f"its run's error holds {leak!r}" for leak in LEAKS if leak in run.error.message
        ]
    return problems


async def settle(channel: grpc.aio.Channel) -> None:
    """Lets go of what the last request left: one more call (grpc keeps the last call's
    state until the next), then a full garbage collection (reference cycles, such as an
    exception's traceback holding its frame, wait for one). Blocks the event loop as
    long as the collection takes: the cost of that request, paid now, not later."""
    await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
    gc.collect()


@dataclass(frozen=True)
class Window:
    """One fuzz request in flight: from when it was sent to when its outcome was known.

    Attributes:
        start: ``perf_counter`` when it was sent.
        end: ``perf_counter`` when its outcome (follow-up run included) was known.
        kind: The request's kind (``valid``, ``mutated``, ``raw``).
        code: How it ended.
        request: The request (``Target.describe``), when it was slow (a stall during a
            request makes the request slow too); else "".
        known: The known issue it showed (``tests.fuzz.known_issues``), or None.
    """

    start: float
    end: float
    kind: str
    code: grpc.StatusCode
    request: str = ""
    known: str | None = None

    def summary(self) -> str:
        took = (self.end - self.start) * 1000
        request = self.request or "(quick: not described)"
        return f"{self.code.name} after {took:.0f} ms <- {self.kind} {request}"


@dataclass(frozen=True)
class Stalls:
    """The health checks of a fuzz test, split by whether a known issue was in flight.

    Attributes:
        worst: The worst latency of the checks no known issue overlapped, seconds.
        culprits: The requests in flight during that check.
        known: Known issue -> the worst latency of the checks it overlapped, seconds.
    """

    worst: float
    culprits: list[Window]
    known: dict[str, float]


def stalls(samples: Sequence[Sample], windows: Sequence[Window]) -> Stalls:
    """Ties each health check to the requests in flight while it waited."""
    worst, culprits = 0.0, []
    known: dict[str, float] = {}
    for sample in samples:
        overlapping = [w for w in windows if w.start < sample.answered and w.end > sample.due]
        labels = {w.known for w in overlapping if w.known is not None}
        for label in labels:
            known[label] = max(known.get(label, 0.0), sample.latency)
        if not labels and sample.latency > worst:
            worst, culprits = sample.latency, overlapping
    return Stalls(worst, culprits, known)
