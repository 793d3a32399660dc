package runwire

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// fakeWatches serves a watch of five changes c1..c5 (after EXISTING c1 and
// SYNCED c2), with a heartbeat after each; each call ends as scripted after
// up to cut[i] messages counted from the cursor it was given.
type fakeWatches struct {
	runwirev1.UnimplementedRunServiceServer
	runwirev1.UnimplementedApprovalServiceServer
	mu       sync.Mutex
	failures []error
	cut      []int
	cursors  []string // the cursor of each call
	requests []string // agent_id / run_id of each call: the filter is kept
}

var watchTypes = []runwirev1.ChangeType{
	runwirev1.ChangeType_CHANGE_TYPE_EXISTING, runwirev1.ChangeType_CHANGE_TYPE_SYNCED,
	runwirev1.ChangeType_CHANGE_TYPE_CREATED, runwirev1.ChangeType_CHANGE_TYPE_UPDATED,
	runwirev1.ChangeType_CHANGE_TYPE_ENDED,
}

func (f *fakeWatches) next(cursor, filter string) (error, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursors = append(f.cursors, cursor)
	f.requests = append(f.requests, filter)
	if len(f.failures) == 0 {
		return nil, len(watchTypes)
	}
	err, cut := f.failures[0], f.cut[0]
	f.failures, f.cut = f.failures[1:], f.cut[1:]
	return err, cut
}

// serve sends the changes after cursor ("" or "cN"), then a heartbeat with the
// newest cursor after each, and ends as scripted (unscripted: it waits, as a
// watch does, until the client goes).
func (f *fakeWatches) serve(ctx context.Context, cursor, filter string, send func(runwirev1.ChangeType, string) error) error {
	failure, cut := f.next(cursor, filter)
	if failure == nil {
		defer func() { <-ctx.Done() }()
	}
	from := 1
	if cursor != "" {
		_, _ = fmt.Sscanf(cursor, "c%d", &from)
		from++
	}
	for i, n := from, 0; i <= len(watchTypes) && n < cut; i, n = i+1, n+1 {
		if err := send(watchTypes[i-1], fmt.Sprintf("c%d", i)); err != nil {
			return err
		}
		if err := send(runwirev1.ChangeType_CHANGE_TYPE_HEARTBEAT, fmt.Sprintf("c%d", i)); err != nil {
			return err
		}
	}
	return failure
}

func (f *fakeWatches) WatchRuns(req *runwirev1.WatchRunsRequest, stream grpc.ServerStreamingServer[runwirev1.WatchRunsResponse]) error {
	return f.serve(stream.Context(), req.GetCursor(), req.GetAgentId(), func(t runwirev1.ChangeType, cursor string) error {
		msg := &runwirev1.WatchRunsResponse{Type: t, Cursor: cursor}
		if t != runwirev1.ChangeType_CHANGE_TYPE_SYNCED && t != runwirev1.ChangeType_CHANGE_TYPE_HEARTBEAT {
			msg.Run = &runwirev1.Run{RunId: "run_" + cursor, Labels: req.GetLabels()}
		}
		return stream.Send(msg)
	})
}

func (f *fakeWatches) WatchApprovals(req *runwirev1.WatchApprovalsRequest, stream grpc.ServerStreamingServer[runwirev1.WatchApprovalsResponse]) error {
	return f.serve(stream.Context(), req.GetCursor(), req.GetRunId(), func(t runwirev1.ChangeType, cursor string) error {
		msg := &runwirev1.WatchApprovalsResponse{Type: t, Cursor: cursor}
		if t != runwirev1.ChangeType_CHANGE_TYPE_SYNCED && t != runwirev1.ChangeType_CHANGE_TYPE_HEARTBEAT {
			msg.Approval = &runwirev1.Approval{ApprovalId: "apr_" + cursor}
		}
		return stream.Send(msg)
	})
}

func watchClient(t *testing.T, f *fakeWatches) (*Client, *[]string) {
	t.Helper()
	listener := startFake(t, func(s *grpc.Server) {
		runwirev1.RegisterRunServiceServer(s, f)
		runwirev1.RegisterApprovalServiceServer(s, f)
	})
	client := dialFake(t, listener)
	retries := &[]string{}
	client.Reconnect = ReconnectPolicy{
		InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		OnRetry: func(method string, attempt int, cause error) {
			e, _ := AsError(cause)
			*retries = append(*retries, fmt.Sprintf("%s %d %s", method, attempt, e.Reason))
		},
	}
	return client, retries
}

func cursorExpired() error {
	st, _ := status.New(codes.OutOfRange, "cursor expired").WithDetails(&errdetails.ErrorInfo{
		Reason: ReasonCursorExpired, Domain: Domain, Metadata: map[string]string{"cursor": "c2"}})
	return st.Err()
}

