// Command quickstart drives one Runwire run end to end with the Go client:
// it creates an agent on the scripted model, streams a run whose first turn
// calls a server tool that needs an approval (calculator) and a tool the
// client executes itself (lookup_order), approves the one and answers the
// other, disconnects on purpose while the final answer streams, resumes after
// the last sequence it saw, and checks that every step happened.
//
// Usage: go run ./examples/quickstart [ADDRESS]   (default 127.0.0.1:50051)
//
// TLS and the bearer token come from the environment (runwire.OptionsFromEnv):
// RUNWIRE_TOKEN, RUNWIRE_CA_FILE, RUNWIRE_CLIENT_CERT_FILE,
// RUNWIRE_CLIENT_KEY_FILE, RUNWIRE_TLS_SERVER_NAME; without them the
// connection is plaintext.
//
// It exits 0 only when every check passes.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/runwire/runwire/clients/go/runwire"
	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

const (
	firstText = "Checking the order and the total."
	finalText = "Order A-17 has shipped; 3 items at 19 cost 57."
	// Deltas of the final message to read before disconnecting on purpose.
	deltasBeforeDisconnect = 3
)

func main() {
	address := "127.0.0.1:50051"
	if len(os.Args) > 1 {
		address = os.Args[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	err := run(ctx, address)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAILED:", err)
		os.Exit(1)
	}
}

// lookupOrder is the client tool: it runs here, in the client, not on the
// server.
func lookupOrder(arguments string) (string, error) {
	var args struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal([]byte(arguments), &args); err != nil {
		return "", fmt.Errorf("lookup_order: bad arguments %q: %w", arguments, err)
	}
	out, err := json.Marshal(map[string]string{"order_id": args.OrderID, "status": "shipped"})
	return string(out), err
}

// tracker follows a run's events across streams and records what the checks
// need.
type tracker struct {
	client *runwire.Client
	runID  string

	sequences     []int64
	lastSequence  int64
	step          int32
	finalDeltas   int
	finalText     strings.Builder
	toolCallNames map[string]string // tool call id -> tool name
	toolResults   map[string]string // tool name -> result content
	approvals     int
	clientCalls   int
	lookupOutput  string
	finished      *runwirev1.RunFinished
	failed        *runwirev1.RunError
}

// handle reacts to one event; it returns true when the stream should be
// dropped on purpose (the disconnect test).
func (t *tracker) handle(ctx context.Context, ev *runwirev1.RunEvent, mayDisconnect bool) (bool, error) {
	if t.runID == "" {
		t.runID = ev.GetRunId()
		fmt.Printf("run_id: %s\n", t.runID)
	}
	t.sequences = append(t.sequences, ev.GetSequence())
	t.lastSequence = ev.GetSequence()
	line := fmt.Sprintf("#%d %s", ev.GetSequence(), runwire.EventType(ev))

	switch p := ev.GetPayload().(type) {
	case *runwirev1.RunEvent_StateChanged:
		fmt.Println(line, p.StateChanged.GetState())
	case *runwirev1.RunEvent_StepStarted:
		t.step = p.StepStarted.GetStep()
		fmt.Println(line, t.step)
	case *runwirev1.RunEvent_TextMessageContent:
		fmt.Printf("%s %q\n", line, p.TextMessageContent.GetDelta())
		if t.step >= 2 {
			t.finalText.WriteString(p.TextMessageContent.GetDelta())
			t.finalDeltas++
			if mayDisconnect && t.finalDeltas == deltasBeforeDisconnect {
				return true, nil
			}
		}
	case *runwirev1.RunEvent_ToolCallStart:
		t.toolCallNames[p.ToolCallStart.GetToolCallId()] = p.ToolCallStart.GetToolCallName()
		fmt.Println(line, p.ToolCallStart.GetToolCallName())
	case *runwirev1.RunEvent_ApprovalRequested:
		a := p.ApprovalRequested
		t.approvals++
		fmt.Printf("%s %s(%s) -> approving\n", line, a.GetToolName(), a.GetArguments())
		approval, err := t.client.Approve(ctx, a.GetApprovalId())
		if err != nil {
			return false, fmt.Errorf("approving %s: %w", a.GetApprovalId(), err)
		}
		fmt.Printf("   approved by %s\n", approval.GetResolvedBy())
	case *runwirev1.RunEvent_ClientToolCallRequested:
		call := p.ClientToolCallRequested
		t.clientCalls++
		fmt.Printf("%s %s(%s) -> running it in Go\n", line, call.GetToolName(), call.GetArguments())
		if call.GetToolName() != "lookup_order" {
			return false, fmt.Errorf("unexpected client tool %q", call.GetToolName())
		}
		output, err := lookupOrder(call.GetArguments())
		if err != nil {
			return false, err
		}
		t.lookupOutput = output
		if _, err := t.client.SubmitToolOutput(ctx, ev.GetRunId(), call.GetToolCallId(), output); err != nil {
			return false, fmt.Errorf("submitting lookup_order output: %w", err)
		}
		fmt.Printf("   submitted %s\n", output)
	case *runwirev1.RunEvent_ToolCallResult:
		name := t.toolCallNames[p.ToolCallResult.GetToolCallId()]
		t.toolResults[name] = p.ToolCallResult.GetContent()
		fmt.Printf("%s %s -> %s\n", line, name, p.ToolCallResult.GetContent())
	case *runwirev1.RunEvent_RunFinished:
		t.finished = p.RunFinished
		fmt.Println(line, p.RunFinished.GetState())
	case *runwirev1.RunEvent_RunError:
		t.failed = p.RunError
		fmt.Println(line, runwire.RunError(p.RunError.GetError()))
	default:
		fmt.Println(line)
	}
	return false, nil
}

func run(ctx context.Context, address string) error {
	client, err := runwire.Connect(address, runwire.OptionsFromEnv())
	if err != nil {
		return err
	}
	defer client.Close()
	fmt.Printf("Runwire Go quickstart · server %s\n", address)

	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return err
	}
	agentID := "go-quickstart-" + hex.EncodeToString(suffix)
	model, err := runwire.NewModel("scripted", "", map[string]any{
		"script": []any{
			map[string]any{
				"text": firstText,
				"tool_calls": []any{
					map[string]any{"name": "calculator", "arguments": map[string]any{"expression": "19 * 3"}},
					map[string]any{"name": "lookup_order", "arguments": map[string]any{"order_id": "A-17"}},
				},
			},
			map[string]any{"text": finalText},
		},
		"chunk_chars": 4,
		"delay_ms":    30,
	})
	if err != nil {
		return err
	}
	agent, err := client.CreateAgent(ctx, agentID, &runwirev1.Agent{
		DisplayName:    "Go quickstart",
		Instructions:   "You look up orders and do the arithmetic.",
		Model:          model,
		Tools:          []string{"calculator"},
		ApprovalPolicy: &runwirev1.ApprovalPolicy{Mode: runwirev1.ApprovalMode_APPROVAL_MODE_REQUIRE_ALL},
	})
	if err != nil {
		return fmt.Errorf("creating the agent: %w", err)
	}
	fmt.Printf("agent %s: scripted model, tool calculator, every tool call needs approval\n", agent.GetAgentId())

	// The typed error: creating the same agent again is ALREADY_EXISTS.
	if _, err := client.CreateAgent(ctx, agentID, agent); !runwire.IsReason(err, runwire.ReasonAgentAlreadyExists) {
		return fmt.Errorf("creating the agent twice: want AGENT_ALREADY_EXISTS, got %v", err)
	} else if e, _ := runwire.AsError(err); e != nil {
		fmt.Printf("creating it again fails as expected: code %s, reason %s\n", e.Code, e.Reason)
	}

	lookup, err := runwire.NewClientTool("lookup_order", "Looks up an order by id.", map[string]any{
		"type":       "object",
		"properties": map[string]any{"order_id": map[string]any{"type": "string"}},
		"required":   []any{"order_id"},
	})
	if err != nil {
		return err
	}
	t := &tracker{client: client, toolCallNames: map[string]string{}, toolResults: map[string]string{}}

	fmt.Println("-- StreamRun")
	disconnected := false
	for ev, err := range client.StreamRun(ctx, &runwirev1.StreamRunRequest{
		AgentId:     agentID,
		Prompt:      "Where is order A-17, and what do 3 items at 19 cost?",
		ClientTools: []*runwirev1.ClientTool{lookup},
	}) {
		if err != nil {
			return fmt.Errorf("StreamRun: %w", err)
		}
		drop, err := t.handle(ctx, ev, true)
		if err != nil {
			return err
		}
		if drop {
			disconnected = true
			break // cancels the stream; the run goes on on the server
		}
	}
	if !disconnected {
		return errors.New("the stream ended before the planned disconnect")
	}
	fmt.Printf("-- disconnected on purpose after sequence %d; resuming with StreamRunEvents(after_sequence=%d)\n",
		t.lastSequence, t.lastSequence)
	for ev, err := range client.Resume(ctx, t.runID, t.lastSequence) {
		if err != nil {
			return fmt.Errorf("StreamRunEvents: %w", err)
		}
		if _, err := t.handle(ctx, ev, false); err != nil {
			return err
		}
	}
	if t.finished != nil {
		fmt.Printf("final output: %s\n", t.finished.GetOutput())
	}
	if err := t.check(); err != nil {
		return err
	}
	fmt.Printf("OK: %d events, sequences 1..%d gap-free across the disconnect, approval and client tool handled\n",
		len(t.sequences), t.lastSequence)
	return nil
}

