"""One list of error reasons: the server's code, ``runwire.v1.ErrorReason`` and docs/errors.md.

The server writes its ``google.rpc.ErrorInfo.reason`` strings where it raises
(``reason="AGENT_NOT_FOUND"``, a module constant, a ``default_reason`` class
attribute, a Temporal ``ApplicationError(type=...)`` that the API turns back
into a reason). These tests read the sources with ``ast`` and require that set
to equal the enum's value names, and the enum to equal the reasons of the
tables in docs/errors.md (each documented with a status code its proto comment
names too).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from runwire import ErrorReason, NotFoundError, RunwireError
from runwire._errors import reason_value
from runwire.v1 import error_reason_pb2

ROOT = Path(__file__).resolve().parents[2]
#: Where the server's code is: every reason it can send is written here.
SERVER_DIRS = ("runwire_server",)
PROTO = ROOT / "proto/runwire/v1/error_reason.proto"
DOC = ROOT / "docs/errors.md"

UNSPECIFIED = "ERROR_REASON_UNSPECIFIED"
#: What a reason looks like (UPPER_SNAKE); free-text ``reason=`` arguments
#: (an approval's reason, a discarded message's) are not.
REASON_SHAPE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
GRPC_CODES = {
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNAVAILABLE",
    "RESOURCE_EXHAUSTED",
    "DEADLINE_EXCEEDED",
    "DATA_LOSS",
    "INTERNAL",
}


def enum_reasons() -> set[str]:
    """The value names of ``runwire.v1.ErrorReason``, less the zero value."""
    return set(error_reason_pb2.ErrorReason.keys()) - {UNSPECIFIED}


def _server_modules() -> Iterator[tuple[Path, ast.Module]]:
    for folder in SERVER_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _string_constants(modules: list[tuple[Path, ast.Module]]) -> dict[str, set[str]]:
    """Module-level ``NAME = "TEXT"`` assignments of every module, by name."""
    constants: dict[str, set[str]] = {}
    for _, tree in modules:
        for node in tree.body:
            target: ast.expr | None = None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                constants.setdefault(target.id, set()).add(value.value)
    return constants


def _values(node: ast.expr, constants: dict[str, set[str]]) -> set[str]:
    """The strings ``node`` can be: a literal, a module constant, either
    branch of a conditional; nothing for a value computed at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name):
        return constants.get(node.id, set())
    if isinstance(node, ast.IfExp):
        return _values(node.body, constants) | _values(node.orelse, constants)
    return set()


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def server_reasons() -> dict[str, list[str]]:
    """Every reason the server's code can send, with where it is written
    (``path:line``)."""
    modules = list(_server_modules())
    constants = _string_constants(modules)
    found: dict[str, list[str]] = {}

    def add(values: set[str], path: Path, node: ast.AST) -> None:
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        for value in values:
            if REASON_SHAPE.match(value):
                found.setdefault(value, []).append(where)

    for path, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    # ErrorInfo(reason=...), RunwireError(..., reason=...) and
                    # helpers that pass one on; a Temporal ApplicationError's
                    # type becomes the reason on the API side.
                    if keyword.arg == "reason" or (
                        keyword.arg == "type" and _callee(node) == "ApplicationError"
                    ):
                        add(_values(keyword.value, constants), path, keyword.value)
            elif isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if isinstance(statement, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "default_reason"
                        for t in statement.targets
                    ):
                        add(_values(statement.value, constants), path, statement)
    return found


def proto_comments() -> dict[str, str]:
    """Each ``ErrorReason`` value's leading comment in the .proto file."""
    comments: dict[str, str] = {}
    block: list[str] = []
    for line in PROTO.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            block.append(stripped.removeprefix("//").strip())
            continue
        match = re.match(r"^([A-Z][A-Z0-9_]*) = \d+;$", stripped)
        if match:
            comments[match.group(1)] = " ".join(block)
        block = []
    return comments


