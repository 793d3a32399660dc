"""Drives one Runwire run end to end with the Python client (``runwire.Client``).

It creates an agent on the scripted model, streams a run whose first turn calls
a server tool that needs an approval (calculator) and a tool the client
executes itself (lookup_order), approves the one (``on_approval=``) and answers
the other (``tools=``), disconnects on purpose while the final answer streams,
resumes after the last sequence it saw, and checks that every step happened.

Usage: python quickstart.py [ADDRESS]   (default: RUNWIRE_ADDRESS, else 127.0.0.1:50051)

TLS and the bearer token come from the environment: RUNWIRE_TOKEN,
RUNWIRE_CA_FILE, RUNWIRE_CLIENT_CERT_FILE, RUNWIRE_CLIENT_KEY_FILE,
RUNWIRE_TLS_SERVER_NAME; without them the connection is plaintext.

It exits 0 only when every check passes.
"""

from __future__ import annotations

import json
import secrets
import sys
from typing import Any

import runwire
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2

FIRST_TEXT = "Checking the order and the total."
FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57."
#: Deltas of the final message to read before disconnecting on purpose.
DELTAS_BEFORE_DISCONNECT = 3


def lookup_order(arguments: dict[str, Any]) -> dict[str, str]:
    """Looks up an order by id. (The client tool: it runs here, not on the server.)"""
    print(f"   lookup_order runs in Python with {json.dumps(arguments, separators=(',', ':'))}")
    return {"order_id": str(arguments["order_id"]), "status": "shipped"}


def approve(requested: event_pb2.ApprovalRequested) -> runwire.Decision:
    print(f"   approving {requested.tool_name} ({requested.approval_id})")
    return runwire.Decision.approved()


class Tracker:
    """Prints a run's events and records what the checks need."""

    def __init__(self) -> None:
        self.run_id = ""
        self.sequences: list[int] = []
        self.step = 0
        self.final_deltas = 0
        self.final_text = ""
        self.tool_names: dict[str, str] = {}
        self.tool_results: dict[str, str] = {}
        self.approvals = 0
        self.client_calls = 0
        self.resolved_by = ""
        self.finished: event_pb2.RunFinished | None = None
        self.failed: event_pb2.RunError | None = None

    def handle(self, event: event_pb2.RunEvent, may_disconnect: bool) -> bool:
        """Prints one event; True when the stream should be dropped on purpose."""
        if not self.run_id:
            self.run_id = event.run_id
            print(f"run_id: {self.run_id}")
        self.sequences.append(event.sequence)
        kind = event.WhichOneof("payload") or ""
        detail = self.record(event, kind)
        print(f"#{event.sequence} {kind}" + (f" {detail}" if detail else ""))
        if kind == "text_message_content" and self.step >= 2:
            self.final_text += event.text_message_content.delta
            self.final_deltas += 1
            return may_disconnect and self.final_deltas == DELTAS_BEFORE_DISCONNECT
        return False

    def record(self, event: event_pb2.RunEvent, kind: str) -> str:
        """Records what the checks need of one event; returns what to print after its kind."""
        if kind == "state_changed":
            return run_pb2.RunState.Name(event.state_changed.state)
        if kind == "step_started":
            self.step = event.step_started.step
            return str(self.step)
        if kind == "text_message_content":
            return json.dumps(event.text_message_content.delta)
        if kind == "tool_call_start":
            start = event.tool_call_start
            self.tool_names[start.tool_call_id] = start.tool_call_name
            return start.tool_call_name
        if kind == "approval_requested":
            self.approvals += 1
            requested = event.approval_requested
            return f"{requested.tool_name}({requested.arguments})"
        if kind == "approval_resolved":
            resolved = event.approval_resolved
            self.resolved_by = resolved.resolved_by
            return f"{approval_pb2.ApprovalState.Name(resolved.state)} by {resolved.resolved_by}"
        if kind == "client_tool_call_requested":
            self.client_calls += 1
            call = event.client_tool_call_requested
            return f"{call.tool_name}({call.arguments})"
        if kind == "tool_call_result":
            result = event.tool_call_result
            name = self.tool_names.get(result.tool_call_id, "?")
            self.tool_results[name] = result.content
            return f"{name} -> {result.content}"
        if kind == "run_finished":
            self.finished = event.run_finished
            return run_pb2.RunState.Name(event.run_finished.state)
        if kind == "run_error":
            self.failed = event.run_error
            return str(event.run_error.error.message)
        return ""

    def problems(self) -> list[str]:
        found = []
        if self.approvals != 1:
            found.append(f"approval_requested {self.approvals} times, want 1")
        if self.client_calls != 1:
            found.append(f"client_tool_call_requested {self.client_calls} times, want 1")
        if self.tool_results.get("calculator") != "57":
            found.append(f"calculator result {self.tool_results.get('calculator')!r}, want '57'")
        lookup = self.tool_results.get("lookup_order", "")
        if json.loads(lookup or "{}").get("status") != "shipped":
            found.append(f"lookup_order result {lookup!r}, want a shipped order")
        if self.sequences != list(range(1, len(self.sequences) + 1)):
            found.append(f"sequences {self.sequences} are not 1..N without gaps or duplicates")
        if self.failed is not None:
            found.append(f"the run failed: {self.failed.error.message}")
        elif self.finished is None:
            found.append("no run_finished event")
        elif self.finished.state != run_pb2.RUN_STATE_SUCCEEDED or (
            self.finished.output != FINAL_TEXT
        ):
            found.append(f"run finished {self.finished.state} with {self.finished.output!r}")
        if self.final_text != FINAL_TEXT:
            found.append(f"streamed final text {self.final_text!r}, want {FINAL_TEXT!r}")
        return found


