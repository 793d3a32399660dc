"""The run record as a fold of its events.

A ``runwire.v1.Run`` is derived from the run's event log: applying each
logged event in order yields the state, usage, pending actions, output and
error that ``GetRun`` returns. Both runtimes and any service replica can
rebuild a run from its log this way.
"""

from __future__ import annotations

from runwire.v1 import event_pb2, run_pb2

TERMINAL_STATES = frozenset(
    {run_pb2.RUN_STATE_SUCCEEDED, run_pb2.RUN_STATE_FAILED, run_pb2.RUN_STATE_CANCELLED}
)

#: The payloads ``apply_event`` folds into more than ``last_sequence`` and
#: ``update_time``: state, times, usage, required actions, output, error. The
#: others (text, reasoning, steps, tool call starts/arguments/ends, discarded
#: messages) only advance the record's sequence, so a publisher may leave them
#: to the next fold (``RunRecorder.publish``).
RECORD_PAYLOADS = frozenset(
    {
        "run_started",
        "run_finished",
        "run_error",
        "state_changed",
        "tool_call_result",
        "approval_requested",
        "approval_resolved",
        "client_tool_call_requested",
        "usage",
    }
)


def apply_event(run: run_pb2.Run, event: event_pb2.RunEvent) -> bool:
    """Updates ``run`` in place with one logged ``event``.

    Idempotent: an event whose sequence is not ``run.last_sequence + 1`` is
    ignored (already applied, or out of order: the caller catches up from the
    log first). Returns whether the event was applied.

    The first terminal event (``run_finished``, ``run_error``) is final: an event
    logged after it (a CANCELLING that raced the run's end, a lost replica's last
    event landing after another replica ended its run) only advances
    ``last_sequence``.
    """
    if event.sequence != run.last_sequence + 1:
        return False
    if run.HasField("end_time"):
        run.last_sequence = event.sequence
        return True
    kind = event.WhichOneof("payload")
    if kind in ("approval_requested", "approval_resolved") and getattr(event, kind).run_id:
        # A sub-agent's approval announced here: the child's run waits for it, not this one.
        kind = None
    if kind == "run_started":
        run.start_time.CopyFrom(event.create_time)
    elif kind == "state_changed":
        run.state = event.state_changed.state
    elif kind == "approval_requested":
        p = event.approval_requested
        run.required_actions.append(
            run_pb2.RequiredAction(
                type=run_pb2.REQUIRED_ACTION_TYPE_APPROVAL,
                tool_call_id=p.tool_call_id,
                tool_name=p.tool_name,
                arguments=p.arguments,
                approval_id=p.approval_id,
            )
        )
    elif kind == "approval_resolved":
        _remove_actions(run, lambda a: a.approval_id == event.approval_resolved.approval_id)
    elif kind == "client_tool_call_requested":
        c = event.client_tool_call_requested
        run.required_actions.append(
            run_pb2.RequiredAction(
                type=run_pb2.REQUIRED_ACTION_TYPE_CLIENT_TOOL_CALL,
                tool_call_id=c.tool_call_id,
                tool_name=c.tool_name,
                arguments=c.arguments,
            )
        )
    elif kind == "tool_call_result":
        _remove_actions(
            run,
            lambda a: (
                a.type == run_pb2.REQUIRED_ACTION_TYPE_CLIENT_TOOL_CALL
                and a.tool_call_id == event.tool_call_result.tool_call_id
            ),
        )
    elif kind == "usage":
        run.usage.CopyFrom(event.usage)
    elif kind == "run_finished":
        finished = event.run_finished
        run.state = finished.state
        run.output = finished.output
        run.finish_reason = finished.finish_reason
        run.usage.CopyFrom(finished.usage)
        _end(run, event)
    elif kind == "run_error":
        failed = event.run_error
        run.state = run_pb2.RUN_STATE_FAILED
        run.error.CopyFrom(failed.error)
        run.finish_reason = failed.finish_reason
        run.usage.CopyFrom(failed.usage)
        _end(run, event)
    run.last_sequence = event.sequence
    run.update_time.CopyFrom(event.create_time)
    return True


def _end(run: run_pb2.Run, event: event_pb2.RunEvent) -> None:
    run.end_time.CopyFrom(event.create_time)
    del run.required_actions[:]


def _remove_actions(run: run_pb2.Run, match: object) -> None:
    keep = [a for a in run.required_actions if not match(a)]  # type: ignore[operator]
    del run.required_actions[:]
    run.required_actions.extend(keep)
