package runwire

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// MaxMessageBytes is the largest message the server sends by default
// (RUNWIRE_MAX_MESSAGE_BYTES); [Dial] lets the client receive messages that
// large (gRPC-Go's own default is 4 MiB).
const MaxMessageBytes = 16 << 20

// Client talks to one Runwire server. Its fields are the generated clients
// of the four services, for every RPC and field of the contract; its methods
// are shortcuts for the common flows. A Client is safe for concurrent use.
type Client struct {
	Agents    runwirev1.AgentServiceClient
	Runs      runwirev1.RunServiceClient
	Approvals runwirev1.ApprovalServiceClient
	Threads   runwirev1.ThreadServiceClient

	conn *grpc.ClientConn // set when Dial made it; closed by Close
}

// Dial creates a Client for target ("host:port", "unix:/path.sock" or any
// gRPC target). Like grpc.NewClient it connects lazily, on the first call.
// opts must choose the transport credentials, for example
// grpc.WithTransportCredentials(insecure.NewCredentials()) for a plaintext
// server on loopback; [Connect] chooses them (and a bearer token) from
// [Options] instead. Every error of the connection's calls, through the
// methods or the generated clients, is an [*Error].
func Dial(target string, opts ...grpc.DialOption) (*Client, error) {
	all := []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes))}
	all = append(all, errorInterceptors()...)
	all = append(all, opts...)
	conn, err := grpc.NewClient(target, all...)
	if err != nil {
		return nil, err
	}
	c := New(conn)
	c.conn = conn
	return c, nil
}

// New creates a Client on a connection the caller owns (and closes).
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{
		Agents:    runwirev1.NewAgentServiceClient(conn),
		Runs:      runwirev1.NewRunServiceClient(conn),
		Approvals: runwirev1.NewApprovalServiceClient(conn),
		Threads:   runwirev1.NewThreadServiceClient(conn),
	}
}

// Close closes the connection if [Dial] made it; it does nothing for a
// Client made by [New].
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// CreateAgent creates agent under agentID (lower-case letters, digits, '-',
// '_', '.'; agent.Model is required) and returns it as stored, with its etag
// and timestamps. ALREADY_EXISTS (AGENT_ALREADY_EXISTS) if the id is taken.
func (c *Client) CreateAgent(ctx context.Context, agentID string, agent *runwirev1.Agent) (*runwirev1.Agent, error) {
	resp, err := c.Agents.CreateAgent(ctx, &runwirev1.CreateAgentRequest{AgentId: agentID, Agent: agent})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetAgent(), nil
}

// GetAgent returns one agent. NOT_FOUND (AGENT_NOT_FOUND) if unknown.
func (c *Client) GetAgent(ctx context.Context, agentID string) (*runwirev1.Agent, error) {
	resp, err := c.Agents.GetAgent(ctx, &runwirev1.GetAgentRequest{AgentId: agentID})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetAgent(), nil
}

// DeleteAgent deletes an agent; runs already started are not affected.
func (c *Client) DeleteAgent(ctx context.Context, agentID string) error {
	_, err := c.Agents.DeleteAgent(ctx, &runwirev1.DeleteAgentRequest{AgentId: agentID})
	return wrapError(err)
}

// CreateRun starts a run and returns it at once; follow it with
// [Client.Resume](ctx, run.RunId, 0).
func (c *Client) CreateRun(ctx context.Context, req *runwirev1.CreateRunRequest) (*runwirev1.Run, error) {
	resp, err := c.Runs.CreateRun(ctx, req)
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetRun(), nil
}

// GetRun returns one run. NOT_FOUND (RUN_NOT_FOUND) if unknown.
func (c *Client) GetRun(ctx context.Context, runID string) (*runwirev1.Run, error) {
	resp, err := c.Runs.GetRun(ctx, &runwirev1.GetRunRequest{RunId: runID})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetRun(), nil
}

// CancelRun cancels a run (pending approvals are cancelled and it ends
// CANCELLED); reason is kept in the log and may be empty.
func (c *Client) CancelRun(ctx context.Context, runID, reason string) (*runwirev1.Run, error) {
	resp, err := c.Runs.CancelRun(ctx, &runwirev1.CancelRunRequest{RunId: runID, Reason: reason})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetRun(), nil
}

