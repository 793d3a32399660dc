package runwire

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// flakyRuns serves a ten-event run whose streams end early as scripted:
// failures[i] is how the i-th stream ends after sending up to cut[i] events
// (replaying from sequence 1 when asked to, to test the duplicate guard).
type flakyRuns struct {
	runwirev1.UnimplementedRunServiceServer
	mu        sync.Mutex
	failures  []error
	cut       []int64
	replay    bool
	calls     []string // "StreamRun <request_id>" / "StreamRunEvents <after>"
	createIDs []string
	// unaryFailures: how the next CreateRun / WaitRun calls fail (then they succeed).
	unaryFailures []error
	filters       []string // the filter of each StreamRunEvents call (profile or types)
}

// unary records a run-creating call's request_id and fails it as scripted.
func (f *flakyRuns) unary(requestID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createIDs = append(f.createIDs, requestID)
	if len(f.unaryFailures) == 0 {
		return nil
	}
	err := f.unaryFailures[0]
	f.unaryFailures = f.unaryFailures[1:]
	return err
}

const flakyLast = 10

func flakyEvent(seq int64) *runwirev1.RunEvent {
	if seq == flakyLast {
		return &runwirev1.RunEvent{RunId: "run_1", Sequence: seq, Payload: &runwirev1.RunEvent_RunFinished{
			RunFinished: &runwirev1.RunFinished{State: runwirev1.RunState_RUN_STATE_SUCCEEDED}}}
	}
	return &runwirev1.RunEvent{RunId: "run_1", Sequence: seq,
		Payload: &runwirev1.RunEvent_StepStarted{StepStarted: &runwirev1.StepStarted{Step: int32(seq)}}}
}

func draining(last int64) error {
	st, _ := status.New(codes.Unavailable, "server draining").WithDetails(&errdetails.ErrorInfo{
		Reason: ReasonDraining, Domain: Domain,
		Metadata: map[string]string{"run_id": "run_1", "last_sequence": strconv.FormatInt(last, 10)}})
	return st.Err()
}

func (f *flakyRuns) next(call string) (error, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if len(f.failures) == 0 {
		return nil, flakyLast
	}
	err, cut := f.failures[0], f.cut[0]
	f.failures, f.cut = f.failures[1:], f.cut[1:]
	return err, cut
}

func (f *flakyRuns) serve(after int64, send func(*runwirev1.RunEvent) error, call string) error {
	failure, cut := f.next(call)
	from := after + 1
	if f.replay {
		from = 1
	}
	for seq := from; seq <= min(cut, flakyLast); seq++ {
		if err := send(flakyEvent(seq)); err != nil {
			return err
		}
		if err := send(&runwirev1.RunEvent{RunId: "run_1", Payload: &runwirev1.RunEvent_Heartbeat{Heartbeat: &runwirev1.Heartbeat{}}}); err != nil {
			return err
		}
	}
	return failure
}

func (f *flakyRuns) StreamRun(req *runwirev1.StreamRunRequest, stream grpc.ServerStreamingServer[runwirev1.StreamRunResponse]) error {
	return f.serve(0, func(ev *runwirev1.RunEvent) error {
		return stream.Send(&runwirev1.StreamRunResponse{Event: ev})
	}, "StreamRun "+req.GetRequestId())
}

func (f *flakyRuns) StreamRunEvents(req *runwirev1.StreamRunEventsRequest, stream grpc.ServerStreamingServer[runwirev1.StreamRunEventsResponse]) error {
	if filter := req.GetFilter(); filter != nil {
		f.mu.Lock()
		if len(filter.GetEventTypes()) > 0 {
			f.filters = append(f.filters, fmt.Sprint(filter.GetEventTypes()))
		} else {
			f.filters = append(f.filters, filter.GetProfile().String())
		}
		f.mu.Unlock()
	}
	return f.serve(req.GetAfterSequence(), func(ev *runwirev1.RunEvent) error {
		return stream.Send(&runwirev1.StreamRunEventsResponse{Event: ev})
	}, "StreamRunEvents "+strconv.FormatInt(req.GetAfterSequence(), 10))
}

func (f *flakyRuns) CreateRun(_ context.Context, req *runwirev1.CreateRunRequest) (*runwirev1.CreateRunResponse, error) {
	if err := f.unary(req.GetRequestId()); err != nil {
		return nil, err
	}
	return &runwirev1.CreateRunResponse{Run: &runwirev1.Run{RunId: "run_1"}}, nil
}

func (f *flakyRuns) WaitRun(_ context.Context, req *runwirev1.WaitRunRequest) (*runwirev1.WaitRunResponse, error) {
	if err := f.unary(req.GetRequestId()); err != nil {
		return nil, err
	}
	return &runwirev1.WaitRunResponse{Run: &runwirev1.Run{RunId: "run_1", State: runwirev1.RunState_RUN_STATE_SUCCEEDED}}, nil
}

