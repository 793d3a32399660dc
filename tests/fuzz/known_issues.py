"""Cases the fuzzer found that the server does not handle yet: reported, not failed.

Each function returns a label (one line, printed in the fuzz report with a count)
when what it is shown is a known issue, else None; the fuzz test then lets the case
through instead of failing. A health check slowed down while a known case was in
flight counts for that case, not against the latency bound.

When the server is fixed, delete the case here: the fuzzer then holds the server to
it like to every other invariant.
"""

from __future__ import annotations

import grpc
from google.protobuf.message import Message

from tests.fuzz.conftest import Attempt
from tests.fuzz.harness import Outcome, Target

#: The items a repeated request field may hold under the contract (``max_items``).
_REPEATED_LIMIT = 64

#: A repeated field with more items than this is a flood (``REPEATED_FLOOD``).
_FLOOD_ITEMS = 1_000
#: A Struct with more fields than this is "wide" (``WIDE_STRUCT``).
_WIDE_STRUCT_FIELDS = 10_000

#: The public hosts of the providers' SDK defaults.
_SDK_DEFAULT_HOSTS = frozenset({"api.openai.com", "api.anthropic.com"})

REPEATED_FLOOD = (
    "protovalidate checks every item of a repeated field past its max_items before the "
    "error is built: 100,000 empty client_tools or tool_outputs (a 200 KB request) hold "
    "the event loop about 2 s, and leave some 800,000 objects in reference cycles (the "
    "error's traceback holds the violations) for the next full garbage collection"
)

WIDE_STRUCT = (
    "a Struct outside an agent has no size limit (ResolveApproval.edited_arguments is "
    "accepted at 1 MB / 50,000 keys; client_tools[].parameters of CreateRun, StreamRun and "
    "WaitRun are parsed, validated and converted before being refused): 0.2-1 s on the "
    "event loop per request, and an approved run carries the arguments on"
)

HEALTH_LIST = (
    "grpc.health.v1.Health/List (open to anyone) is not implemented by grpcio-health-"
    "checking's servicer: UNIMPLEMENTED, and a traceback logged at ERROR per call"
)


def _longest_repeated(message: Message, depth: int = 0) -> int:
    """The most items of any repeated field in ``message`` (nested messages included)."""
    longest = 0
    for field, value in message.ListFields():
        if field.is_repeated:
            longest = max(longest, len(value))
            if field.message_type is not None and depth < 3 and len(value) <= _REPEATED_LIMIT:
                for item in value:
                    if isinstance(item, Message):
                        longest = max(longest, _longest_repeated(item, depth + 1))
        elif isinstance(value, Message) and depth < 3:
            longest = max(longest, _longest_repeated(value, depth + 1))
    return longest


def _widest_struct(message: Message, depth: int = 0) -> int:
    """The most fields of any ``google.protobuf.Struct`` in ``message``."""
    if message.DESCRIPTOR.full_name == "google.protobuf.Struct":
        return len(message.fields)  # type: ignore[attr-defined]
    widest = 0
    for field, value in message.ListFields():
        if field.message_type is None or depth >= 4 or field.message_type.GetOptions().map_entry:
            continue
        items = value if field.is_repeated else [value]
        for item in list(items)[:_REPEATED_LIMIT]:
            widest = max(widest, _widest_struct(item, depth + 1))
    return widest


def known_issue(target: Target, data: bytes, outcome: Outcome) -> str | None:
    """The known issue the call of ``target`` with ``data`` shows, or None (also for a
    call that went well or timed out: the health checks meanwhile count for the issue)."""
    request = target.decode(data)  # called for slow or failing calls only
    if request is not None:
        if _longest_repeated(request) > _FLOOD_ITEMS:
            return REPEATED_FLOOD
        agents = target.name.startswith("runwire.v1.AgentService/")  # under max_agent_bytes
        if not agents and _widest_struct(request) > _WIDE_STRUCT_FIELDS:
            return WIDE_STRUCT
    details = outcome.details
    if details is None:
        return None
    if (
        target.name == "grpc.health.v1.Health/List"
        and outcome.code == grpc.StatusCode.UNIMPLEMENTED
    ):
        return HEALTH_LIST
    return None


def known_log_issue(line: str) -> str | None:
    """The known issue a log line (``logger: message``) at ERROR or with a traceback shows."""
    if "raised by servicer method [/grpc.health.v1.Health/List]" in line:
        return HEALTH_LIST
    return None


def known_network_issue(attempt: Attempt) -> str | None:
    """The known issue an attempt to reach beyond loopback shows (refused all the same)."""
    if attempt.host in _SDK_DEFAULT_HOSTS:
        return (
            f"a run of an agent naming provider openai/anthropic and no endpoint reaches "
            f"for {attempt.host}: with no default endpoint configured, the provider falls "
            "back to the SDK's public base URL (with the placeholder key)"
        )
    return None