// ResolveApproval approves or rejects a pending tool call, with every option
// of the contract (reason, edited_arguments). Resolving again with the same
// decision returns the approval; with the other decision: FAILED_PRECONDITION
// (APPROVAL_ALREADY_RESOLVED).
func (c *Client) ResolveApproval(ctx context.Context, req *runwirev1.ResolveApprovalRequest) (*runwirev1.Approval, error) {
	resp, err := c.Approvals.ResolveApproval(ctx, req)
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetApproval(), nil
}

// Approve approves a pending tool call: the tool runs with the model's
// arguments.
func (c *Client) Approve(ctx context.Context, approvalID string) (*runwirev1.Approval, error) {
	return c.ResolveApproval(ctx, &runwirev1.ResolveApprovalRequest{
		ApprovalId: approvalID,
		Decision:   runwirev1.ApprovalDecision_APPROVAL_DECISION_APPROVE,
	})
}

// Reject rejects a pending tool call; the model sees reason.
func (c *Client) Reject(ctx context.Context, approvalID, reason string) (*runwirev1.Approval, error) {
	return c.ResolveApproval(ctx, &runwirev1.ResolveApprovalRequest{
		ApprovalId: approvalID,
		Decision:   runwirev1.ApprovalDecision_APPROVAL_DECISION_REJECT,
		Reason:     reason,
	})
}

// ListPendingApprovals returns the pending approvals of a run (of every run
// when runID is empty), newest first, reading every page.
func (c *Client) ListPendingApprovals(ctx context.Context, runID string) ([]*runwirev1.Approval, error) {
	var all []*runwirev1.Approval
	req := &runwirev1.ListApprovalsRequest{RunId: runID, State: runwirev1.ApprovalState_APPROVAL_STATE_PENDING}
	for {
		resp, err := c.Approvals.ListApprovals(ctx, req)
		if err != nil {
			return nil, wrapError(err)
		}
		all = append(all, resp.GetApprovals()...)
		if resp.GetNextPageToken() == "" {
			return all, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// SubmitToolOutputs answers client-executed tool calls of a run that
// REQUIRES_ACTION (one output per tool call; see the
// client_tool_call_requested event) and returns the run after the outputs
// were accepted.
func (c *Client) SubmitToolOutputs(ctx context.Context, runID string, outputs ...*runwirev1.ToolOutput) (*runwirev1.Run, error) {
	resp, err := c.Runs.SubmitToolOutputs(ctx, &runwirev1.SubmitToolOutputsRequest{RunId: runID, ToolOutputs: outputs})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetRun(), nil
}

// SubmitToolOutput answers one client-executed tool call with its result.
// To report a failed tool, use [Client.SubmitToolOutputs] with IsError set.
func (c *Client) SubmitToolOutput(ctx context.Context, runID, toolCallID, output string) (*runwirev1.Run, error) {
	return c.SubmitToolOutputs(ctx, runID, &runwirev1.ToolOutput{ToolCallId: toolCallID, Output: output})
}

// NewClientTool declares a tool the client executes itself, for
// StreamRunRequest.ClientTools (and the other run requests). parameters is
// the JSON Schema of its arguments object (nil for none).
func NewClientTool(name, description string, parameters map[string]any) (*runwirev1.ClientTool, error) {
	tool := &runwirev1.ClientTool{Name: name, Description: description}
	if parameters != nil {
		s, err := structpb.NewStruct(parameters)
		if err != nil {
			return nil, err
		}
		tool.Parameters = s
	}
	return tool, nil
}

// NewModel names a model for Agent.Model, with provider-specific options as
// JSON values (for the scripted model: "script", "chunk_chars", "delay_ms").
func NewModel(provider, name string, options map[string]any) (*runwirev1.Model, error) {
	model := &runwirev1.Model{Provider: provider, Name: name}
	if options != nil {
		s, err := structpb.NewStruct(options)
		if err != nil {
			return nil, err
		}
		model.Options = s
	}
	return model, nil
}
