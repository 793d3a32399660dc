package runwire

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// Domain is the google.rpc.ErrorInfo domain of every Runwire error.
const Domain = "runwire.dev"

// Reasons the server puts in google.rpc.ErrorInfo.reason (docs/errors.md says
// when each is sent). Each is the name of a value of the generated enum
// [runwirev1.ErrorReason] (ReasonAgentNotFound is the name of
// runwirev1.ErrorReason_AGENT_NOT_FOUND), and every value has a constant here;
// errors_test.go checks both. Compare with [IsReason], [Error.Reason] or
// [Error.ReasonValue].
const (
	ReasonInvalidArgument         = "INVALID_ARGUMENT"
	ReasonMalformedRequest        = "MALFORMED_REQUEST"
	ReasonInvalidPageToken        = "INVALID_PAGE_TOKEN"
	ReasonToolModuleInvalid       = "TOOL_MODULE_INVALID"
	ReasonRequestIDReused         = "REQUEST_ID_REUSED"
	ReasonUnknownProvider         = "UNKNOWN_PROVIDER"
	ReasonAgentNotFound           = "AGENT_NOT_FOUND"
	ReasonRunNotFound             = "RUN_NOT_FOUND"
	ReasonApprovalNotFound        = "APPROVAL_NOT_FOUND"
	ReasonThreadNotFound          = "THREAD_NOT_FOUND"
	ReasonAgentAlreadyExists      = "AGENT_ALREADY_EXISTS"
	ReasonThreadAlreadyExists     = "THREAD_ALREADY_EXISTS"
	ReasonApprovalAlreadyResolved = "APPROVAL_ALREADY_RESOLVED"
	ReasonApprovalNotPending      = "APPROVAL_NOT_PENDING"
	ReasonToolCallNotPending      = "TOOL_CALL_NOT_PENDING"
	ReasonToolCallAlreadyAnswered = "TOOL_CALL_ALREADY_ANSWERED"
	ReasonToolNotFound            = "TOOL_NOT_FOUND"
	ReasonRuntimeUnavailable      = "RUNTIME_UNAVAILABLE"
	ReasonThreadBusy              = "THREAD_BUSY"
	ReasonEtagMismatch            = "ETAG_MISMATCH"
	ReasonSequenceOutOfRange      = "SEQUENCE_OUT_OF_RANGE"
	ReasonCursorExpired           = "CURSOR_EXPIRED"
	ReasonDraining                = "DRAINING"
	ReasonQuotaExceeded           = "QUOTA_EXCEEDED"
	ReasonClaimNotFound           = "CLAIM_NOT_FOUND"
	ReasonInternal                = "INTERNAL"
)

// Generic reasons: the default of a status code when the server gives no more
// specific reason.
const (
	ReasonNotFound           = "NOT_FOUND"
	ReasonAlreadyExists      = "ALREADY_EXISTS"
	ReasonFailedPrecondition = "FAILED_PRECONDITION"
	ReasonAborted            = "ABORTED"
	ReasonOutOfRange         = "OUT_OF_RANGE"
	ReasonUnavailable        = "UNAVAILABLE"
	ReasonTimeout            = "TIMEOUT"
)

// ReasonEventsTruncated is not sent by any server and is not a value of
// [runwirev1.ErrorReason]; a cursor past the end of an ended run is
// [ReasonSequenceOutOfRange].
//
// Deprecated: never sent; kept so code that names it still compiles.
const ReasonEventsTruncated = "EVENTS_TRUNCATED"

// Reasons of authentication and authorization errors: UNAUTHENTICATED
// (missing or bad credentials) and PERMISSION_DENIED (the missing permission
// is in Error.Metadata["permission"]).
const (
	ReasonUnauthenticated  = "UNAUTHENTICATED"
	ReasonTokenExpired     = "TOKEN_EXPIRED"
	ReasonTokenInvalid     = "TOKEN_INVALID"
	ReasonPermissionDenied = "PERMISSION_DENIED"
	ReasonNotAnApprover    = "NOT_AN_APPROVER"
)

// Reasons of a failed run's error (Run.error and the run_error event), which
// is data rather than an RPC error; read them with [RunError].
const (
	ReasonRunTimeout           = "RUN_TIMEOUT"
	ReasonModelError           = "MODEL_ERROR"
	ReasonProviderUnavailable  = "PROVIDER_UNAVAILABLE"
	ReasonRunFailed            = "RUN_FAILED"
	ReasonTokenBudgetExceeded  = "TOKEN_BUDGET_EXCEEDED"
	ReasonOutputSchemaMismatch = "OUTPUT_SCHEMA_MISMATCH"
	ReasonReplicaLost          = "REPLICA_LOST"
	ReasonEventLimitExceeded   = "EVENT_LIMIT_EXCEEDED"
	ReasonToolFailuresExceeded = "TOOL_FAILURES_EXCEEDED"
)

