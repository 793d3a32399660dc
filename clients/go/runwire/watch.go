package runwire

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// WatchRuns streams the caller's runs that match req (agent, thread, states,
// labels; they combine with AND) as an iterator of changes:
//
//	for change, err := range client.WatchRuns(ctx, &runwirev1.WatchRunsRequest{States: ...}) { ... }
//
// Without req.Cursor it first yields every matching run (CHANGE_TYPE_EXISTING),
// then one CHANGE_TYPE_SYNCED (no run), then each change as it happens
// (CREATED, UPDATED, ENDED; change.Run is the run after it). With req.Cursor
// it yields only the changes after that cursor. Heartbeats are not yielded
// (their cursor is kept).
//
// A watch that ends with UNAVAILABLE (DRAINING, or a lost connection), or
// that the server ends, is reopened by itself per [Client.Reconnect] (OnRetry
// is told, with method "WatchRuns"): after the cursor of the last message
// received once SYNCED was seen; before that it lists again and leaves out
// the runs it already yielded as EXISTING. Nothing is missed or yielded
// twice. OUT_OF_RANGE with reason CURSOR_EXPIRED (the cursor is older than
// the changes the server keeps: watch again without one, which lists the
// runs anew) and any other error are yielded once, last. The watch runs
// until ctx ends (its error is yielded) or the loop breaks (which cancels
// it). req is not modified.
func (c *Client) WatchRuns(ctx context.Context, req *runwirev1.WatchRunsRequest) iter.Seq2[*runwirev1.WatchRunsResponse, error] {
	req = proto.CloneOf(req)
	return func(yield func(*runwirev1.WatchRunsResponse, error) bool) {
		open := func(ctx context.Context, cursor string) (grpc.ServerStreamingClient[runwirev1.WatchRunsResponse], error) {
			r := proto.CloneOf(req)
			r.Cursor = cursor
			return c.Runs.WatchRuns(ctx, r)
		}
		key := func(m *runwirev1.WatchRunsResponse) string { return m.GetRun().GetRunId() }
		watch[runwirev1.WatchRunsResponse](ctx, c, "WatchRuns", req.GetCursor(), key, open, yield)
	}
}

// WatchApprovals streams the caller's approvals that match req (run, agent,
// states) as an iterator of changes, like [Client.WatchRuns]: EXISTING ones,
// SYNCED, then CREATED and ENDED (change.Approval is the approval after the
// change); an approver's inbox is WatchApprovals with States PENDING: each
// approval arrives (CREATED) and leaves (ENDED). It reopens itself as
// WatchRuns does on UNAVAILABLE (DRAINING, or a lost connection; OnRetry is
// told, with method "WatchApprovals") and yields OUT_OF_RANGE
// (CURSOR_EXPIRED) and any other error once, last.
func (c *Client) WatchApprovals(ctx context.Context, req *runwirev1.WatchApprovalsRequest) iter.Seq2[*runwirev1.WatchApprovalsResponse, error] {
	req = proto.CloneOf(req)
	return func(yield func(*runwirev1.WatchApprovalsResponse, error) bool) {
		open := func(ctx context.Context, cursor string) (grpc.ServerStreamingClient[runwirev1.WatchApprovalsResponse], error) {
			r := proto.CloneOf(req)
			r.Cursor = cursor
			return c.Approvals.WatchApprovals(ctx, r)
		}
		key := func(m *runwirev1.WatchApprovalsResponse) string { return m.GetApproval().GetApprovalId() }
		watch[runwirev1.WatchApprovalsResponse](ctx, c, "WatchApprovals", req.GetCursor(), key, open, yield)
	}
}

// watchMessage is what both watches' responses have.
type watchMessage interface {
	GetType() runwirev1.ChangeType
	GetCursor() string
}

// watch yields a watch's messages until ctx ends, the consumer stops, or an
// error that is not resumable (or the last one once the retries in a row are
// used up) is yielded. It reopens the watch after the last cursor received
// once SYNCED was seen (or when it began at a cursor); before that it lists
// again from scratch and leaves out the EXISTING resources already yielded
// (key gives a message's resource id), since a resume from an EXISTING
// cursor may repeat what the listing showed.
func watch[M any, P interface {
	*M
	watchMessage
}](
	ctx context.Context,
	c *Client,
	method string,
	cursor string,
	key func(P) string,
	open func(context.Context, string) (grpc.ServerStreamingClient[M], error),
	yield func(P, error) bool,
) {
	synced := cursor != ""
	listed := map[string]bool{}
	attempts := 0
	for {
		err := func() error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			from := ""
			if synced {
				from = cursor
			}
			stream, err := open(ctx, from)
			if err != nil {
				return err
			}
			for {
				received, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return status.Error(codes.Unavailable, "runwire: the server ended the watch")
				}
				if err != nil {
					return err
				}
				msg := P(received)
				attempts = 0
				if msg.GetCursor() != "" {
					cursor = msg.GetCursor()
				}
				switch msg.GetType() {
				case runwirev1.ChangeType_CHANGE_TYPE_HEARTBEAT:
					continue
				case runwirev1.ChangeType_CHANGE_TYPE_EXISTING:
					if !synced {
						if listed[key(msg)] {
							continue // yielded before this listing
						}
						listed[key(msg)] = true
					}
				case runwirev1.ChangeType_CHANGE_TYPE_SYNCED:
					synced, listed = true, nil
				}
				if !yield(msg, nil) {
					return errStop
				}
			}
		}()
		if errors.Is(err, errStop) {
			return
		}
		err = wrapError(err)
		attempts++
		if !Resumable(err) || ctx.Err() != nil || attempts > c.Reconnect.maxResumes() {
			yield(nil, err)
			return
		}
		if c.Reconnect.OnRetry != nil {
			c.Reconnect.OnRetry(method, attempts, err)
		}
		timer := time.NewTimer(c.Reconnect.backoff(attempts))
		select {
		case <-ctx.Done():
			timer.Stop()
			yield(nil, err)
			return
		case <-timer.C:
		}
	}
}

// errStop ends a watch when the consumer breaks out of the loop.
var errStop = errors.New("runwire: the consumer stopped")
