"""Who may call what: one permission per RPC, one set of permissions per role.

docs/security.md prints these tables; tests/integration/test_authorization.py
holds its own copy and checks every RPC of every service against it.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The permission each RPC needs, by full method name.
METHOD_PERMISSIONS: dict[str, str] = {
    "/runwire.v1.AgentService/CreateAgent": "agents.write",
    "/runwire.v1.AgentService/GetAgent": "agents.read",
    "/runwire.v1.AgentService/ListAgents": "agents.read",
    "/runwire.v1.AgentService/UpdateAgent": "agents.write",
    "/runwire.v1.AgentService/DeleteAgent": "agents.write",
    "/runwire.v1.AgentService/ListAgentTools": "agents.read",
    "/runwire.v1.ToolService/ListTools": "agents.read",
    "/runwire.v1.RunService/CreateRun": "runs.create",
    "/runwire.v1.RunService/StreamRun": "runs.create",
    "/runwire.v1.RunService/WaitRun": "runs.create",
    "/runwire.v1.RunService/GetRun": "runs.read",
    "/runwire.v1.RunService/ListRuns": "runs.read",
    "/runwire.v1.RunService/CancelRun": "runs.cancel",
    "/runwire.v1.RunService/PauseRun": "runs.cancel",
    "/runwire.v1.RunService/ResumeRun": "runs.cancel",
    "/runwire.v1.RunService/StreamRunEvents": "runs.read",
    "/runwire.v1.RunService/ListRunEvents": "runs.read",
    "/runwire.v1.RunService/SubmitToolOutputs": "runs.submit_tool_outputs",
    "/runwire.v1.RunService/WatchRuns": "runs.read",
    "/runwire.v1.ApprovalService/ListApprovals": "approvals.read",
    "/runwire.v1.ApprovalService/GetApproval": "approvals.read",
    "/runwire.v1.ApprovalService/ResolveApproval": "approvals.resolve",
    "/runwire.v1.ApprovalService/WatchApprovals": "approvals.read",
    "/runwire.v1.ThreadService/CreateThread": "threads.write",
    "/runwire.v1.ThreadService/GetThread": "threads.read",
    "/runwire.v1.ThreadService/ListThreadMessages": "threads.read",
    "/runwire.v1.ThreadService/DeleteThread": "threads.write",
}

#: Methods any caller may use without credentials.
OPEN_METHODS = frozenset(
    {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.health.v1.Health/List",
    }
)
#: Methods any authenticated caller may use, whatever its roles.
AUTHENTICATED_METHODS = frozenset(
    {
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)

_VIEWER = frozenset({"agents.read", "runs.read", "approvals.read", "threads.read"})
_RUNNER = _VIEWER | {"runs.create", "runs.cancel", "runs.submit_tool_outputs", "threads.write"}
_APPROVER = _VIEWER | {"approvals.resolve"}
_EDITOR = _RUNNER | {"agents.write"}
_ADMIN = _EDITOR | _APPROVER

#: The permissions of each role (all within the principal's own tenant).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "runner": frozenset(_RUNNER),
    "approver": frozenset(_APPROVER),
    "editor": frozenset(_EDITOR),
    "admin": frozenset(_ADMIN),
}


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    """The union of the permissions of ``roles`` (unknown roles grant nothing)."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
