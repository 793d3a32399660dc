"""The vocabulary every other package shares: messages, tool specs, usage, the run
spec, decisions and errors (plus ``timestamps``, ``logs`` and ``telemetry`` helpers,
imported from their modules).

It imports nothing else of Runwire's, so ``llm``, ``tools``, ``stores``, ``agent``,
``runtimes`` and ``api`` (and the worker) can all stand on it.
"""

from runwire_server.service.core.errors import (
    ERROR_DOMAIN,
    AbortedError,
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    RunwireError,
    UnavailableError,
)
from runwire_server.service.core.messages import ChatMessage, Role, ToolCall, ToolSpec, Usage
from runwire_server.service.core.spec import (
    ApprovalDecision,
    ApprovalMode,
    Decision,
    LoopCheckpoint,
    ModelRef,
    RunSpec,
    ToolOutput,
)

__all__ = [
    "ERROR_DOMAIN",
    "AbortedError",
    "AlreadyExistsError",
    "ApprovalDecision",
    "ApprovalMode",
    "ChatMessage",
    "DeadlineExceededError",
    "Decision",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "LoopCheckpoint",
    "ModelRef",
    "NotFoundError",
    "OutOfRangeError",
    "Role",
    "RunSpec",
    "RunwireError",
    "ToolCall",
    "ToolOutput",
    "ToolSpec",
    "UnavailableError",
    "Usage",
]
