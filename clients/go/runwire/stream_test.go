package runwire

import (
	"context"
	"errors"
	"net"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// fakeRuns streams a five-event run with a heartbeat in the middle.
type fakeRuns struct {
	runwirev1.UnimplementedRunServiceServer
	cancelled chan struct{}
}

func event(seq int64) *runwirev1.RunEvent {
	ev := &runwirev1.RunEvent{RunId: "run_1", Sequence: seq,
		Payload: &runwirev1.RunEvent_StepStarted{StepStarted: &runwirev1.StepStarted{Step: 1}}}
	if seq == 5 {
		ev.Payload = &runwirev1.RunEvent_RunFinished{RunFinished: &runwirev1.RunFinished{
			State: runwirev1.RunState_RUN_STATE_SUCCEEDED}}
	}
	return ev
}

func (f *fakeRuns) StreamRun(_ *runwirev1.StreamRunRequest, stream grpc.ServerStreamingServer[runwirev1.StreamRunResponse]) error {
	for seq := int64(1); seq <= 5; seq++ {
		if err := stream.Send(&runwirev1.StreamRunResponse{Event: event(seq)}); err != nil {
			return err
		}
		if seq == 2 {
			hb := &runwirev1.RunEvent{RunId: "run_1", Payload: &runwirev1.RunEvent_Heartbeat{Heartbeat: &runwirev1.Heartbeat{}}}
			if err := stream.Send(&runwirev1.StreamRunResponse{Event: hb}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeRuns) StreamRunEvents(req *runwirev1.StreamRunEventsRequest, stream grpc.ServerStreamingServer[runwirev1.StreamRunEventsResponse]) error {
	if req.GetRunId() != "run_1" {
		st, _ := status.New(codes.NotFound, "run not found").WithDetails(
			&errdetails.ErrorInfo{Reason: ReasonRunNotFound, Domain: Domain})
		return st.Err()
	}
	for seq := req.GetAfterSequence() + 1; seq <= 5; seq++ {
		if err := stream.Send(&runwirev1.StreamRunEventsResponse{Event: event(seq)}); err != nil {
			return err
		}
		if seq == 3 && f.cancelled != nil {
			<-stream.Context().Done() // the client broke out of its loop
			close(f.cancelled)
			return stream.Context().Err()
		}
	}
	return nil
}

func fakeClient(t *testing.T, runs *fakeRuns) *Client {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	runwirev1.RegisterRunServiceServer(server, runs)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	client, err := Dial("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestStreamRunYieldsEventsWithoutHeartbeatsOnce(t *testing.T) {
	client := fakeClient(t, &fakeRuns{})
	events := client.StreamRun(t.Context(), &runwirev1.StreamRunRequest{AgentId: "a", Prompt: "p"})
	var got []int64
	for ev, err := range events {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.GetSequence())
	}
	if len(got) != 5 || got[0] != 1 || got[4] != 5 {
		t.Errorf("sequences %v, want 1..5", got)
	}
	for _, err := range events {
		if !errors.Is(err, ErrStreamStarted) {
			t.Errorf("second range yielded %v, want ErrStreamStarted", err)
		}
	}
}

func TestResumeAfterSequenceAndBreakCancels(t *testing.T) {
	runs := &fakeRuns{cancelled: make(chan struct{})}
	client := fakeClient(t, runs)
	var got []int64
	for ev, err := range client.Resume(t.Context(), "run_1", 1) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.GetSequence())
		if ev.GetSequence() == 3 {
			break
		}
	}
	<-runs.cancelled // the server saw the stream cancelled
	runs.cancelled = nil
	for ev, err := range client.Resume(t.Context(), "run_1", 3) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.GetSequence())
	}
	if want := []int64{2, 3, 4, 5}; len(got) != len(want) || got[0] != 2 || got[3] != 5 {
		t.Errorf("sequences %v, want %v", got, want)
	}
}

func TestResumeYieldsTypedErrorOnce(t *testing.T) {
	client := fakeClient(t, &fakeRuns{})
	n := 0
	for ev, err := range client.Resume(t.Context(), "run_missing", 0) {
		n++
		if ev != nil || !IsReason(err, ReasonRunNotFound) {
			t.Errorf("got %v, %v; want the RUN_NOT_FOUND error", ev, err)
		}
		if e, _ := AsError(err); e == nil || e.Code != codes.NotFound {
			t.Errorf("got %v, want an *Error with NotFound", err)
		}
	}
	if n != 1 {
		t.Errorf("yielded %d times, want 1", n)
	}
}
