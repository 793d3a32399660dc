package runwire

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// MaxMessageBytes is the largest message the server sends by default
// (RUNWIRE_MAX_MESSAGE_BYTES); [Dial] lets the client receive messages that
// large (gRPC-Go's own default is 4 MiB).
const MaxMessageBytes = 16 << 20

// Client talks to one Runwire server. Its fields are the generated clients
// of the five services, for every RPC and field of the contract; its methods
// are shortcuts for the common flows. A Client is safe for concurrent use.
type Client struct {
	Agents    runwirev1.AgentServiceClient
	Runs      runwirev1.RunServiceClient
	Approvals runwirev1.ApprovalServiceClient
	Threads   runwirev1.ThreadServiceClient
	Tools     runwirev1.ToolServiceClient

	// Reconnect says how event streams resume after UNAVAILABLE (DRAINING
	// or a lost connection); the zero value applies the defaults. Set it
	// before the client is shared.
	Reconnect ReconnectPolicy

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
		Tools:     runwirev1.NewToolServiceClient(conn),
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

// ListAgents returns one page of agents; pass resp.NextPageToken as
// pageToken for the next page ("" on the last). pageSize 0: the server's
// default (100). [Client.ListAgentsPage] takes the whole request (labels).
func (c *Client) ListAgents(ctx context.Context, pageSize int32, pageToken string) (*runwirev1.ListAgentsResponse, error) {
	return c.ListAgentsPage(ctx, &runwirev1.ListAgentsRequest{PageSize: pageSize, PageToken: pageToken})
}

// ListAgentsPage returns one page of agents for the whole request: only
// those that carry every one of req.Labels (same key and value), req.PageSize
// of them (0: 100), after req.PageToken.
func (c *Client) ListAgentsPage(ctx context.Context, req *runwirev1.ListAgentsRequest) (*runwirev1.ListAgentsResponse, error) {
	resp, err := c.Agents.ListAgents(ctx, req)
	return resp, wrapError(err)
}

// UpdateAgent updates the agent agent.AgentId: only the fields named in
// paths (for example "instructions", "model"); every updatable field when
// paths is empty. With agent.Etag set, ABORTED (ETAG_MISMATCH) if the agent
// changed since. Returns the agent as stored.
func (c *Client) UpdateAgent(ctx context.Context, agent *runwirev1.Agent, paths ...string) (*runwirev1.Agent, error) {
	req := &runwirev1.UpdateAgentRequest{Agent: agent}
	if len(paths) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
	}
	resp, err := c.Agents.UpdateAgent(ctx, req)
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetAgent(), nil
}

// ListAgentTools returns the tools a run of the agent offers its model, in
// that order: server tools (built-in, Python), the tools of its MCP toolsets
// ("<server>_<tool>") and its sub-agents (Source TOOL_SOURCE_SUB_AGENT,
// SubAgentId set), each with its JSON Schema (Parameters) and whether a call
// needs an approval (RequiresApproval). NOT_FOUND (AGENT_NOT_FOUND) if the
// agent is unknown.
func (c *Client) ListAgentTools(ctx context.Context, agentID string) ([]*runwirev1.AgentTool, error) {
	resp, err := c.Agents.ListAgentTools(ctx, &runwirev1.ListAgentToolsRequest{AgentId: agentID})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetTools(), nil
}

// ListTools returns the server's tools (built-in, registered Python, and
// those of each MCP server it reached) and its configured MCP servers with
// their state, each ordered by name (ToolService.ListTools).
func (c *Client) ListTools(ctx context.Context) (*runwirev1.ListToolsResponse, error) {
	resp, err := c.Tools.ListTools(ctx, &runwirev1.ListToolsRequest{})
	return resp, wrapError(err)
}

