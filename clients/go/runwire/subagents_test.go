package runwire

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/structpb"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// fakeTree serves a parent run ("run_parent") that delegates to a sub-agent
// whose run ("run_child") waits for an approval announced in the parent's
// stream. StreamRun sends events 1..3 (up to the announced approval) and ends
// with UNAVAILABLE DRAINING; StreamRunEvents sends the rest once the approval
// is resolved. It also answers ListAgentTools and ListTools.
type fakeTree struct {
	runwirev1.UnimplementedRunServiceServer
	runwirev1.UnimplementedApprovalServiceServer
	runwirev1.UnimplementedAgentServiceServer
	runwirev1.UnimplementedToolServiceServer
	approved chan struct{}
	mu       sync.Mutex
	resolved []string                            // approval ids resolved
	resumes  []*runwirev1.StreamRunEventsRequest // StreamRunEvents requests
}

func treeEvent(seq int64) *runwirev1.RunEvent {
	ev := &runwirev1.RunEvent{RunId: "run_parent", Sequence: seq}
	switch seq {
	case 1:
		ev.Payload = &runwirev1.RunEvent_RunStarted{RunStarted: &runwirev1.RunStarted{AgentId: "parent"}}
	case 2:
		ev.Payload = &runwirev1.RunEvent_SubRunStarted{SubRunStarted: &runwirev1.SubRunStarted{
			ChildRunId: "run_child", AgentId: "child", ToolCallId: "call_parent"}}
	case 3:
		ev.Payload = &runwirev1.RunEvent_ApprovalRequested{ApprovalRequested: &runwirev1.ApprovalRequested{
			ApprovalId: "appr_child", ToolCallId: "call_child", ToolName: "calculator",
			Arguments: `{"expression":"6*7"}`, RunId: "run_child"}}
	case 4:
		ev.Payload = &runwirev1.RunEvent_ApprovalResolved{ApprovalResolved: &runwirev1.ApprovalResolved{
			ApprovalId: "appr_child", ToolCallId: "call_child",
			State: runwirev1.ApprovalState_APPROVAL_STATE_APPROVED, RunId: "run_child"}}
	case 5:
		ev.Payload = &runwirev1.RunEvent_SubRunFinished{SubRunFinished: &runwirev1.SubRunFinished{
			ChildRunId: "run_child", AgentId: "child", ToolCallId: "call_parent",
			State: runwirev1.RunState_RUN_STATE_SUCCEEDED, Output: "42"}}
	default:
		ev.Payload = &runwirev1.RunEvent_RunFinished{RunFinished: &runwirev1.RunFinished{
			State: runwirev1.RunState_RUN_STATE_SUCCEEDED, Output: "the child says 42"}}
	}
	return ev
}

func (f *fakeTree) StreamRun(_ *runwirev1.StreamRunRequest, stream grpc.ServerStreamingServer[runwirev1.StreamRunResponse]) error {
	for seq := int64(1); seq <= 3; seq++ {
		if err := stream.Send(&runwirev1.StreamRunResponse{Event: treeEvent(seq)}); err != nil {
			return err
		}
	}
	st, _ := status.New(codes.Unavailable, "draining").WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonDraining, Domain: Domain})
	return st.Err()
}