func flakyClient(t *testing.T, runs *flakyRuns) (*Client, *[]int) {
	t.Helper()
	listener := startFake(t, func(s *grpc.Server) { runwirev1.RegisterRunServiceServer(s, runs) })
	client := dialFake(t, listener)
	attempts := &[]int{}
	client.Reconnect = ReconnectPolicy{
		InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		OnResume: func(_ string, _ int64, attempt int, _ error) { *attempts = append(*attempts, attempt) },
	}
	return client, attempts
}

func sequences(t *testing.T, events func(func(*runwirev1.RunEvent, error) bool)) ([]int64, error) {
	t.Helper()
	var got []int64
	var last error
	for ev, err := range events {
		if err != nil {
			last = err
			continue
		}
		got = append(got, ev.GetSequence())
	}
	return got, last
}

func wantOneToTen(t *testing.T, got []int64) {
	t.Helper()
	if len(got) != flakyLast {
		t.Fatalf("sequences %v, want 1..%d once each", got, flakyLast)
	}
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("sequences %v, want 1..%d once each", got, flakyLast)
		}
	}
}

var lostConnection = status.Error(codes.Unavailable, "connection lost")

func TestStreamRunResumesAfterDrainingAndLostConnections(t *testing.T) {
	runs := &flakyRuns{
		failures: []error{draining(3), lostConnection, lostConnection},
		cut:      []int64{3, 5, 5},
	}
	client, attempts := flakyClient(t, runs)
	got, err := sequences(t, client.StreamRun(t.Context(), &runwirev1.StreamRunRequest{AgentId: "a", Prompt: "p"}))
	if err != nil {
		t.Fatal(err)
	}
	wantOneToTen(t, got)
	// The third stream brought nothing new: its resume counts as the second in a row.
	if want := []int{1, 1, 2}; len(*attempts) != 3 || (*attempts)[2] != 2 {
		t.Errorf("resume attempts %v, want %v", *attempts, want)
	}
	if len(runs.calls) != 4 || !regexp.MustCompile(`^StreamRun [0-9a-f-]{36}$`).MatchString(runs.calls[0]) ||
		runs.calls[1] != "StreamRunEvents 3" || runs.calls[2] != "StreamRunEvents 5" || runs.calls[3] != "StreamRunEvents 5" {
		t.Errorf("calls %v", runs.calls)
	}
}

func TestStreamRunBeforeTheFirstEventRetriesWithTheSameRequestID(t *testing.T) {
	runs := &flakyRuns{failures: []error{lostConnection}, cut: []int64{0}}
	client, _ := flakyClient(t, runs)
	req := &runwirev1.StreamRunRequest{AgentId: "a", Prompt: "p"}
	got, err := sequences(t, client.StreamRun(t.Context(), req))
	if err != nil {
		t.Fatal(err)
	}
	wantOneToTen(t, got)
	if len(runs.calls) != 2 || runs.calls[0] != runs.calls[1] {
		t.Errorf("calls %v, want StreamRun twice with one request_id", runs.calls)
	}
	if req.GetRequestId() != "" {
		t.Errorf("the caller's request was modified: %q", req.GetRequestId())
	}
}

func TestResumeSkipsEventsAlreadySeen(t *testing.T) {
	runs := &flakyRuns{failures: []error{lostConnection, lostConnection}, cut: []int64{4, 7}, replay: true}
	client, _ := flakyClient(t, runs)
	got, err := sequences(t, client.Resume(t.Context(), "run_1", 0))
	if err != nil {
		t.Fatal(err)
	}
	wantOneToTen(t, got)
}

func TestResumesAreBounded(t *testing.T) {
	failures := make([]error, 4)
	for i := range failures {
		failures[i] = draining(2)
	}
	runs := &flakyRuns{failures: failures, cut: []int64{2, 2, 2, 2}}
	client, attempts := flakyClient(t, runs)
	client.Reconnect.MaxResumes = 2
	got, err := sequences(t, client.Resume(t.Context(), "run_1", 0))
	if !IsReason(err, ReasonDraining) {
		t.Fatalf("error %v, want the DRAINING error once the resumes are used up", err)
	}
	if len(got) != 2 || len(*attempts) != 2 || len(runs.calls) != 3 {
		t.Errorf("sequences %v, attempts %v, calls %v", got, *attempts, runs.calls)
	}
}