// Error is an RPC error from Runwire: the gRPC status code and message plus
// the google.rpc details the server attaches. Every error returned by a
// [Client] method (and by the generated clients of a Client made with [Dial])
// is an *Error when the call reached gRPC; it also satisfies grpc's
// status.FromError / status.Code through GRPCStatus.
type Error struct {
	// Code is the gRPC status code, for example codes.NotFound.
	Code codes.Code
	// Message is the status message.
	Message string
	// Reason is google.rpc.ErrorInfo.reason, for example "AGENT_NOT_FOUND";
	// empty when the status has no ErrorInfo (for example a transport error).
	Reason string
	// Domain is google.rpc.ErrorInfo.domain ("runwire.dev" for server errors).
	Domain string
	// Metadata is google.rpc.ErrorInfo.metadata: the ids involved.
	Metadata map[string]string
	// FieldViolations are the google.rpc.BadRequest field violations of an
	// INVALID_ARGUMENT error.
	FieldViolations []*errdetails.BadRequest_FieldViolation

	status *status.Status
	cause  error
}

// Error formats the code, reason and message.
func (e *Error) Error() string {
	msg := "runwire: " + e.Code.String()
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	for _, v := range e.FieldViolations {
		msg += fmt.Sprintf("; %s: %s", v.GetField(), v.GetDescription())
	}
	return msg
}

// GRPCStatus returns the full status, with every detail the server sent.
func (e *Error) GRPCStatus() *status.Status { return e.status }

// Unwrap returns the error gRPC returned.
func (e *Error) Unwrap() error { return e.cause }

// AsError reports whether err is (or wraps) an *Error, and returns it.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ReasonValue returns Reason as its [runwirev1.ErrorReason] value
// (runwirev1.ErrorReason_AGENT_NOT_FOUND for "AGENT_NOT_FOUND"), or
// runwirev1.ErrorReason_ERROR_REASON_UNSPECIFIED when there is no reason, the
// domain is not Runwire's, or this client does not know the reason (a newer
// server's; Reason still has the string).
func (e *Error) ReasonValue() runwirev1.ErrorReason {
	if e.Domain != "" && e.Domain != Domain {
		return runwirev1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	return runwirev1.ErrorReason(runwirev1.ErrorReason_value[e.Reason])
}

// IsReason reports whether err is an *Error whose ErrorInfo reason is reason.
func IsReason(err error, reason string) bool {
	e, ok := AsError(err)
	return ok && e.Reason == reason
}

// RunError converts a failed run's error (Run.error, or RunError.error of
// the run_error event) into an *Error; nil when st is nil or OK.
func RunError(st *spb.Status) *Error {
	if st == nil || codes.Code(st.GetCode()) == codes.OK {
		return nil
	}
	s := status.FromProto(st)
	e, _ := wrapError(s.Err()).(*Error)
	return e
}

// wrapError turns a gRPC status error into an *Error; nil, io.EOF, errors
// that already are *Error and errors that carry no gRPC status are returned
// unchanged.
func wrapError(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	var withStatus interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &withStatus) {
		return err
	}
	st := withStatus.GRPCStatus()
	e := &Error{Code: st.Code(), Message: st.Message(), status: st, cause: err}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.Reason, e.Domain, e.Metadata = d.GetReason(), d.GetDomain(), d.GetMetadata()
		case *errdetails.BadRequest:
			e.FieldViolations = append(e.FieldViolations, d.GetFieldViolations()...)
		}
	}
	return e
}

// errorInterceptors make the generated clients of a dialled Client return
// *Error too.
func errorInterceptors() []grpc.DialOption {
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return wrapError(invoker(ctx, method, req, reply, cc, opts...))
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
		streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, wrapError(err)
		}
		return &wrappedStream{ClientStream: s}, nil
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(unary),
		grpc.WithChainStreamInterceptor(stream),
	}
}

type wrappedStream struct{ grpc.ClientStream }

func (s *wrappedStream) RecvMsg(m any) error { return wrapError(s.ClientStream.RecvMsg(m)) }
func (s *wrappedStream) SendMsg(m any) error { return wrapError(s.ClientStream.SendMsg(m)) }
