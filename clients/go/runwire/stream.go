package runwire

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"iter"
	mathrand "math/rand/v2"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// ErrStreamStarted is yielded when the sequence returned by
// [Client.StreamRun] is ranged over a second time: that would start a second
// run. Follow the first run with [Client.Resume] instead.
var ErrStreamStarted = errors.New("runwire: this StreamRun sequence was already ranged over; use Resume to follow the run again")

// Default values of [ReconnectPolicy].
const (
	DefaultMaxResumes     = 8
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultMaxBackoff     = 3 * time.Second
)

// ReconnectPolicy says how [Client.StreamRun] and [Client.Resume] reopen a
// stream that ended early: with UNAVAILABLE and reason DRAINING (the server
// shuts down gracefully) or UNAVAILABLE without ErrorInfo (the connection
// was lost). They reopen StreamRunEvents after the last sequence seen, so the
// consumer sees every event once, in order, with no gap. [Client.CreateRun]
// and [Client.WaitRun] retry such a failure under the same bounds, with the
// same request_id (the server returns the run the first attempt started, if
// it did). The zero value applies the defaults.
type ReconnectPolicy struct {
	// MaxResumes bounds the resumes in a row that bring no new event (a new
	// event resets the count); the error is yielded once they are used up.
	// It bounds the retries of one CreateRun or WaitRun alike.
	// 0: DefaultMaxResumes; negative: never resume or retry.
	MaxResumes int
	// InitialBackoff is the wait before the first resume; it doubles for
	// each further resume in a row, up to MaxBackoff, with jitter (each wait
	// is 50 to 100 % of the nominal one). 0: the defaults.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// OnResume, when set, is called before each resume with the run's id
	// ("" while StreamRun has seen no event: the StreamRun is then retried
	// with the same request_id), the sequence resumed after, the 1-based
	// attempt number and the error that ended the stream.
	OnResume func(runID string, afterSequence int64, attempt int, cause error)
	// OnRetry, when set, is called before each retry of a run-creating call
	// ([Client.CreateRun], [Client.WaitRun]) and each reopening of a watch
	// ([Client.WatchRuns], [Client.WatchApprovals]) with the RPC's name
	// ("CreateRun", "WaitRun", "WatchRuns", "WatchApprovals"), the 1-based
	// attempt number in a row and the error that failed the call.
	OnRetry func(method string, attempt int, cause error)
}

func (p ReconnectPolicy) maxResumes() int {
	switch {
	case p.MaxResumes < 0:
		return 0
	case p.MaxResumes == 0:
		return DefaultMaxResumes
	}
	return p.MaxResumes
}

