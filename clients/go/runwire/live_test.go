package runwire

// The client against real Runwire servers: tests/clients/test_go_client.py
// starts them and sets RUNWIRE_TEST_ADDRESS (a server), RUNWIRE_TEST_PROXY_ADDRESS
// and RUNWIRE_TEST_PROXY_CONTROL (a TCP proxy in front of it whose POST /cut
// aborts every proxied connection), RUNWIRE_TEST_DRAIN_ADDRESS and
// RUNWIRE_TEST_DRAIN_CONTROL (the drain lab: two replicas on one Redis behind a
// proxy whose POST /drain sends SIGTERM to the active one and routes new
// connections to the other; tests/clients/lab_drain.py) and the connection
// settings (RUNWIRE_TOKEN, RUNWIRE_CA_FILE, ...). Without them these tests are
// skipped.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	runwirev1 "github.com/runwire/runwire/clients/go/runwire/v1"
)

// liveEnv returns the variable's value, skipping the test when it is unset.
func liveEnv(t *testing.T, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		t.Skipf("%s is not set (tests/clients/test_go_client.py sets it)", name)
	}
	return value
}

// liveClient connects to address with the environment's settings and a fast,
// patient reconnect policy (a draining replica refuses resumes until it is gone).
func liveClient(t *testing.T, address string) *Client {
	t.Helper()
	client, err := Connect(address, OptionsFromEnv())
	if err != nil {
		t.Fatal(err)
	}
	client.Reconnect = ReconnectPolicy{MaxResumes: 40, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 250 * time.Millisecond}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// post sends a command ("cut" or "drain") to a proxy's control URL and
// returns its answer.
func post(url, command string) (string, error) {
	resp, err := http.Post(url+"/"+command, "text/plain", nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("POST /%s: %s %s", command, resp.Status, body)
	}
	return string(body), err
}

// control is post, failing the test on an error.
func control(t *testing.T, url, command string) string {
	t.Helper()
	answer, err := post(url, command)
	if err != nil {
		t.Fatal(err)
	}
	return answer
}

// slowAgent creates an agent whose scripted model streams text in 3-character
// deltas, delayMs apart.
func slowAgent(t *testing.T, client *Client, prefix, text string, delayMs int) string {
	t.Helper()
	model, err := NewModel("scripted", "", map[string]any{
		"script": []any{map[string]any{"text": text}}, "chunk_chars": 3, "delay_ms": delayMs,
	})
	if err != nil {
		t.Fatal(err)
	}
	agentID := prefix + "-" + NewRequestID()[:8]
	if _, err := client.CreateAgent(t.Context(), agentID, &runwirev1.Agent{Instructions: "test agent", Model: model}); err != nil {
		t.Fatal(err)
	}
	return agentID
}

// resumeNotice is what OnResume was told.
type resumeNotice struct {
	runID string
	after int64
	cause error
}

// retryNotice is what OnRetry was told.
type retryNotice struct {
	method string
	cause  error
}

// recorder collects OnResume and OnRetry calls (from any goroutine).
type recorder struct {
	mu      sync.Mutex
	resumes []resumeNotice
	retries []retryNotice
}

// retried reports whether method was retried after an error with reason ("": any).
func (r *recorder) retried(method, reason string) bool {
	for _, n := range r.retries {
		if n.method == method && (reason == "" || IsReason(n.cause, reason)) {
			return true
		}
	}
	return false
}

func (r *recorder) watch(client *Client) {
	client.Reconnect.OnResume = func(runID string, after int64, _ int, cause error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.resumes = append(r.resumes, resumeNotice{runID, after, cause})
	}
	client.Reconnect.OnRetry = func(method string, _ int, cause error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.retries = append(r.retries, retryNotice{method, cause})
	}
}

func wantGapFree(t *testing.T, events []*runwirev1.RunEvent) {
	t.Helper()
	for i, ev := range events {
		if ev.GetSequence() != int64(i+1) {
			t.Fatalf("event %d has sequence %d: want 1..%d once each, in order", i, ev.GetSequence(), len(events))
		}
	}
}

func wantSucceeded(t *testing.T, events []*runwirev1.RunEvent, output string) {
	t.Helper()
	if len(events) == 0 {
		t.Fatal("no event")
	}
	finished := events[len(events)-1].GetRunFinished()
	if finished.GetState() != runwirev1.RunState_RUN_STATE_SUCCEEDED || finished.GetOutput() != output {
		t.Fatalf("last event %v, want run_finished SUCCEEDED with the whole text", events[len(events)-1])
	}
}

func runsOf(t *testing.T, client *Client, agentID string) []*runwirev1.Run {
	t.Helper()
	resp, err := client.ListRuns(t.Context(), &runwirev1.ListRunsRequest{AgentId: agentID, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetRuns()
}

func TestLiveStreamResumesOnAnotherReplicaAfterARealDrain(t *testing.T) {
	address := liveEnv(t, "RUNWIRE_TEST_DRAIN_ADDRESS")
	controlURL := liveEnv(t, "RUNWIRE_TEST_DRAIN_CONTROL")
	client := liveClient(t, address)
	seen := &recorder{}
	seen.watch(client)
	text := strings.Repeat("draining is graceful ", 12)
	agentID := slowAgent(t, client, "go-drain", text, 25)
	// A watch of the agent's runs, on the same connection: the drain ends it too.
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	watching := watchRunsInBackground(ctx, client, &runwirev1.WatchRunsRequest{AgentId: agentID})
	select {
	case <-watching.synced:
	case <-time.After(30 * time.Second):
		t.Fatal("no SYNCED")
	}

	var events []*runwirev1.RunEvent
	var created *runwirev1.Run
	for ev, err := range client.StreamRun(t.Context(), &runwirev1.StreamRunRequest{AgentId: agentID, Prompt: "p"}) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(events), err)
		}
		events = append(events, ev)
		if len(events) == 6 {
			t.Log(control(t, controlURL, "drain"))
			// The replica this connection reaches refuses new runs now (DRAINING), until it
			// is gone: CreateRun retries with its request_id and starts the run on the other.
			run, err := client.CreateRun(t.Context(), &runwirev1.CreateRunRequest{AgentId: agentID, Prompt: "again"})
			if err != nil {
				t.Fatalf("CreateRun during the drain: %v", err)
			}
			created = run
		}
	}
	wantGapFree(t, events)
	wantSucceeded(t, events, text)
	runID := events[0].GetRunId()
	// The watch, reopened on the other replica, saw both runs created and ended, once each.
	waitFor(t, "the watch sees both runs end", func() bool { return watching.ended(runID, created.GetRunId()) })
	stop()
	watching.wantOnceEach(t, runID, created.GetRunId())

	seen.mu.Lock()
	defer seen.mu.Unlock()
	var drained *resumeNotice
	for i := range seen.resumes {
		if IsReason(seen.resumes[i].cause, ReasonDraining) {
			drained = &seen.resumes[i]
			break
		}
	}
	if drained == nil {
		t.Fatalf("no resume after DRAINING: %v", seen.resumes)
	}
	e, _ := AsError(drained.cause)
	if e.Code != codes.Unavailable || drained.runID != runID || e.Metadata["run_id"] != runID ||
		e.Metadata["last_sequence"] != strconv.FormatInt(drained.after, 10) || drained.after < 6 {
		t.Errorf("the DRAINING resume: run %q after %d, error %v %v", drained.runID, drained.after, e, e.Metadata)
	}
	if !seen.retried("CreateRun", ReasonDraining) {
		t.Errorf("CreateRun was not retried after DRAINING: %v", seen.retries)
	}
	if !seen.retried("WatchRuns", ReasonDraining) {
		t.Errorf("the watch was not reopened after DRAINING: %v", seen.retries)
	}

	// One run per request: the streamed one and the one CreateRun started, which succeeds too.
	runs := runsOf(t, client, agentID)
	if len(runs) != 2 {
		t.Errorf("%d runs of the agent, want 2: %v", len(runs), runs)
	}
	var second []*runwirev1.RunEvent
	for ev, err := range client.Resume(t.Context(), created.GetRunId(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		second = append(second, ev)
	}
	wantGapFree(t, second)
	wantSucceeded(t, second, text)
}

func TestLiveStreamResumesAfterItsConnectionIsCut(t *testing.T) {
	liveEnv(t, "RUNWIRE_TEST_ADDRESS")
	proxy := liveEnv(t, "RUNWIRE_TEST_PROXY_ADDRESS")
	controlURL := liveEnv(t, "RUNWIRE_TEST_PROXY_CONTROL")
	client := liveClient(t, proxy)
	seen := &recorder{}
	seen.watch(client)
	text := strings.Repeat("resuming is seamless ", 8)
	agentID := slowAgent(t, client, "go-cut", text, 15)
	var events []*runwirev1.RunEvent
	for ev, err := range client.StreamRun(t.Context(), &runwirev1.StreamRunRequest{AgentId: agentID, Prompt: "p"}) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(events), err)
		}
		events = append(events, ev)
		if len(events) == 5 || len(events) == 20 {
			control(t, controlURL, "cut")
		}
	}
	wantGapFree(t, events)
	wantSucceeded(t, events, text)
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if len(seen.resumes) < 2 || seen.resumes[0].after < 5 || seen.resumes[len(seen.resumes)-1].after < 20 {
		t.Errorf("resumes %v, want one after each cut", seen.resumes)
	}
	for _, r := range seen.resumes {
		if !Resumable(r.cause) || r.runID != events[0].GetRunId() {
			t.Errorf("resume %v", r)
		}
	}
}