// check verifies every expected step of the run.
func (t *tracker) check() error {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if t.approvals != 1 {
		fail("approval_requested %d times, want 1", t.approvals)
	}
	if t.clientCalls != 1 {
		fail("client_tool_call_requested %d times, want 1", t.clientCalls)
	}
	if got := t.toolResults["calculator"]; got != "57" {
		fail("calculator result %q, want \"57\"", got)
	}
	if got, ok := t.toolResults["lookup_order"]; !ok || got != t.lookupOutput {
		fail("lookup_order result %q, want %q", got, t.lookupOutput)
	}
	for i, seq := range t.sequences {
		if seq != int64(i+1) {
			fail("event %d has sequence %d: sequences are not 1..N without gaps or duplicates (%v)", i+1, seq, t.sequences)
			break
		}
	}
	switch {
	case t.failed != nil:
		fail("the run failed: %v", runwire.RunError(t.failed.GetError()))
	case t.finished == nil:
		fail("no run_finished event")
	default:
		if t.finished.GetState() != runwirev1.RunState_RUN_STATE_SUCCEEDED {
			fail("run finished %s, want RUN_STATE_SUCCEEDED", t.finished.GetState())
		}
		if t.finished.GetOutput() != finalText {
			fail("output %q, want %q", t.finished.GetOutput(), finalText)
		}
	}
	if t.finalText.String() != finalText {
		fail("streamed final text %q (before and after the disconnect), want %q", t.finalText.String(), finalText)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n  "))
	}
	return nil
}