// backoff is the wait before resume number attempt (1-based).
func (p ReconnectPolicy) backoff(attempt int) time.Duration {
	initial, ceiling := p.InitialBackoff, p.MaxBackoff
	if initial <= 0 {
		initial = DefaultInitialBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	wait := initial
	for i := 1; i < attempt && wait < ceiling; i++ {
		wait *= 2
	}
	wait = min(wait, ceiling)
	return wait/2 + time.Duration(mathrand.Int64N(int64(wait/2)+1))
}

// Resumable reports whether err ends an event stream in a way a resume
// fixes: UNAVAILABLE with reason DRAINING, or UNAVAILABLE without ErrorInfo
// (a lost connection). UNAVAILABLE with another reason (RUNTIME_UNAVAILABLE)
// is not.
func Resumable(err error) bool {
	e, ok := AsError(err)
	return ok && e.Code == codes.Unavailable && (e.Reason == "" || e.Reason == ReasonDraining)
}

// retryCall calls call until it succeeds, fails with an error that is not
// [Resumable], ctx ends, or c.Reconnect's resumes are used up (then the last
// error is returned), waiting c.Reconnect's backoff between attempts. Only
// calls that are safe to repeat go through it (a run-creating request with
// its request_id set).
func retryCall[T any](ctx context.Context, c *Client, method string, call func(context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		result, err := call(ctx)
		if err == nil {
			return result, nil
		}
		err = wrapError(err)
		if !Resumable(err) || ctx.Err() != nil || attempt > c.Reconnect.maxResumes() {
			return result, err
		}
		if c.Reconnect.OnRetry != nil {
			c.Reconnect.OnRetry(method, attempt, err)
		}
		timer := time.NewTimer(c.Reconnect.backoff(attempt))
		select {
		case <-ctx.Done():
			timer.Stop()
			return result, err
		case <-timer.C:
		}
	}
}

// NewRequestID returns a random UUID (version 4), the request_id the run
// methods set when the request has none.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// StreamRun starts a run and returns its events, from sequence 1 to the
// terminal event (run_finished or run_error), as an iterator:
//
//	for ev, err := range client.StreamRun(ctx, req) { ... }
//
// The RPC starts when the loop starts. Heartbeats (sequence 0) are skipped.
// When req.RequestId is empty a random one ([NewRequestID]) is used, so a
// retry never starts a second run (req itself is not modified).
//
// With req.Filter set (an [runwirev1.EventFilter]: a profile or event
// types), only the matching events come, with the sequences of the run's log
// (a filtered stream skips numbers); the terminal event always comes.
//
// A stream that ends with UNAVAILABLE (DRAINING, or a lost connection) is
// resumed by itself per [Client.Reconnect]: StreamRunEvents after the last
// sequence seen, with the same filter (before the first event: StreamRun
// again with the same request_id). Events are yielded once each, in order,
// with no gap (none the filter lets through is lost). Any
// other RPC error (an [*Error]), or the last one once the resumes are used
// up, is yielded once, as the last element. Breaking out of the loop cancels
// the stream, which disconnects the client only: the run goes on, and
// [Client.Resume](ctx, ev.RunId, ev.Sequence) continues after the last event
// seen with nothing lost or doubled.
//
// The sequence can be ranged over once (a second range yields
// [ErrStreamStarted]).
func (c *Client) StreamRun(ctx context.Context, req *runwirev1.StreamRunRequest) iter.Seq2[*runwirev1.RunEvent, error] {
	req = proto.CloneOf(req)
	if req.GetRequestId() == "" {
		req.RequestId = NewRequestID()
	}
	var started atomic.Bool
	return func(yield func(*runwirev1.RunEvent, error) bool) {
		if started.Swap(true) {
			yield(nil, ErrStreamStarted)
			return
		}
		start := func(ctx context.Context) (func() (*runwirev1.RunEvent, error), error) {
			stream, err := c.Runs.StreamRun(ctx, req)
			if err != nil {
				return nil, err
			}
			return func() (*runwirev1.RunEvent, error) {
				msg, err := stream.Recv()
				return msg.GetEvent(), err
			}, nil
		}
		c.follow(ctx, "", 0, req.GetFilter(), start, yield)
	}
}

// Resume streams a run's events with a sequence greater than afterSequence
// (0: from the first) until the terminal event: the logged ones first, then
// live ones. It works while the run goes on and after it ended (as long as
// the server keeps its log); OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE) when
// afterSequence is past the end of an ended run. Heartbeats are skipped,
// breaking out of the loop cancels the stream, a stream that ends with
// UNAVAILABLE (DRAINING, or a lost connection) is resumed by itself as in
// [Client.StreamRun], and any other RPC error is yielded once, last. Each
// range opens a new StreamRunEvents call.
func (c *Client) Resume(ctx context.Context, runID string, afterSequence int64) iter.Seq2[*runwirev1.RunEvent, error] {
	return c.ResumeEvents(ctx, &runwirev1.StreamRunEventsRequest{RunId: runID, AfterSequence: afterSequence})
}

// ResumeEvents is [Client.Resume] with every field of the request: the run,
// the sequence to resume after and a filter (req.Filter: a profile or event
// types; only the matching events come, with their log sequences, and the
// terminal event always). Its own resumes pass the same filter.
func (c *Client) ResumeEvents(ctx context.Context, req *runwirev1.StreamRunEventsRequest) iter.Seq2[*runwirev1.RunEvent, error] {
	runID, after, filter := req.GetRunId(), req.GetAfterSequence(), req.GetFilter()
	return func(yield func(*runwirev1.RunEvent, error) bool) {
		c.follow(ctx, runID, after, filter, nil, yield)
	}
}

// follow yields a run's events until the terminal event, the end of the
// stream, an error that is not resumable (or the last one once the resumes
// are used up), or the consumer stops. start opens the first stream while
// runID is unknown; after that, StreamRunEvents(runID, last, filter) is
// reopened.
func (c *Client) follow(
	ctx context.Context,
	runID string,
	last int64,
	filter *runwirev1.EventFilter,
	start func(context.Context) (func() (*runwirev1.RunEvent, error), error),
	yield func(*runwirev1.RunEvent, error) bool,
) {
	attempts := 0
	for {
		err := func() error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var recv func() (*runwirev1.RunEvent, error)
			var err error
			if runID == "" && start != nil {
				recv, err = start(ctx)
			} else {
				recv, err = c.openEvents(ctx, runID, last, filter)
			}
			if err != nil {
				return err
			}
			for {
				ev, err := recv()
				if err != nil {
					return err
				}
				if ev == nil || IsHeartbeat(ev) || ev.GetSequence() <= last {
					continue // heartbeats, and (defensively) anything already yielded
				}
				runID, last, attempts = ev.GetRunId(), ev.GetSequence(), 0
				if !yield(ev, nil) || IsTerminal(ev) {
					return io.EOF
				}
			}
		}()
		if errors.Is(err, io.EOF) {
			return
		}
		err = wrapError(err)
		if runID == "" {
			if e, ok := AsError(err); ok && e.Metadata["run_id"] != "" {
				runID = e.Metadata["run_id"]
			}
		}
		attempts++
		if !Resumable(err) || ctx.Err() != nil || attempts > c.Reconnect.maxResumes() {
			yield(nil, err)
			return
		}
		if c.Reconnect.OnResume != nil {
			c.Reconnect.OnResume(runID, last, attempts, err)
		}
		timer := time.NewTimer(c.Reconnect.backoff(attempts))
		select {
		case <-ctx.Done():
			timer.Stop()
			yield(nil, wrapError(err))
			return
		case <-timer.C:
		}
	}
}

func (c *Client) openEvents(ctx context.Context, runID string, after int64, filter *runwirev1.EventFilter) (func() (*runwirev1.RunEvent, error), error) {
	stream, err := c.Runs.StreamRunEvents(ctx, &runwirev1.StreamRunEventsRequest{RunId: runID, AfterSequence: after, Filter: filter})
	if err != nil {
		return nil, err
	}
	return func() (*runwirev1.RunEvent, error) {
		msg, err := stream.Recv()
		return msg.GetEvent(), err
	}, nil
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