func (f *fakeTree) StreamRunEvents(req *runwirev1.StreamRunEventsRequest, stream grpc.ServerStreamingServer[runwirev1.StreamRunEventsResponse]) error {
	f.mu.Lock()
	f.resumes = append(f.resumes, req)
	f.mu.Unlock()
	if req.GetRunId() != "run_parent" {
		return status.Error(codes.NotFound, "not the parent's run")
	}
	select {
	case <-f.approved:
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
	for seq := req.GetAfterSequence() + 1; seq <= 6; seq++ {
		if err := stream.Send(&runwirev1.StreamRunEventsResponse{Event: treeEvent(seq)}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeTree) ResolveApproval(_ context.Context, req *runwirev1.ResolveApprovalRequest) (*runwirev1.ResolveApprovalResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.GetApprovalId() != "appr_child" || req.GetDecision() != runwirev1.ApprovalDecision_APPROVAL_DECISION_APPROVE {
		return nil, status.Error(codes.NotFound, "unknown approval")
	}
	f.resolved = append(f.resolved, req.GetApprovalId())
	if len(f.resolved) == 1 {
		close(f.approved)
	}
	return &runwirev1.ResolveApprovalResponse{Approval: &runwirev1.Approval{
		ApprovalId: req.GetApprovalId(), RunId: "run_child", State: runwirev1.ApprovalState_APPROVAL_STATE_APPROVED}}, nil
}

func (f *fakeTree) ListAgentTools(_ context.Context, req *runwirev1.ListAgentToolsRequest) (*runwirev1.ListAgentToolsResponse, error) {
	if req.GetAgentId() != "parent" {
		st, _ := status.New(codes.NotFound, "agent not found").WithDetails(
			&errdetails.ErrorInfo{Reason: ReasonAgentNotFound, Domain: Domain})
		return nil, st.Err()
	}
	params, _ := structpb.NewStruct(map[string]any{"type": "object", "required": []any{"prompt"}})
	return &runwirev1.ListAgentToolsResponse{Tools: []*runwirev1.AgentTool{
		{Name: "calculator", Source: runwirev1.ToolSource_TOOL_SOURCE_BUILTIN},
		{Name: "ask_child", Source: runwirev1.ToolSource_TOOL_SOURCE_SUB_AGENT, SubAgentId: "child",
			Parameters: params, RequiresApproval: true},
	}}, nil
}

func (f *fakeTree) ListTools(context.Context, *runwirev1.ListToolsRequest) (*runwirev1.ListToolsResponse, error) {
	return &runwirev1.ListToolsResponse{
		Tools: []*runwirev1.Tool{
			{Name: "calculator", Source: runwirev1.ToolSource_TOOL_SOURCE_BUILTIN},
			{Name: "docs_search", Source: runwirev1.ToolSource_TOOL_SOURCE_MCP, McpServer: "docs"},
		},
		McpServers: []*runwirev1.McpServer{{Name: "docs", State: runwirev1.McpServerState_MCP_SERVER_STATE_CONNECTED,
			Transport: runwirev1.McpServerTransport_MCP_SERVER_TRANSPORT_STDIO, ToolNames: []string{"docs_search"}}},
	}, nil
}

func treeClient(t *testing.T, tree *fakeTree) *Client {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	runwirev1.RegisterRunServiceServer(server, tree)
	runwirev1.RegisterApprovalServiceServer(server, tree)
	runwirev1.RegisterAgentServiceServer(server, tree)
	runwirev1.RegisterToolServiceServer(server, tree)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	client, err := Dial("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	client.Reconnect = ReconnectPolicy{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// A parent's stream with sub_run_* events and a sub-agent's approval announced
// in it: the approval is resolved by its id, the stream resumes after a drain
// on the parent's run (not the child's), and every event comes once, in order.
func TestStreamRunWithASubAgentApprovalAndAResume(t *testing.T) {
	tree := &fakeTree{approved: make(chan struct{})}
	client := treeClient(t, tree)
	var kinds []string
	var sequences []int64
	for ev, err := range client.StreamRun(t.Context(), &runwirev1.StreamRunRequest{AgentId: "parent", Prompt: "p"}) {
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, EventType(ev))
		sequences = append(sequences, ev.GetSequence())
		if p := ev.GetApprovalRequested(); p != nil {
			if p.GetRunId() != "run_child" || ev.GetRunId() != "run_parent" {
				t.Errorf("announced approval %v in run %q", p, ev.GetRunId())
			}
			approval, err := client.Approve(t.Context(), p.GetApprovalId())
			if err != nil {
				t.Fatal(err)
			}
			if approval.GetRunId() != "run_child" {
				t.Errorf("approved %v", approval)
			}
		}
		if p := ev.GetSubRunFinished(); p != nil && (p.GetChildRunId() != "run_child" || p.GetOutput() != "42") {
			t.Errorf("sub_run_finished %v", p)
		}
	}
	want := []string{"run_started", "sub_run_started", "approval_requested", "approval_resolved", "sub_run_finished", "run_finished"}
	if !slices.Equal(kinds, want) || !slices.Equal(sequences, []int64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("events %v %v, want %v 1..6", kinds, sequences, want)
	}
	tree.mu.Lock()
	defer tree.mu.Unlock()
	if !slices.Equal(tree.resolved, []string{"appr_child"}) {
		t.Errorf("resolved %v, want the announced approval once", tree.resolved)
	}
	if len(tree.resumes) != 1 || tree.resumes[0].GetRunId() != "run_parent" || tree.resumes[0].GetAfterSequence() != 3 {
		t.Errorf("resumes %v, want one StreamRunEvents(run_parent, after 3)", tree.resumes)
	}
}

func TestListAgentToolsAndListTools(t *testing.T) {
	client := treeClient(t, &fakeTree{approved: make(chan struct{})})
	tools, err := client.ListAgentTools(t.Context(), "parent")
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 2 || tools[1].GetSource() != runwirev1.ToolSource_TOOL_SOURCE_SUB_AGENT ||
		tools[1].GetSubAgentId() != "child" || !tools[1].GetRequiresApproval() ||
		tools[1].GetParameters().GetFields()["type"].GetStringValue() != "object" {
		t.Errorf("ListAgentTools = %v", tools)
	}
	if _, err := client.ListAgentTools(t.Context(), "missing"); !IsReason(err, ReasonAgentNotFound) {
		t.Errorf("ListAgentTools(missing) = %v, want AGENT_NOT_FOUND", err)
	}
	resp, err := client.ListTools(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetTools()) != 2 || resp.GetTools()[1].GetMcpServer() != "docs" ||
		len(resp.GetMcpServers()) != 1 || resp.GetMcpServers()[0].GetState() != runwirev1.McpServerState_MCP_SERVER_STATE_CONNECTED {
		t.Errorf("ListTools = %v", resp)
	}
}