func TestLiveWaitRunRetriesAfterItsConnectionIsCut(t *testing.T) {
	direct := liveClient(t, liveEnv(t, "RUNWIRE_TEST_ADDRESS"))
	proxy := liveEnv(t, "RUNWIRE_TEST_PROXY_ADDRESS")
	controlURL := liveEnv(t, "RUNWIRE_TEST_PROXY_CONTROL")
	client := liveClient(t, proxy)
	seen := &recorder{}
	seen.watch(client)
	text := strings.Repeat("waiting is patient ", 6)
	agentID := slowAgent(t, direct, "go-wait", text, 25)

	// Cut the connection while WaitRun waits: once the run exists and is still going.
	cut := make(chan string, 1)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			resp, err := direct.ListRuns(context.Background(), &runwirev1.ListRunsRequest{AgentId: agentID})
			if err == nil && len(resp.GetRuns()) == 1 && resp.GetRuns()[0].GetState() == runwirev1.RunState_RUN_STATE_RUNNING {
				answer, err := post(controlURL, "cut")
				if err != nil {
					answer = err.Error()
				}
				cut <- answer
				return
			}
		}
		cut <- "the run never ran"
	}()
	run, err := client.WaitRun(t.Context(), &runwirev1.WaitRunRequest{AgentId: agentID, Prompt: "p", Timeout: WaitTimeout(30 * time.Second)})
	if err != nil {
		t.Fatalf("WaitRun: %v (%s)", err, <-cut)
	}
	if answer := <-cut; !strings.HasPrefix(answer, "cut ") {
		t.Fatal(answer)
	}
	if run.GetState() != runwirev1.RunState_RUN_STATE_SUCCEEDED || run.GetOutput() != text {
		t.Errorf("WaitRun returned %v", run)
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if !seen.retried("WaitRun", "") || !Resumable(seen.retries[0].cause) {
		t.Errorf("retries %v, want one after the cut", seen.retries)
	}
	if runs := runsOf(t, direct, agentID); len(runs) != 1 || runs[0].GetRunId() != run.GetRunId() {
		t.Errorf("runs of the agent %v, want the one run WaitRun returned", runs)
	}
}

