package runwire

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync/atomic"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// ErrStreamStarted is yielded when the sequence returned by
// [Client.StreamRun] is ranged over a second time: that would start a second
// run. Follow the first run with [Client.Resume] instead.
var ErrStreamStarted = errors.New("runwire: this StreamRun sequence was already ranged over; use Resume to follow the run again")

// StreamRun starts a run and returns its events, from sequence 1 to the
// terminal event (run_finished or run_error), as an iterator:
//
//	for ev, err := range client.StreamRun(ctx, req) { ... }
//
// The RPC starts when the loop starts. Heartbeats (sequence 0) are skipped.
// An RPC error (an [*Error]) is yielded once, as the last element. Breaking
// out of the loop cancels the stream, which disconnects the client only: the
// run goes on, and [Client.Resume](ctx, ev.RunId, ev.Sequence) continues
// after the last event seen with nothing lost or doubled.
//
// The sequence can be ranged over once (a second range yields
// [ErrStreamStarted]); set req.RequestId to make a retried StreamRun stream
// the run the first request started instead of a new one.
func (c *Client) StreamRun(ctx context.Context, req *runwirev1.StreamRunRequest) iter.Seq2[*runwirev1.RunEvent, error] {
	var started atomic.Bool
	return func(yield func(*runwirev1.RunEvent, error) bool) {
		if started.Swap(true) {
			yield(nil, ErrStreamStarted)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.Runs.StreamRun(ctx, req)
		if err != nil {
			yield(nil, wrapError(err))
			return
		}
		forward(stream.Recv, yield)
	}
}

// Resume streams a run's events with a sequence greater than afterSequence
// (0: from the first) until the terminal event: the logged ones first, then
// live ones. It works while the run goes on and after it ended (as long as
// the server keeps its log); OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE) when
// afterSequence is past the end of an ended run. Heartbeats are skipped,
// breaking out of the loop cancels the stream, and an RPC error is yielded
// once, last. Each range opens a new StreamRunEvents call.
func (c *Client) Resume(ctx context.Context, runID string, afterSequence int64) iter.Seq2[*runwirev1.RunEvent, error] {
	return func(yield func(*runwirev1.RunEvent, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.Runs.StreamRunEvents(ctx, &runwirev1.StreamRunEventsRequest{
			RunId:         runID,
			AfterSequence: afterSequence,
		})
		if err != nil {
			yield(nil, wrapError(err))
			return
		}
		forward(stream.Recv, yield)
	}
}

type eventMessage interface {
	GetEvent() *runwirev1.RunEvent
}

// forward yields the events received until the stream ends (io.EOF) or fails,
// or the consumer stops.
func forward[M eventMessage](recv func() (M, error), yield func(*runwirev1.RunEvent, error) bool) {
	for {
		msg, err := recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			yield(nil, wrapError(err))
			return
		}
		ev := msg.GetEvent()
		if ev == nil || IsHeartbeat(ev) {
			continue
		}
		if !yield(ev, nil) {
			return
		}
	}
}

// IsHeartbeat reports whether ev is a heartbeat (sequence 0, never logged).
func IsHeartbeat(ev *runwirev1.RunEvent) bool {
	return ev.GetHeartbeat() != nil
}

// IsTerminal reports whether ev ends its run: run_finished (SUCCEEDED or
// CANCELLED) or run_error (FAILED).
func IsTerminal(ev *runwirev1.RunEvent) bool {
	return ev.GetRunFinished() != nil || ev.GetRunError() != nil
}

// EventType returns the name of ev's payload as in the contract, for example
// "text_message_content" or "run_finished"; "" when it has none.
func EventType(ev *runwirev1.RunEvent) string {
	oneof := ev.ProtoReflect().Descriptor().Oneofs().ByName("payload")
	field := ev.ProtoReflect().WhichOneof(oneof)
	if field == nil {
		return ""
	}
	return string(field.Name())
}