func TestWatchRunsResumesAfterTheLastCursorWithTheSameFilter(t *testing.T) {
	f := &fakeWatches{failures: []error{lostConnection, draining(0), lostConnection}, cut: []int{2, 1, 0}}
	client, retries := watchClient(t, f)
	req := &runwirev1.WatchRunsRequest{AgentId: "a", Labels: map[string]string{"team": "x"}}
	var got []string
	for change, err := range client.WatchRuns(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s", change.GetType(), change.GetCursor(), change.GetRun().GetRunId()))
		if change.GetRun().GetRunId() != "" && change.GetRun().GetLabels()["team"] != "x" {
			t.Errorf("labels not sent on a resume: %v", change)
		}
		if change.GetType() == runwirev1.ChangeType_CHANGE_TYPE_ENDED {
			break
		}
	}
	want := []string{
		"CHANGE_TYPE_EXISTING c1 run_c1", "CHANGE_TYPE_SYNCED c2 ",
		"CHANGE_TYPE_CREATED c3 run_c3", "CHANGE_TYPE_UPDATED c4 run_c4", "CHANGE_TYPE_ENDED c5 run_c5",
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v (each once, in order)", got, want)
	}
	if want := []string{"", "c2", "c3", "c3"}; !slices.Equal(f.cursors, want) {
		t.Errorf("cursors %v, want %v", f.cursors, want)
	}
	if !slices.Equal(f.requests, []string{"a", "a", "a", "a"}) || req.GetCursor() != "" {
		t.Errorf("filters %v; caller's cursor %q", f.requests, req.GetCursor())
	}
	if want := []string{"WatchRuns 1 ", "WatchRuns 1 DRAINING", "WatchRuns 2 "}; !slices.Equal(*retries, want) {
		t.Errorf("retries %v, want %v", *retries, want)
	}
}

func TestWatchApprovalsSurfacesAnExpiredCursor(t *testing.T) {
	f := &fakeWatches{failures: []error{lostConnection, cursorExpired()}, cut: []int{1, 0}}
	client, retries := watchClient(t, f)
	var got []string
	var last error
	for change, err := range client.WatchApprovals(t.Context(), &runwirev1.WatchApprovalsRequest{RunId: "run_1", Cursor: "c1"}) {
		if err != nil {
			last = err
			continue
		}
		got = append(got, change.GetApproval().GetApprovalId())
	}
	if !IsReason(last, ReasonCursorExpired) {
		t.Fatalf("error %v, want OUT_OF_RANGE CURSOR_EXPIRED", last)
	}
	if e, _ := AsError(last); e.Code != codes.OutOfRange || e.Metadata["cursor"] != "c2" {
		t.Errorf("error %v %v", e, e.Metadata)
	}
	// Resumed from the caller's cursor: SYNCED c2 (no approval) came, then the cursor expired.
	if !slices.Equal(got, []string{""}) || !slices.Equal(f.cursors, []string{"c1", "c2"}) || len(*retries) != 1 {
		t.Errorf("approvals %v, cursors %v, retries %v", got, f.cursors, *retries)
	}
}