def main(address: str | None) -> int:
    with runwire.connect(address) as client:
        print(f"Runwire Python quickstart · server {client.address}")
        agent_id = f"py-quickstart-{secrets.token_hex(4)}"
        script = [
            {
                "text": FIRST_TEXT,
                "tool_calls": [
                    {"name": "calculator", "arguments": {"expression": "19 * 3"}},
                    {"name": "lookup_order", "arguments": {"order_id": "A-17"}},
                ],
            },
            {"text": FINAL_TEXT},
        ]
        try:
            agent = client.agents.create(
                agent_id,
                model=runwire.model("scripted", script=script, chunk_chars=4, delay_ms=30),
                display_name="Python quickstart",
                instructions="You look up orders and do the arithmetic.",
                tools=["calculator"],
                approval_mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
            )
        except runwire.RunwireError as exc:
            print(f"FAILED: creating the agent: {exc}", file=sys.stderr)
            return 1
        print(
            f"agent {agent.agent_id}: scripted model, tool calculator, "
            "every tool call needs approval"
        )

        # The typed error: creating the same agent again is ALREADY_EXISTS.
        try:
            client.agents.create(agent_id, agent)
        except runwire.AlreadyExistsError as exc:
            print(f"creating it again fails as expected: {type(exc).__name__}, reason {exc.reason}")
        else:
            print("FAILED: creating the agent twice succeeded", file=sys.stderr)
            return 1

        tracker = Tracker()
        print("-- StreamRun")
        stream = client.runs.stream(
            agent_id,
            "Where is order A-17, and what do 3 items at 19 cost?",
            client_tools=[
                runwire.client_tool(
                    "lookup_order",
                    "Looks up an order by id.",
                    {
                        "type": "object",
                        "properties": {"order_id": {"type": "string"}},
                        "required": ["order_id"],
                    },
                )
            ],
            tools={"lookup_order": lookup_order},
            on_approval=approve,
            on_resume=lambda r: print(f"-- resuming after {r.after_sequence}: {r.error}"),
        )
        disconnected = False
        for event in stream:
            if tracker.handle(event, may_disconnect=True):
                disconnected = True
                break  # closes the stream; the run goes on on the server
        if not disconnected:
            print("FAILED: the stream ended before the planned disconnect", file=sys.stderr)
            return 1
        after = stream.last_sequence
        print(
            f"-- disconnected on purpose after sequence {after}; "
            f"resuming with StreamRunEvents(after_sequence={after})"
        )
        for event in client.runs.events(tracker.run_id, after_sequence=after):
            tracker.handle(event, may_disconnect=False)
        if tracker.finished is not None:
            print(f"final output: {tracker.finished.output}")
        run = client.runs.get(tracker.run_id)
        print(f"GetRun: {run_pb2.RunState.Name(run.state)}, last_sequence {run.last_sequence}")
        problems = tracker.problems()
        if run.last_sequence != len(tracker.sequences):
            problems.append(f"saw {len(tracker.sequences)} events, the run has {run.last_sequence}")
        if problems:
            print("FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print(
            f"OK: {len(tracker.sequences)} events, sequences 1..{tracker.sequences[-1]} gap-free "
            "across the disconnect, approval and client tool handled"
        )
        return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
    except runwire.RunwireError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
