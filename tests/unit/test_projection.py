"""The run record as a fold of its events (runwire_server/service/stores/projection.py)."""

from __future__ import annotations

from runwire.v1 import event_pb2, run_pb2

from runwire_server.service.stores.projection import RECORD_PAYLOADS, apply_event


def logged(sequence: int, **payload: object) -> event_pb2.RunEvent:
    event = event_pb2.RunEvent(run_id="run_1", sequence=sequence, **payload)  # type: ignore[arg-type]
    event.create_time.FromSeconds(1_000 + sequence)
    return event


def state(value: run_pb2.RunState) -> event_pb2.StateChanged:
    return event_pb2.StateChanged(state=value)


def test_the_first_terminal_event_is_final() -> None:
    run = run_pb2.Run(run_id="run_1")
    assert apply_event(run, logged(1, state_changed=state(run_pb2.RUN_STATE_RUNNING)))
    finished = event_pb2.RunFinished(state=run_pb2.RUN_STATE_SUCCEEDED, output="done")
    assert apply_event(run, logged(2, run_finished=finished))
    # A CANCELLING that raced the end, then another replica's run_error: logged, not applied.
    assert apply_event(run, logged(3, state_changed=state(run_pb2.RUN_STATE_CANCELLING)))
    assert apply_event(run, logged(4, run_error=event_pb2.RunError(finish_reason="error")))
    assert (run.state, run.output, run.last_sequence) == (run_pb2.RUN_STATE_SUCCEEDED, "done", 4)
    assert run.end_time.seconds == 1_002 and run.update_time.seconds == 1_002
    assert not run.HasField("error")


def test_events_out_of_order_are_ignored() -> None:
    run = run_pb2.Run(run_id="run_1")
    assert not apply_event(run, logged(2, state_changed=state(run_pb2.RUN_STATE_RUNNING)))
    assert apply_event(run, logged(1, state_changed=state(run_pb2.RUN_STATE_RUNNING)))
    assert not apply_event(run, logged(1, state_changed=state(run_pb2.RUN_STATE_CANCELLING)))
    assert (run.state, run.last_sequence) == (run_pb2.RUN_STATE_RUNNING, 1)


def test_payloads_outside_record_payloads_only_advance_the_sequence() -> None:
    """``RunRecorder.publish`` leaves every payload outside ``RECORD_PAYLOADS`` to the
    next fold: applying one (with its fields set) must change nothing in a running
    run's record but ``last_sequence`` and ``update_time``."""
    payloads = event_pb2.RunEvent.DESCRIPTOR.oneofs_by_name["payload"].fields
    skipped = [field for field in payloads if field.name not in RECORD_PAYLOADS]
    assert {f.name for f in skipped} >= {"text_message_content", "tool_call_args", "step_started"}
    for field in skipped:
        run = run_pb2.Run(run_id="run_1", state=run_pb2.RUN_STATE_RUNNING, last_sequence=1)
        run.usage.input_tokens = 3
        run.required_actions.add(tool_call_id="call_1", approval_id="apr_1")
        event = event_pb2.RunEvent(run_id="run_1", sequence=2)
        payload = getattr(event, field.name)
        payload.SetInParent()
        for name in ("message_id", "tool_call_id", "approval_id", "delta", "text"):
            if name in payload.DESCRIPTOR.fields_by_name:
                setattr(payload, name, "call_1" if "id" in name else "x")
        event.create_time.seconds = 42
        before = run_pb2.Run()
        before.CopyFrom(run)
        assert apply_event(run, event), field.name
        before.last_sequence = 2
        before.update_time.seconds = 42
        assert run == before, field.name