// changeLog collects a watch's changes from its goroutine.
type changeLog struct {
	mu      sync.Mutex
	changes []*runwirev1.WatchRunsResponse
	err     error
	synced  chan struct{}
}

// watchRunsInBackground ranges over client.WatchRuns(req) until ctx ends,
// collecting every change; synced is closed at SYNCED.
func watchRunsInBackground(ctx context.Context, client *Client, req *runwirev1.WatchRunsRequest) *changeLog {
	log := &changeLog{synced: make(chan struct{})}
	go func() {
		for change, err := range client.WatchRuns(ctx, req) {
			log.mu.Lock()
			if err != nil {
				log.err = err
			} else {
				log.changes = append(log.changes, change)
			}
			log.mu.Unlock()
			if change.GetType() == runwirev1.ChangeType_CHANGE_TYPE_SYNCED {
				close(log.synced)
			}
		}
	}()
	return log
}

// ended reports whether the log holds ENDED for every one of runIDs.
func (l *changeLog) ended(runIDs ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	done := map[string]bool{}
	for _, c := range l.changes {
		if c.GetType() == runwirev1.ChangeType_CHANGE_TYPE_ENDED {
			done[c.GetRun().GetRunId()] = true
		}
	}
	for _, id := range runIDs {
		if !done[id] {
			return false
		}
	}
	return true
}