def doc_rows() -> list[tuple[str, str]]:
    """``(reason, code)`` pairs of the reason tables in docs/errors.md: rows
    whose cells hold backquoted reasons and a status code."""
    rows: list[tuple[str, str]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| "):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        codes = [cell for cell in cells[:2] if cell in GRPC_CODES]
        reason_cells = [cell for cell in cells[:2] if cell.startswith("`")]
        if len(codes) != 1 or len(reason_cells) != 1:
            continue
        for reason in re.findall(r"`([A-Z0-9_]+)`", reason_cells[0]):
            rows.append((reason, codes[0]))
    return rows


def test_every_reason_the_server_sends_is_an_error_reason() -> None:
    unknown = {r: where for r, where in server_reasons().items() if r not in enum_reasons()}
    assert not unknown, (
        "reasons the server sends that runwire.v1.ErrorReason lacks "
        f"(add them to {PROTO.relative_to(ROOT)}): {unknown}"
    )


def test_every_error_reason_is_sent_somewhere() -> None:
    unused = enum_reasons() - set(server_reasons())
    assert not unused, f"ErrorReason values no server code sends: {sorted(unused)}"


def test_the_scan_finds_reasons_of_each_kind() -> None:
    found = server_reasons()
    # A literal, a module constant, a conditional, a default_reason, an
    # ApplicationError type: each form the scan reads is in use.
    assert "runwire_server/service/stores/agents.py" in " ".join(found["AGENT_NOT_FOUND"])
    assert "runwire_server/service/agent/decisions.py" in " ".join(found["APPROVAL_NOT_PENDING"])
    assert {"MODEL_ERROR", "PROVIDER_UNAVAILABLE"} <= set(found)
    assert "runwire_server/service/runtimes/payload_codec.py" in " ".join(found["CLAIM_NOT_FOUND"])
    assert "runwire_server/worker/workflows.py" in " ".join(found["RUN_FAILED"])
    assert "the run ended before a decision" not in found


def test_every_value_is_documented_in_the_proto() -> None:
    comments = proto_comments()
    assert set(comments) == enum_reasons() | {UNSPECIFIED}
    for reason in enum_reasons():
        named = GRPC_CODES & set(re.findall(r"[A-Z_]+", comments[reason]))
        assert named, f"the comment of {reason} names no status code: {comments[reason]!r}"


def test_docs_table_matches_the_enum() -> None:
    rows = doc_rows()
    documented = {reason for reason, _ in rows}
    assert documented == enum_reasons(), (
        f"docs/errors.md lacks {sorted(enum_reasons() - documented)}, "
        f"has unknown {sorted(documented - enum_reasons())}"
    )
    comments = proto_comments()
    for reason, code in rows:
        assert code in comments[reason], (
            f"docs/errors.md sends {reason} with {code}; its proto comment does not say so"
        )


def test_wire_reason_is_the_value_name() -> None:
    enum = error_reason_pb2.ErrorReason
    assert enum.Name(enum.Value("AGENT_NOT_FOUND")) == "AGENT_NOT_FOUND"
    assert enum.Value("AGENT_NOT_FOUND") == error_reason_pb2.AGENT_NOT_FOUND
    assert all(not name.startswith("ERROR_REASON_") for name in enum_reasons())


def test_the_python_client_surfaces_the_enum() -> None:
    error = NotFoundError("gone", reason="AGENT_NOT_FOUND", domain="runwire.dev")
    assert error.reason_enum == ErrorReason.AGENT_NOT_FOUND
    assert ErrorReason.Name(error.reason_enum) == error.reason
    unspecified = ErrorReason.ERROR_REASON_UNSPECIFIED
    assert RunwireError("no status").reason_enum == unspecified
    assert RunwireError("newer", reason="A_REASON_OF_A_NEWER_SERVER").reason_enum == unspecified
    assert reason_value("AGENT_NOT_FOUND", "example.com") == unspecified
    assert {reason_value(name) for name in enum_reasons()} == {
        ErrorReason.Value(name) for name in enum_reasons()
    }
