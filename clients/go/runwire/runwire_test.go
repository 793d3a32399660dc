package runwire

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

func TestWrapErrorReadsErrorInfoAndBadRequest(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "invalid request").WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonInvalidArgument, Domain: Domain, Metadata: map[string]string{"agent_id": "x"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "agent_id", Description: "does not match the pattern"},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := fmt.Errorf("creating: %w", wrapError(st.Err()))

	e, ok := AsError(wrapped)
	if !ok {
		t.Fatalf("AsError(%v) = false", wrapped)
	}
	if e.Code != codes.InvalidArgument || e.Reason != ReasonInvalidArgument || e.Domain != Domain {
		t.Errorf("got code %v reason %q domain %q", e.Code, e.Reason, e.Domain)
	}
	if e.Metadata["agent_id"] != "x" || len(e.FieldViolations) != 1 || e.FieldViolations[0].GetField() != "agent_id" {
		t.Errorf("got metadata %v violations %v", e.Metadata, e.FieldViolations)
	}
	if !IsReason(wrapped, ReasonInvalidArgument) || IsReason(wrapped, ReasonAgentNotFound) {
		t.Error("IsReason does not match the ErrorInfo reason")
	}
	if status.Code(e) != codes.InvalidArgument {
		t.Errorf("status.Code(*Error) = %v", status.Code(e))
	}
	want := "runwire: InvalidArgument (INVALID_ARGUMENT): invalid request; agent_id: does not match the pattern"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if wrapError(e) != error(e) {
		t.Error("wrapError is not idempotent")
	}
}

func TestWrapErrorLeavesOtherErrorsAlone(t *testing.T) {
	plain := errors.New("plain")
	if wrapError(plain) != plain || wrapError(nil) != nil {
		t.Error("wrapError changed an error without a gRPC status")
	}
}

func TestRunError(t *testing.T) {
	st, _ := status.New(codes.DeadlineExceeded, "run timed out").WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonRunTimeout, Domain: Domain})
	e := RunError(st.Proto())
	if e == nil || e.Code != codes.DeadlineExceeded || e.Reason != ReasonRunTimeout {
		t.Errorf("RunError = %v", e)
	}
	if RunError(nil) != nil || RunError(status.New(codes.OK, "").Proto()) != nil {
		t.Error("RunError of no error is not nil")
	}
}

func TestEventHelpers(t *testing.T) {
	finished := &runwirev1.RunEvent{Sequence: 9, Payload: &runwirev1.RunEvent_RunFinished{RunFinished: &runwirev1.RunFinished{}}}
	heartbeat := &runwirev1.RunEvent{Payload: &runwirev1.RunEvent_Heartbeat{Heartbeat: &runwirev1.Heartbeat{}}}
	if EventType(finished) != "run_finished" || EventType(heartbeat) != "heartbeat" || EventType(&runwirev1.RunEvent{}) != "" {
		t.Errorf("EventType: %q %q", EventType(finished), EventType(heartbeat))
	}
	if !IsTerminal(finished) || IsTerminal(heartbeat) || !IsHeartbeat(heartbeat) || IsHeartbeat(finished) {
		t.Error("IsTerminal / IsHeartbeat")
	}
}