func TestOtherErrorsAreNotResumed(t *testing.T) {
	unavailable, _ := status.New(codes.Unavailable, "temporal down").WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonRuntimeUnavailable, Domain: Domain})
	for _, failure := range []error{unavailable.Err(), status.Error(codes.Internal, "boom")} {
		runs := &flakyRuns{failures: []error{failure}, cut: []int64{2}}
		client, attempts := flakyClient(t, runs)
		got, err := sequences(t, client.Resume(t.Context(), "run_1", 0))
		if e, ok := AsError(err); !ok || e.Code != status.Code(failure) || len(got) != 2 || len(*attempts) != 0 {
			t.Errorf("%v: sequences %v, error %v, attempts %v", failure, got, err, *attempts)
		}
	}
	runs := &flakyRuns{failures: []error{lostConnection}, cut: []int64{1}}
	client, attempts := flakyClient(t, runs)
	client.Reconnect.MaxResumes = -1
	if _, err := sequences(t, client.Resume(t.Context(), "run_1", 0)); !Resumable(err) || len(*attempts) != 0 {
		t.Errorf("MaxResumes -1: error %v, attempts %v", err, *attempts)
	}
}

func TestCreateRunSetsARequestIDUnlessGiven(t *testing.T) {
	runs := &flakyRuns{}
	client, _ := flakyClient(t, runs)
	for _, id := range []string{"", "", "mine"} {
		if _, err := client.CreateRun(t.Context(), &runwirev1.CreateRunRequest{AgentId: "a", Prompt: "p", RequestId: id}); err != nil {
			t.Fatal(err)
		}
	}
	ids := runs.createIDs
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if len(ids) != 3 || !uuid.MatchString(ids[0]) || !uuid.MatchString(ids[1]) || ids[0] == ids[1] || ids[2] != "mine" {
		t.Errorf("request ids %v", ids)
	}
}

func TestCreateRunAndWaitRunRetryWithTheSameRequestID(t *testing.T) {
	runs := &flakyRuns{unaryFailures: []error{draining(0), lostConnection}}
	client, _ := flakyClient(t, runs)
	var retries []string
	client.Reconnect.OnRetry = func(method string, attempt int, cause error) {
		retries = append(retries, fmt.Sprintf("%s %d %v", method, attempt, Resumable(cause)))
	}
	run, err := client.CreateRun(t.Context(), &runwirev1.CreateRunRequest{AgentId: "a", Prompt: "p"})
	if err != nil || run.GetRunId() != "run_1" {
		t.Fatalf("CreateRun = %v, %v", run, err)
	}
	ids := runs.createIDs
	if len(ids) != 3 || ids[0] == "" || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Errorf("request ids %v, want one id three times", ids)
	}
	if want := []string{"CreateRun 1 true", "CreateRun 2 true"}; !slices.Equal(retries, want) {
		t.Errorf("retries %v, want %v", retries, want)
	}

	runs.unaryFailures, runs.createIDs, retries = []error{lostConnection}, nil, nil
	waited, err := client.WaitRun(t.Context(), &runwirev1.WaitRunRequest{AgentId: "a", Prompt: "p", RequestId: "mine"})
	if err != nil || waited.GetState() != runwirev1.RunState_RUN_STATE_SUCCEEDED {
		t.Fatalf("WaitRun = %v, %v", waited, err)
	}
	if !slices.Equal(runs.createIDs, []string{"mine", "mine"}) || !slices.Equal(retries, []string{"WaitRun 1 true"}) {
		t.Errorf("request ids %v, retries %v", runs.createIDs, retries)
	}
}

func TestRunCreationRetriesAreBoundedAndOnlyForUnavailable(t *testing.T) {
	runs := &flakyRuns{unaryFailures: []error{lostConnection, lostConnection, lostConnection}}
	client, _ := flakyClient(t, runs)
	client.Reconnect.MaxResumes = 2
	if _, err := client.CreateRun(t.Context(), &runwirev1.CreateRunRequest{AgentId: "a"}); !Resumable(err) || len(runs.createIDs) != 3 {
		t.Errorf("error %v after %d calls, want the lost connection after 3", err, len(runs.createIDs))
	}
	unavailable, _ := status.New(codes.Unavailable, "temporal down").WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonRuntimeUnavailable, Domain: Domain})
	for _, failure := range []error{unavailable.Err(), status.Error(codes.InvalidArgument, "bad")} {
		runs.unaryFailures, runs.createIDs = []error{failure}, nil
		_, err := client.WaitRun(t.Context(), &runwirev1.WaitRunRequest{AgentId: "a"})
		if e, ok := AsError(err); !ok || e.Code != status.Code(failure) || len(runs.createIDs) != 1 {
			t.Errorf("%v: error %v after %d calls, want it at once", failure, err, len(runs.createIDs))
		}
	}
}

func startFake(t *testing.T, register func(*grpc.Server)) *bufconn.Listener {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	register(server)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	return listener
}

func dialFake(t *testing.T, listener *bufconn.Listener) *Client {
	t.Helper()
	client, err := Dial("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}