func TestWatchRetriesAreBoundedAndStopWithTheContext(t *testing.T) {
	f := &fakeWatches{failures: []error{lostConnection, lostConnection, lostConnection}, cut: []int{0, 0, 0}}
	client, _ := watchClient(t, f)
	client.Reconnect.MaxResumes = 2
	var last error
	for _, err := range client.WatchRuns(t.Context(), &runwirev1.WatchRunsRequest{}) {
		last = err
	}
	if !Resumable(last) || len(f.cursors) != 3 {
		t.Errorf("error %v after %d calls, want the lost connection after 3", last, len(f.cursors))
	}

	// The server's watch never ends here: the context does.
	f = &fakeWatches{}
	client, _ = watchClient(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	count, last := 0, error(nil)
	for change, err := range client.WatchRuns(ctx, &runwirev1.WatchRunsRequest{}) {
		if err != nil {
			last = err
			break
		}
		count++
		if change.GetType() == runwirev1.ChangeType_CHANGE_TYPE_SYNCED {
			cancel()
		}
	}
	if count < 2 || status.Code(last) != codes.Canceled {
		t.Errorf("%d changes, error %v; want the cancellation after SYNCED", count, last)
	}
}

func TestResumesKeepTheEventFilter(t *testing.T) {
	runs := &flakyRuns{failures: []error{lostConnection, draining(4)}, cut: []int64{2, 4}}
	client, _ := flakyClient(t, runs)
	filter := &runwirev1.EventFilter{Profile: runwirev1.EventProfile_EVENT_PROFILE_NO_DELTAS}
	got, err := sequences(t, client.StreamRun(t.Context(), &runwirev1.StreamRunRequest{AgentId: "a", Filter: filter}))
	if err != nil {
		t.Fatal(err)
	}
	wantOneToTen(t, got)
	if want := []string{"EVENT_PROFILE_NO_DELTAS", "EVENT_PROFILE_NO_DELTAS"}; !slices.Equal(runs.filters, want) {
		t.Errorf("filters of the resumes %v, want %v", runs.filters, want)
	}
	runs.filters = nil
	types := &runwirev1.EventFilter{EventTypes: []runwirev1.EventType{runwirev1.EventType_EVENT_TYPE_RUN_FINISHED}}
	if _, err := sequences(t, client.ResumeEvents(t.Context(), &runwirev1.StreamRunEventsRequest{RunId: "run_1", AfterSequence: 3, Filter: types})); err != nil {
		t.Fatal(err)
	}
	if len(runs.filters) != 1 || runs.filters[0] != "[EVENT_TYPE_RUN_FINISHED]" {
		t.Errorf("filters %v", runs.filters)
	}
}

// pausingRuns answers PauseRun and ResumeRun with the run in the state they lead to.
type pausingRuns struct {
	runwirev1.UnimplementedRunServiceServer
	calls []string
}

func (p *pausingRuns) PauseRun(_ context.Context, req *runwirev1.PauseRunRequest) (*runwirev1.PauseRunResponse, error) {
	p.calls = append(p.calls, "PauseRun "+req.GetRunId()+" "+req.GetReason())
	return &runwirev1.PauseRunResponse{Run: &runwirev1.Run{RunId: req.GetRunId(), State: runwirev1.RunState_RUN_STATE_PAUSED}}, nil
}

func (p *pausingRuns) ResumeRun(_ context.Context, req *runwirev1.ResumeRunRequest) (*runwirev1.ResumeRunResponse, error) {
	p.calls = append(p.calls, "ResumeRun "+req.GetRunId())
	if req.GetRunId() == "run_unknown" {
		st, _ := status.New(codes.NotFound, "no such run").WithDetails(&errdetails.ErrorInfo{Reason: ReasonRunNotFound, Domain: Domain})
		return nil, st.Err()
	}
	return &runwirev1.ResumeRunResponse{Run: &runwirev1.Run{RunId: req.GetRunId(), State: runwirev1.RunState_RUN_STATE_RUNNING}}, nil
}

func TestPauseRunAndResumeRun(t *testing.T) {
	fake := &pausingRuns{}
	client := dialFake(t, startFake(t, func(s *grpc.Server) { runwirev1.RegisterRunServiceServer(s, fake) }))
	paused, err := client.PauseRun(t.Context(), "run_1", "lunch")
	if err != nil || paused.GetState() != runwirev1.RunState_RUN_STATE_PAUSED {
		t.Fatalf("PauseRun = %v, %v", paused, err)
	}
	resumed, err := client.ResumeRun(t.Context(), "run_1")
	if err != nil || resumed.GetState() != runwirev1.RunState_RUN_STATE_RUNNING {
		t.Fatalf("ResumeRun = %v, %v", resumed, err)
	}
	if _, err := client.ResumeRun(t.Context(), "run_unknown"); !IsReason(err, ReasonRunNotFound) {
		t.Errorf("ResumeRun of an unknown run: %v", err)
	}
	if want := []string{"PauseRun run_1 lunch", "ResumeRun run_1", "ResumeRun run_unknown"}; !slices.Equal(fake.calls, want) {
		t.Errorf("calls %v, want %v", fake.calls, want)
	}
}

func TestWatchBrokenBeforeSyncedListsAgainWithoutRepeats(t *testing.T) {
	f := &fakeWatches{failures: []error{lostConnection}, cut: []int{1}}
	client, retries := watchClient(t, f)
	var got []string
	for change, err := range client.WatchRuns(t.Context(), &runwirev1.WatchRunsRequest{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s", change.GetType(), change.GetCursor()))
		if change.GetType() == runwirev1.ChangeType_CHANGE_TYPE_CREATED {
			break
		}
	}
	want := []string{"CHANGE_TYPE_EXISTING c1", "CHANGE_TYPE_SYNCED c2", "CHANGE_TYPE_CREATED c3"}
	if !slices.Equal(got, want) || !slices.Equal(f.cursors, []string{"", ""}) || len(*retries) != 1 {
		t.Errorf("changes %v (want %v), cursors %v, retries %v", got, want, f.cursors, *retries)
	}
}