// wantOnceEach checks the watch's changes: no cursor twice, CREATED and ENDED
// once per run, the states of a run in order.
func (l *changeLog) wantOnceEach(t *testing.T, runIDs ...string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	cursors := map[string]bool{}
	counts := map[string]int{}
	for _, c := range l.changes {
		if cursors[c.GetCursor()] {
			t.Errorf("cursor %s twice: %v", c.GetCursor(), l.changes)
		}
		cursors[c.GetCursor()] = true
		counts[c.GetType().String()+" "+c.GetRun().GetRunId()]++
	}
	for _, id := range runIDs {
		for _, kind := range []string{"CHANGE_TYPE_CREATED", "CHANGE_TYPE_ENDED"} {
			if counts[kind+" "+id] != 1 {
				t.Errorf("%s of %s %d times, want once: %v", kind, id, counts[kind+" "+id], l.changes)
			}
		}
	}
}

func waitFor(t *testing.T, what string, condition func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !condition(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not true within 30 s: %s", what)
		}
	}
}

func TestLiveLabelsOverridesFiltersAndAWatchAcrossACut(t *testing.T) {
	direct := liveClient(t, liveEnv(t, "RUNWIRE_TEST_ADDRESS"))
	proxy := liveEnv(t, "RUNWIRE_TEST_PROXY_ADDRESS")
	controlURL := liveEnv(t, "RUNWIRE_TEST_PROXY_CONTROL")
	client := liveClient(t, proxy)
	seen := &recorder{}
	seen.watch(client)
	text := strings.Repeat("filters keep the whole text ", 6)
	agentID := slowAgent(t, direct, "go-17", text, 20)
	team := "t-" + NewRequestID()[:8]

	// Agent labels: ListAgentsPage finds the agent by them.
	agent, err := direct.GetAgent(t.Context(), agentID)
	if err != nil {
		t.Fatal(err)
	}
	agent.Labels = map[string]string{"team": team}
	if _, err := direct.UpdateAgent(t.Context(), agent, "labels"); err != nil {
		t.Fatal(err)
	}
	page, err := direct.ListAgentsPage(t.Context(), &runwirev1.ListAgentsRequest{Labels: map[string]string{"team": team}})
	if err != nil || len(page.GetAgents()) != 1 || page.GetAgents()[0].GetAgentId() != agentID {
		t.Fatalf("ListAgentsPage by labels: %v, %v", page, err)
	}

	// A watch of the runs labelled with this team, through the proxy.
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	labels := map[string]string{"team": team}
	watching := watchRunsInBackground(ctx, client, &runwirev1.WatchRunsRequest{Labels: labels})
	select {
	case <-watching.synced:
	case <-time.After(30 * time.Second):
		t.Fatal("no SYNCED")
	}

	// A labelled run with overrides, streamed without deltas; one cut breaks the stream and the watch.
	filter := &runwirev1.EventFilter{Profile: runwirev1.EventProfile_EVENT_PROFILE_NO_DELTAS}
	req := &runwirev1.StreamRunRequest{
		AgentId: agentID, Prompt: "p", Labels: labels, Filter: filter,
		Overrides: &runwirev1.RunOverrides{Instructions: "Be brief."},
	}
	var events []*runwirev1.RunEvent
	for ev, err := range client.StreamRun(t.Context(), req) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(events), err)
		}
		events = append(events, ev)
		if len(events) == 1 {
			control(t, controlURL, "cut")
		}
	}
	runID := events[0].GetRunId()
	wantSucceeded(t, events, text)
	var whole string
	for i, ev := range events {
		if EventType(ev) == "text_message_content" {
			t.Errorf("a delta came through the NO_DELTAS filter: %v", ev)
		}
		if i > 0 && ev.GetSequence() <= events[i-1].GetSequence() {
			t.Errorf("sequences not increasing: %d after %d", ev.GetSequence(), events[i-1].GetSequence())
		}
		if end := ev.GetTextMessageEnd(); end != nil {
			whole = end.GetText()
		}
	}
	if whole != text {
		t.Errorf("text_message_end carries %q, want the whole text", whole)
	}
	logged, err := direct.ListRunEvents(t.Context(), &runwirev1.ListRunEventsRequest{RunId: runID, Filter: filter, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(logged.GetEvents()) != len(events) || logged.GetEvents()[len(events)-1].GetSequence() != events[len(events)-1].GetSequence() {
		t.Errorf("the stream (%d events) and the filtered page (%d) differ", len(events), len(logged.GetEvents()))
	}

	// The run carries its labels and overrides; ListRuns finds it by its labels.
	run, err := direct.GetRun(t.Context(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.GetLabels()["team"] != team || run.GetOverrides().GetInstructions() != "Be brief." {
		t.Errorf("run labels %v, overrides %v", run.GetLabels(), run.GetOverrides())
	}
	listed, err := direct.ListRuns(t.Context(), &runwirev1.ListRunsRequest{Labels: labels})
	if err != nil || len(listed.GetRuns()) != 1 || listed.GetRuns()[0].GetRunId() != runID {
		t.Errorf("ListRuns by labels: %v, %v", listed, err)
	}

	// The watch saw the run created and ended, once each, across the cut.
	waitFor(t, "the watch sees the run end", func() bool { return watching.ended(runID) })
	stop()
	watching.wantOnceEach(t, runID)
	seen.mu.Lock()
	defer seen.mu.Unlock()
	reopened := false
	for _, r := range seen.resumes {
		reopened = reopened || r.runID == runID
	}
	if !reopened || !seen.retried("WatchRuns", "") {
		t.Errorf("the cut did not make the stream resume (%v) and the watch reopen (%v)", seen.resumes, seen.retries)
	}
}

func TestLiveApprovalInbox(t *testing.T) {
	client := liveClient(t, liveEnv(t, "RUNWIRE_TEST_ADDRESS"))
	model, err := NewModel("scripted", "", map[string]any{"script": []any{
		map[string]any{"tool_calls": []any{map[string]any{"name": "calculator", "arguments": map[string]any{"expression": "6*7"}}}},
		map[string]any{"text": "42"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	agentID := "go-inbox-" + NewRequestID()[:8]
	if _, err := client.CreateAgent(t.Context(), agentID, &runwirev1.Agent{
		Model: model, Tools: []string{"calculator"},
		ApprovalPolicy: &runwirev1.ApprovalPolicy{Mode: runwirev1.ApprovalMode_APPROVAL_MODE_REQUIRE_ALL},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	inbox := &runwirev1.WatchApprovalsRequest{AgentId: agentID, States: []runwirev1.ApprovalState{runwirev1.ApprovalState_APPROVAL_STATE_PENDING}}
	var got []string
	var run *runwirev1.Run
	for change, err := range client.WatchApprovals(ctx, inbox) {
		if err != nil {
			if ctx.Err() != nil {
				break // stopped below
			}
			t.Fatal(err)
		}
		got = append(got, change.GetType().String())
		switch change.GetType() {
		case runwirev1.ChangeType_CHANGE_TYPE_SYNCED:
			if run, err = client.CreateRun(t.Context(), &runwirev1.CreateRunRequest{AgentId: agentID, Prompt: "p"}); err != nil {
				t.Fatal(err)
			}
		case runwirev1.ChangeType_CHANGE_TYPE_CREATED:
			if change.GetApproval().GetRunId() != run.GetRunId() || change.GetApproval().GetToolName() != "calculator" {
				t.Errorf("approval %v", change.GetApproval())
			}
			if _, err := client.Approve(t.Context(), change.GetApproval().GetApprovalId()); err != nil {
				t.Fatal(err)
			}
		case runwirev1.ChangeType_CHANGE_TYPE_ENDED:
			if change.GetApproval().GetState() != runwirev1.ApprovalState_APPROVAL_STATE_APPROVED {
				t.Errorf("ended approval %v", change.GetApproval())
			}
			stop()
		}
	}
	want := []string{"CHANGE_TYPE_SYNCED", "CHANGE_TYPE_CREATED", "CHANGE_TYPE_ENDED"}
	if !slices.Equal(got, want) {
		t.Errorf("inbox changes %v, want %v", got, want)
	}
}

// scriptedAgent creates an agent with a scripted model; extra fills the rest.
func scriptedAgent(t *testing.T, client *Client, prefix string, script []any, extra *runwirev1.Agent) string {
	t.Helper()
	model, err := NewModel("scripted", "", map[string]any{"script": script})
	if err != nil {
		t.Fatal(err)
	}
	agent := proto.CloneOf(extra)
	agent.Model = model
	agentID := prefix + "-" + NewRequestID()[:8]
	if _, err := client.CreateAgent(t.Context(), agentID, agent); err != nil {
		t.Fatal(err)
	}
	return agentID
}

// A parent agent delegates to a child whose calculator call needs an approval
// (both under the default policy, REQUIRE_ALL): the parent's tools list the
// child, the server's tools list the built-ins, and the parent's stream shows
// its own approval of the delegation, the child run and the child's approval
// (announced with the child's run id), each approved by its id.
func TestLiveSubAgentsToolDiscoveryAndAChildApproval(t *testing.T) {
	client := liveClient(t, liveEnv(t, "RUNWIRE_TEST_ADDRESS"))
	child := scriptedAgent(t, client, "go-child", []any{
		map[string]any{"tool_calls": []any{map[string]any{"name": "calculator", "arguments": map[string]any{"expression": "6*7"}}}},
		map[string]any{"text": "42"},
	}, &runwirev1.Agent{Tools: []string{"calculator"}})
	parent := scriptedAgent(t, client, "go-parent", []any{
		map[string]any{"tool_calls": []any{map[string]any{"name": "ask_child", "arguments": map[string]any{"prompt": "What is 6*7?"}}}},
		map[string]any{"text": "The child says 42."},
	}, &runwirev1.Agent{SubAgents: []*runwirev1.SubAgent{{AgentId: child, ToolName: "ask_child", Description: "Asks the child."}}})

	tools, err := client.ListAgentTools(t.Context(), parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 1 || tools[0].GetName() != "ask_child" || tools[0].GetSource() != runwirev1.ToolSource_TOOL_SOURCE_SUB_AGENT ||
		tools[0].GetSubAgentId() != child || !tools[0].GetRequiresApproval() ||
		tools[0].GetParameters().GetFields()["properties"].GetStructValue().GetFields()["prompt"] == nil {
		t.Fatalf("ListAgentTools(%s) = %v, want one sub-agent tool", parent, tools)
	}
	if _, err := client.ListAgentTools(t.Context(), "go-missing-"+NewRequestID()[:8]); !IsReason(err, ReasonAgentNotFound) {
		t.Errorf("ListAgentTools of an unknown agent: %v, want AGENT_NOT_FOUND", err)
	}
	server, err := client.ListTools(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(server.GetTools(), func(tool *runwirev1.Tool) bool {
		return tool.GetName() == "calculator" && tool.GetSource() == runwirev1.ToolSource_TOOL_SOURCE_BUILTIN
	}) {
		t.Errorf("ListTools = %v, want the built-in calculator", server.GetTools())
	}

	var events []*runwirev1.RunEvent
	var childRun string
	var approvedFor []string // the run id of each approval approved: "" for the parent's own
	for ev, err := range client.StreamRun(t.Context(), &runwirev1.StreamRunRequest{AgentId: parent, Prompt: "delegate"}) {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
		switch p := ev.Payload.(type) {
		case *runwirev1.RunEvent_SubRunStarted:
			childRun = p.SubRunStarted.GetChildRunId()
		case *runwirev1.RunEvent_ApprovalRequested:
			approvedFor = append(approvedFor, p.ApprovalRequested.GetRunId())
			if _, err := client.Approve(t.Context(), p.ApprovalRequested.GetApprovalId()); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantGapFree(t, events)
	wantSucceeded(t, events, "The child says 42.")
	if childRun == "" || !slices.Equal(approvedFor, []string{"", childRun}) {
		t.Errorf("approved approvals of runs %q, want the parent's own then the child's %q", approvedFor, childRun)
	}
	var kinds []string
	for _, ev := range events {
		if k := EventType(ev); strings.HasPrefix(k, "sub_run_") || strings.HasPrefix(k, "approval_") {
			kinds = append(kinds, k)
		}
	}
	want := []string{"approval_requested", "approval_resolved", "sub_run_started", "approval_requested", "approval_resolved", "sub_run_finished"}
	if !slices.Equal(kinds, want) {
		t.Errorf("approval and sub-agent events %v, want %v", kinds, want)
	}
	for _, ev := range events {
		if p := ev.GetSubRunFinished(); p != nil && (p.GetState() != runwirev1.RunState_RUN_STATE_SUCCEEDED || p.GetOutput() != "42" || p.GetAgentId() != child) {
			t.Errorf("sub_run_finished %v", p)
		}
	}
	run, err := client.GetRun(t.Context(), childRun)
	if err != nil {
		t.Fatal(err)
	}
	if run.GetParentRunId() != events[0].GetRunId() || run.GetDepth() != 1 || run.GetState() != runwirev1.RunState_RUN_STATE_SUCCEEDED {
		t.Errorf("child run %v", run)
	}
}