// CreateRun starts a run and returns it at once; follow it with
// [Client.Resume](ctx, run.RunId, 0). req.Labels tag the run (ListRuns and
// WatchRuns filter on them; Run.Labels); req.Overrides change the agent for
// this run only (more instructions, sampling, tighter limits; Run.Overrides).
// When req.RequestId is empty a random
// one ([NewRequestID]) is sent (req itself is not modified), so a retry of
// this request returns the same run instead of starting a second one.
//
// A call that fails with UNAVAILABLE (DRAINING, or a lost connection, even
// after the server received it) is retried by itself with the same
// request_id, per [Client.Reconnect] (OnRetry is told); the server returns
// the run the first attempt started, if it did.
func (c *Client) CreateRun(ctx context.Context, req *runwirev1.CreateRunRequest) (*runwirev1.Run, error) {
	if req.GetRequestId() == "" {
		req = proto.CloneOf(req)
		req.RequestId = NewRequestID()
	}
	resp, err := retryCall(ctx, c, "CreateRun", func(ctx context.Context) (*runwirev1.CreateRunResponse, error) {
		return c.Runs.CreateRun(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return resp.GetRun(), nil
}

// WaitRun starts a run and blocks until it ends, requires action, is paused, or
// req.Timeout passes (default 60 s, at most 3,600 s; see [WaitTimeout]);
// it returns the run as it is then (it goes on in the background). A
// request_id is set, and a call that fails with UNAVAILABLE (DRAINING, or a
// lost connection) is retried, as in [Client.CreateRun]: the retry waits for
// the same run, req.Timeout again. Give ctx a deadline longer than
// req.Timeout.
func (c *Client) WaitRun(ctx context.Context, req *runwirev1.WaitRunRequest) (*runwirev1.Run, error) {
	if req.GetRequestId() == "" {
		req = proto.CloneOf(req)
		req.RequestId = NewRequestID()
	}
	resp, err := retryCall(ctx, c, "WaitRun", func(ctx context.Context) (*runwirev1.WaitRunResponse, error) {
		return c.Runs.WaitRun(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return resp.GetRun(), nil
}

// WaitTimeout converts d for WaitRunRequest.Timeout.
func WaitTimeout(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// ListRuns returns one page of runs, newest first, filtered by the
// request's agent, thread, state and labels (a run matches when it carries
// every one of req.Labels); pass resp.NextPageToken as req.PageToken for the
// next page ("" on the last).
func (c *Client) ListRuns(ctx context.Context, req *runwirev1.ListRunsRequest) (*runwirev1.ListRunsResponse, error) {
	resp, err := c.Runs.ListRuns(ctx, req)
	return resp, wrapError(err)
}

// ListRunEvents returns one page of a run's logged events (it does not wait
// for new ones; [Client.Resume] does); with req.Filter only the matching
// ones, with their log sequences.
func (c *Client) ListRunEvents(ctx context.Context, req *runwirev1.ListRunEventsRequest) (*runwirev1.ListRunEventsResponse, error) {
	resp, err := c.Runs.ListRunEvents(ctx, req)
	return resp, wrapError(err)
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

// PauseRun asks a run to pause at its next safe point (before its next model
// call, or before the tool calls of the reply in flight): it then logs
// state_changed PAUSED and waits for [Client.ResumeRun]. Returns the run when
// the request is recorded (usually still RUNNING); a paused or ended run is
// returned unchanged. reason is kept in the server log and may be empty.
func (c *Client) PauseRun(ctx context.Context, runID, reason string) (*runwirev1.Run, error) {
	resp, err := c.Runs.PauseRun(ctx, &runwirev1.PauseRunRequest{RunId: runID, Reason: reason})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetRun(), nil
}

// ResumeRun continues a PAUSED run (or withdraws a pause it has not reached
// yet) and returns it; a run neither paused nor asked to pause is returned
// unchanged. Not to be confused with [Client.Resume], which streams events.
func (c *Client) ResumeRun(ctx context.Context, runID string) (*runwirev1.Run, error) {
	resp, err := c.Runs.ResumeRun(ctx, &runwirev1.ResumeRunRequest{RunId: runID})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetRun(), nil
}

// ResolveApproval approves or rejects a pending tool call, with every option
// of the contract (reason, edited_arguments). An approval announced in a
// parent's stream for a sub-agent's run (ApprovalRequested.RunId set to the
// child run) is resolved the same way, by its approval id. Resolving again with the same
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

// GetApproval returns one approval. NOT_FOUND (APPROVAL_NOT_FOUND) if unknown.
func (c *Client) GetApproval(ctx context.Context, approvalID string) (*runwirev1.Approval, error) {
	resp, err := c.Approvals.GetApproval(ctx, &runwirev1.GetApprovalRequest{ApprovalId: approvalID})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetApproval(), nil
}

// ListApprovals returns one page of approvals, filtered by the request's run
// and state; pass resp.NextPageToken as req.PageToken for the next page.
func (c *Client) ListApprovals(ctx context.Context, req *runwirev1.ListApprovalsRequest) (*runwirev1.ListApprovalsResponse, error) {
	resp, err := c.Approvals.ListApprovals(ctx, req)
	return resp, wrapError(err)
}

// CreateThread creates a thread under threadID ("" lets the server choose
// one) with optional metadata. ALREADY_EXISTS (THREAD_ALREADY_EXISTS) if the
// id is taken.
func (c *Client) CreateThread(ctx context.Context, threadID string, metadata map[string]string) (*runwirev1.Thread, error) {
	resp, err := c.Threads.CreateThread(ctx, &runwirev1.CreateThreadRequest{ThreadId: threadID, Metadata: metadata})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetThread(), nil
}

// GetThread returns one thread. NOT_FOUND (THREAD_NOT_FOUND) if unknown.
func (c *Client) GetThread(ctx context.Context, threadID string) (*runwirev1.Thread, error) {
	resp, err := c.Threads.GetThread(ctx, &runwirev1.GetThreadRequest{ThreadId: threadID})
	if err != nil {
		return nil, wrapError(err)
	}
	return resp.GetThread(), nil
}

// ListThreadMessages returns one page of a thread's messages; pass
// resp.NextPageToken as req.PageToken for the next page.
func (c *Client) ListThreadMessages(ctx context.Context, req *runwirev1.ListThreadMessagesRequest) (*runwirev1.ListThreadMessagesResponse, error) {
	resp, err := c.Threads.ListThreadMessages(ctx, req)
	return resp, wrapError(err)
}

// DeleteThread deletes a thread and its messages. FAILED_PRECONDITION
// (THREAD_BUSY) while a run uses it.
func (c *Client) DeleteThread(ctx context.Context, threadID string) error {
	_, err := c.Threads.DeleteThread(ctx, &runwirev1.DeleteThreadRequest{ThreadId: threadID})
	return wrapError(err)
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
