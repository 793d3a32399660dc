package dev.runwire.client;

import dev.runwire.v1.Agent;
import dev.runwire.v1.AgentServiceGrpc;
import dev.runwire.v1.AgentTool;
import dev.runwire.v1.Approval;
import dev.runwire.v1.ApprovalDecision;
import dev.runwire.v1.ApprovalServiceGrpc;
import dev.runwire.v1.CancelRunRequest;
import dev.runwire.v1.ChangeType;
import dev.runwire.v1.CreateThreadRequest;
import dev.runwire.v1.DeleteThreadRequest;
import dev.runwire.v1.GetApprovalRequest;
import dev.runwire.v1.GetThreadRequest;
import dev.runwire.v1.ListAgentToolsRequest;
import dev.runwire.v1.ListAgentsRequest;
import dev.runwire.v1.ListAgentsResponse;
import dev.runwire.v1.ListApprovalsRequest;
import dev.runwire.v1.ListApprovalsResponse;
import dev.runwire.v1.ListRunEventsRequest;
import dev.runwire.v1.ListRunEventsResponse;
import dev.runwire.v1.ListRunsRequest;
import dev.runwire.v1.ListRunsResponse;
import dev.runwire.v1.ListThreadMessagesRequest;
import dev.runwire.v1.ListThreadMessagesResponse;
import dev.runwire.v1.Thread;
import dev.runwire.v1.UpdateAgentRequest;
import dev.runwire.v1.CreateAgentRequest;
import dev.runwire.v1.CreateRunRequest;
import dev.runwire.v1.DeleteAgentRequest;
import dev.runwire.v1.EventFilter;
import dev.runwire.v1.PauseRunRequest;
import dev.runwire.v1.ResumeRunRequest;
import dev.runwire.v1.WatchApprovalsRequest;
import dev.runwire.v1.WatchApprovalsResponse;
import dev.runwire.v1.WatchRunsRequest;
import dev.runwire.v1.WatchRunsResponse;
import dev.runwire.v1.GetAgentRequest;
import dev.runwire.v1.GetRunRequest;
import dev.runwire.v1.ResolveApprovalRequest;
import dev.runwire.v1.Run;
import dev.runwire.v1.RunEvent;
import dev.runwire.v1.RunServiceGrpc;
import dev.runwire.v1.StreamRunEventsRequest;
import dev.runwire.v1.StreamRunEventsResponse;
import dev.runwire.v1.StreamRunRequest;
import dev.runwire.v1.StreamRunResponse;
import dev.runwire.v1.SubmitToolOutputsRequest;
import dev.runwire.v1.ThreadServiceGrpc;
import dev.runwire.v1.ListToolsRequest;
import dev.runwire.v1.ListToolsResponse;
import dev.runwire.v1.ToolOutput;
import dev.runwire.v1.ToolServiceGrpc;
import dev.runwire.v1.WaitRunRequest;
import io.grpc.Channel;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import com.google.protobuf.FieldMask;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A thin client for Runwire's gRPC API ({@code runwire.v1}).
 *
 * <p>It hides nothing: the generated blocking, async ({@code StreamObserver}) and future stubs of
 * the five services are available ({@link #agents()}, {@link #runsAsync()}, {@link
 * #approvalsFuture()}, {@link #tools()}, ...) next to the shortcuts for the common steps: {@link
 * #createAgent}, {@link #listAgentTools}, {@link #listTools},
 * {@link #streamRun} (a {@link java.util.Iterator} of events: {@link RunEventStream}), {@link #resume}, {@link
 * #resolveApproval}, {@link #submitToolOutputs}, and their async forms returning {@link
 * CompletableFuture}s. Every shortcut throws (or completes exceptionally with) {@link
 * RunwireException}, which exposes the gRPC code and the {@code ErrorInfo} reason.
 *
 * <pre>{@code
 * try (RunwireClient client = RunwireClient.connect("127.0.0.1:50051");
 *      RunEventStream events = client.streamRun(StreamRunRequest.newBuilder()
 *          .setAgentId("helper").setPrompt("What is 6*7?").build())) {
 *   for (RunEvent event : events) {
 *     if (event.hasApprovalRequested()) {
 *       client.resolveApproval(event.getApprovalRequested().getApprovalId(),
 *           ApprovalDecision.APPROVAL_DECISION_APPROVE);
 *     }
 *   }
 * }
 * }</pre>
 *
 * <p>A parent run's stream carries {@code sub_run_started} and {@code sub_run_finished} for each
 * delegation to a sub-agent and announces the sub-agents' approvals ({@code
 * ApprovalRequested.run_id} is the child's run): resolve them by approval id like any other.
 *
 * <p>Thread-safe: one client (one channel) serves any number of concurrent calls.
 */
public final class RunwireClient implements AutoCloseable {
  /** Largest message received: the server's default {@code RUNWIRE_MAX_MESSAGE_BYTES}. */
  public static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

  private final Channel channel;
  private final ManagedChannel owned;
  private final AgentServiceGrpc.AgentServiceBlockingStub agents;
  private final AgentServiceGrpc.AgentServiceStub agentsAsync;
  private final AgentServiceGrpc.AgentServiceFutureStub agentsFuture;
  private final RunServiceGrpc.RunServiceBlockingStub runs;
  private final RunServiceGrpc.RunServiceStub runsAsync;
  private final RunServiceGrpc.RunServiceFutureStub runsFuture;
  private final ApprovalServiceGrpc.ApprovalServiceBlockingStub approvals;
  private final ApprovalServiceGrpc.ApprovalServiceStub approvalsAsync;
  private final ApprovalServiceGrpc.ApprovalServiceFutureStub approvalsFuture;
  private final ThreadServiceGrpc.ThreadServiceBlockingStub threads;
  private final ThreadServiceGrpc.ThreadServiceStub threadsAsync;
  private final ThreadServiceGrpc.ThreadServiceFutureStub threadsFuture;
  private final ToolServiceGrpc.ToolServiceBlockingStub tools;
  private final ToolServiceGrpc.ToolServiceStub toolsAsync;
  private final ToolServiceGrpc.ToolServiceFutureStub toolsFuture;
  private volatile ReconnectPolicy reconnect = ReconnectPolicy.DEFAULT;

  /**
   * A client on a channel you built (TLS, credentials, interceptors, deadlines...). The channel
   * stays yours: {@link #close()} does not shut it down.
   */
  public RunwireClient(Channel channel) {
    this(channel, null);
  }

  private RunwireClient(Channel channel, ManagedChannel owned) {
    this.channel = channel;
    this.owned = owned;
    agents = AgentServiceGrpc.newBlockingStub(channel);
    agentsAsync = AgentServiceGrpc.newStub(channel);
    agentsFuture = AgentServiceGrpc.newFutureStub(channel);
    runs = RunServiceGrpc.newBlockingStub(channel);
    runsAsync = RunServiceGrpc.newStub(channel);
    runsFuture = RunServiceGrpc.newFutureStub(channel);
    approvals = ApprovalServiceGrpc.newBlockingStub(channel);
    approvalsAsync = ApprovalServiceGrpc.newStub(channel);
    approvalsFuture = ApprovalServiceGrpc.newFutureStub(channel);
    threads = ThreadServiceGrpc.newBlockingStub(channel);
    threadsAsync = ThreadServiceGrpc.newStub(channel);
    threadsFuture = ThreadServiceGrpc.newFutureStub(channel);
    tools = ToolServiceGrpc.newBlockingStub(channel);
    toolsAsync = ToolServiceGrpc.newStub(channel);
    toolsFuture = ToolServiceGrpc.newFutureStub(channel);
  }

  /**
   * Connects to {@code target} ({@code host:port}, {@code unix:/path.sock}, or any gRPC target
   * URI) with the TLS settings and bearer token of the environment ({@link
   * ConnectOptions#fromEnv()}: {@code RUNWIRE_TOKEN}, {@code RUNWIRE_CA_FILE}, {@code
   * RUNWIRE_CLIENT_CERT_FILE}, {@code RUNWIRE_CLIENT_KEY_FILE}, {@code RUNWIRE_TLS_SERVER_NAME});
   * plaintext without them. {@link #close()} shuts the channel down.
   *
   * @throws IllegalArgumentException a client certificate without its key, or the reverse
   * @throws java.io.UncheckedIOException a TLS file cannot be read
   */
  public static RunwireClient connect(String target) {
    return connect(target, ConnectOptions.fromEnv());
  }

  /**
   * Connects to {@code target} with {@code options}: TLS (CA file, client certificate, server
   * name) and a bearer token sent on every call. {@link #close()} shuts the channel down.
   *
   * @throws java.io.UncheckedIOException a TLS file cannot be read
   */
  public static RunwireClient connect(String target, ConnectOptions options) {
    ManagedChannelBuilder<?> builder =
        Grpc.newChannelBuilder(target, options.channelCredentials())
            .maxInboundMessageSize(MAX_MESSAGE_BYTES);
    if (!options.serverName().isEmpty()) {
      builder.overrideAuthority(options.serverName());
    }
    ManagedChannel channel = builder.build();
    return new RunwireClient(channel, channel);
  }

  // ---- The generated stubs -------------------------------------------------------------------

  /** The channel every stub uses. */
  public Channel channel() {
    return channel;
  }

  /** AgentService, blocking. */
  public AgentServiceGrpc.AgentServiceBlockingStub agents() {
    return agents;
  }

  /** AgentService, async (StreamObserver). */
  public AgentServiceGrpc.AgentServiceStub agentsAsync() {
    return agentsAsync;
  }

  /** AgentService, ListenableFuture. */
  public AgentServiceGrpc.AgentServiceFutureStub agentsFuture() {
    return agentsFuture;
  }

  /** RunService, blocking. */
  public RunServiceGrpc.RunServiceBlockingStub runs() {
    return runs;
  }

  /** RunService, async (StreamObserver). */
  public RunServiceGrpc.RunServiceStub runsAsync() {
    return runsAsync;
  }

  /** RunService, ListenableFuture. */
  public RunServiceGrpc.RunServiceFutureStub runsFuture() {
    return runsFuture;
  }

  /** ApprovalService, blocking. */
  public ApprovalServiceGrpc.ApprovalServiceBlockingStub approvals() {
    return approvals;
  }

  /** ApprovalService, async (StreamObserver). */
  public ApprovalServiceGrpc.ApprovalServiceStub approvalsAsync() {
    return approvalsAsync;
  }

  /** ApprovalService, ListenableFuture. */
  public ApprovalServiceGrpc.ApprovalServiceFutureStub approvalsFuture() {
    return approvalsFuture;
  }

  /** ThreadService, blocking. */
  public ThreadServiceGrpc.ThreadServiceBlockingStub threads() {
    return threads;
  }

  /** ThreadService, async (StreamObserver). */
  public ThreadServiceGrpc.ThreadServiceStub threadsAsync() {
    return threadsAsync;
  }

  /** ThreadService, ListenableFuture. */
  public ThreadServiceGrpc.ThreadServiceFutureStub threadsFuture() {
    return threadsFuture;
  }

  /** ToolService, blocking. */
  public ToolServiceGrpc.ToolServiceBlockingStub tools() {
    return tools;
  }

  /** ToolService, async (StreamObserver). */
  public ToolServiceGrpc.ToolServiceStub toolsAsync() {
    return toolsAsync;
  }

  /** ToolService, ListenableFuture. */
  public ToolServiceGrpc.ToolServiceFutureStub toolsFuture() {
    return toolsFuture;
  }

  // ---- Agents --------------------------------------------------------------------------------

  /** Creates an agent under {@code agentId}; {@code agent.model} is required. */
  public Agent createAgent(String agentId, Agent agent) {
    return call(() -> agents.createAgent(createAgentRequest(agentId, agent)).getAgent());
  }

  /** Async {@link #createAgent}. */
  public CompletableFuture<Agent> createAgentAsync(String agentId, Agent agent) {
    return unary(agentsAsync::createAgent, createAgentRequest(agentId, agent), r -> r.getAgent());
  }

  /** Returns one agent ({@code NOT_FOUND} / {@code AGENT_NOT_FOUND} if unknown). */
  public Agent getAgent(String agentId) {
    return call(
        () -> agents.getAgent(GetAgentRequest.newBuilder().setAgentId(agentId).build()).getAgent());
  }

  /**
   * One page of agents; pass {@code nextPageToken} as {@code pageToken} for the next page (empty
   * on the last). {@code pageSize} 0: the server's default (100).
   */
  public ListAgentsResponse listAgents(int pageSize, String pageToken) {
    return listAgents(
        ListAgentsRequest.newBuilder().setPageSize(pageSize).setPageToken(pageToken).build());
  }

  /**
   * One page of agents for the whole request: only those that carry every one of {@code
   * request.labels} (same key and value), {@code page_size} of them after {@code page_token}.
   */
  public ListAgentsResponse listAgents(ListAgentsRequest request) {
    return call(() -> agents.listAgents(request));
  }

  /**
   * Updates the agent {@code agent.agentId}: only the fields named in {@code paths} (every
   * updatable field when none). With {@code agent.etag} set: {@code ABORTED} ({@code
   * ETAG_MISMATCH}) if the agent changed since. Returns the agent as stored.
   */
  public Agent updateAgent(Agent agent, String... paths) {
    return call(() -> agents.updateAgent(updateAgentRequest(agent, paths)).getAgent());
  }

  /** Async {@link #updateAgent}. */
  public CompletableFuture<Agent> updateAgentAsync(Agent agent, String... paths) {
    return unary(agentsAsync::updateAgent, updateAgentRequest(agent, paths), r -> r.getAgent());
  }

  /** Deletes an agent; runs already started are not affected. */
  public void deleteAgent(String agentId) {
    call(() -> agents.deleteAgent(DeleteAgentRequest.newBuilder().setAgentId(agentId).build()));
  }

  /**
   * The tools a run of the agent offers its model, in that order ({@code ListAgentTools}): server
   * tools (built-in, Python), the tools of its MCP toolsets ({@code <server>_<tool>}) and its
   * sub-agents ({@code TOOL_SOURCE_SUB_AGENT}, {@code sub_agent_id} set), each with its JSON Schema
   * ({@code parameters}) and whether a call needs an approval ({@code requires_approval}). {@code
   * NOT_FOUND} ({@code AGENT_NOT_FOUND}) if the agent is unknown.
   */
  public List<AgentTool> listAgentTools(String agentId) {
    return call(
        () ->
            agents
                .listAgentTools(ListAgentToolsRequest.newBuilder().setAgentId(agentId).build())
                .getToolsList());
  }

  /** Async {@link #listAgentTools}. */
  public CompletableFuture<List<AgentTool>> listAgentToolsAsync(String agentId) {
    return unary(
        agentsAsync::listAgentTools,
        ListAgentToolsRequest.newBuilder().setAgentId(agentId).build(),
        r -> r.getToolsList());
  }

  // ---- Tools ---------------------------------------------------------------------------------

  /**
   * The server's tools (built-in, registered Python, and those of each MCP server it reached) and
   * its configured MCP servers with their state, each ordered by name ({@code
   * ToolService.ListTools}).
   */
  public ListToolsResponse listTools() {
    return call(() -> tools.listTools(ListToolsRequest.getDefaultInstance()));
  }

  /** Async {@link #listTools()}. */
  public CompletableFuture<ListToolsResponse> listToolsAsync() {
    return unary(toolsAsync::listTools, ListToolsRequest.getDefaultInstance(), r -> r);
  }

  // ---- Runs ----------------------------------------------------------------------------------

  /**
   * Starts a run and returns it at once (the run goes on in the background). {@code
   * request.labels} tag the run ({@link #listRuns} and {@link #watchRuns} filter on them; {@code
   * Run.labels}); {@code request.overrides} change the agent for this run only (more instructions,
   * sampling, tighter limits; {@code Run.overrides}). Without a {@code
   * request_id} a random one ({@link #newRequestId()}) is sent; to retry this call yourself without
   * risking a second run, set your own and send the same request again. A call that fails with
   * {@code UNAVAILABLE} ({@code DRAINING}, or a lost connection, even after the server got it) is
   * retried by itself with that {@code request_id}, per the {@link #reconnectPolicy()} (its retry
   * listener is told).
   */
  public Run createRun(CreateRunRequest request) {
    CreateRunRequest withId = withRequestId(request);
    return retrying("CreateRun", reconnect, () -> runs.createRun(withId).getRun());
  }

  /** Async {@link #createRun}, retried alike. */
  public CompletableFuture<Run> createRunAsync(CreateRunRequest request) {
    CreateRunRequest withId = withRequestId(request);
    return retryingAsync(
        "CreateRun", reconnect, () -> unary(runsAsync::createRun, withId, r -> r.getRun()));
  }

  /**
   * Starts a run and blocks until it ends, requires action, is paused, or the request's timeout
   * passes
   * (default 60 s); returns the run as it is then. A {@code request_id} is set, and a call that
   * fails with {@code UNAVAILABLE} ({@code DRAINING}, or a lost connection) retried, as in {@link
   * #createRun}: the retry waits for the same run, the timeout again.
   */
  public Run waitRun(WaitRunRequest request) {
    WaitRunRequest withId = withRequestId(request);
    return retrying("WaitRun", reconnect, () -> runs.waitRun(withId).getRun());
  }

  /** Async {@link #waitRun}, retried alike. */
  public CompletableFuture<Run> waitRunAsync(WaitRunRequest request) {
    WaitRunRequest withId = withRequestId(request);
    return retryingAsync(
        "WaitRun", reconnect, () -> unary(runsAsync::waitRun, withId, r -> r.getRun()));
  }

  /** Async {@link #getRun}. */
  public CompletableFuture<Run> getRunAsync(String runId) {
    return unary(
        runsAsync::getRun, GetRunRequest.newBuilder().setRunId(runId).build(), r -> r.getRun());
  }

  /**
   * One page of runs, newest first, filtered by the request's agent, thread, state and labels (a
   * run matches when it carries every one of {@code request.labels}).
   */
  public ListRunsResponse listRuns(ListRunsRequest request) {
    return call(() -> runs.listRuns(request));
  }

  /**
   * One page of a run's logged events (no waiting for new ones; {@link #resume} waits); with
   * {@code request.filter} only the matching ones, with their log sequences.
   */
  public ListRunEventsResponse listRunEvents(ListRunEventsRequest request) {
    return call(() -> runs.listRunEvents(request));
  }

  /** A random UUID: the {@code request_id} the run methods set when a request has none. */
  public static String newRequestId() {
    return UUID.randomUUID().toString();
  }

  /**
   * The reconnect policy of the event streams started from now on ({@link
   * ReconnectPolicy#DEFAULT} unless set).
   */
  public ReconnectPolicy reconnectPolicy() {
    return reconnect;
  }

  /** Sets the reconnect policy of the event streams started from now on; returns this client. */
  public RunwireClient reconnectPolicy(ReconnectPolicy policy) {
    this.reconnect = java.util.Objects.requireNonNull(policy);
    return this;
  }

  /** Returns one run. */
  public Run getRun(String runId) {
    return call(() -> runs.getRun(GetRunRequest.newBuilder().setRunId(runId).build()).getRun());
  }

  /** Cancels a run; returns it CANCELLING, or unchanged if it has ended. */
  public Run cancelRun(String runId, String reason) {
    return call(
        () ->
            runs.cancelRun(CancelRunRequest.newBuilder().setRunId(runId).setReason(reason).build())
                .getRun());
  }

  /**
   * Starts a run and streams its events from sequence 1 to the terminal event, resuming by itself
   * after {@code DRAINING} or a lost connection ({@link #reconnectPolicy()}). A {@code request_id}
   * is set as in {@link #createRun} (a resume before the first event retries StreamRun with it).
   * With {@code request.filter} (an {@link EventFilter}: a profile or event types) only the
   * matching events come, with the sequences of the run's log (a filtered stream skips numbers);
   * the terminal event always comes, and each resume passes the same filter. Closing the stream
   * early leaves the run going on; continue with {@link #resume}.
   */
  public RunEventStream streamRun(StreamRunRequest request) {
    StreamRunRequest withId = withRequestId(request);
    EventFilter filter = withId.hasFilter() ? withId.getFilter() : null;
    ReconnectPolicy policy = reconnect;
    return RunEventStream.open(
        (runId, after) ->
            runId.isEmpty()
                ? mapEvents(runs.streamRun(withId), StreamRunResponse::getEvent)
                : mapEvents(
                    runs.streamRunEvents(eventsRequest(runId, after, filter)),
                    StreamRunEventsResponse::getEvent),
        policy,
        "",
        0);
  }

  /**
   * Streams a run's events with a sequence greater than {@code afterSequence} (0: from the
   * start): the logged ones, then live ones, to the terminal event, resuming by itself after
   * {@code DRAINING} or a lost connection. Works on ended runs too.
   */
  public RunEventStream resume(String runId, long afterSequence) {
    return resume(eventsRequest(runId, afterSequence, null));
  }

  /**
   * {@link #resume(String, long)} with every field of the request: the run, the sequence to resume
   * after and a filter ({@code request.filter}: only the matching events, with their log
   * sequences, and the terminal event always). Its own resumes pass the same filter.
   */
  public RunEventStream resume(StreamRunEventsRequest request) {
    EventFilter filter = request.hasFilter() ? request.getFilter() : null;
    return RunEventStream.open(
        (id, after) ->
            mapEvents(
                runs.streamRunEvents(eventsRequest(id, after, filter)),
                StreamRunEventsResponse::getEvent),
        reconnect,
        request.getRunId(),
        request.getAfterSequence());
  }

  /**
   * Async {@link #streamRun}: events go to {@code observer} on a gRPC thread, one at a time, in
   * sequence order (heartbeats skipped; resumed by itself like {@link #streamRun}, with the same
   * filter; errors as {@link RunwireException}). Cancel with the returned handle.
   */
  public Subscription streamRunAsync(StreamRunRequest request, StreamObserver<RunEvent> observer) {
    StreamRunRequest withId = withRequestId(request);
    AsyncFollower follower =
        new AsyncFollower(
            withId, "", 0, withId.hasFilter() ? withId.getFilter() : null, reconnect, observer);
    follower.open();
    return follower;
  }

  /** Async {@link #resume(String, long)}. */
  public Subscription resumeAsync(
      String runId, long afterSequence, StreamObserver<RunEvent> observer) {
    return resumeAsync(eventsRequest(runId, afterSequence, null), observer);
  }

  /** Async {@link #resume(StreamRunEventsRequest)}. */
  public Subscription resumeAsync(
      StreamRunEventsRequest request, StreamObserver<RunEvent> observer) {
    AsyncFollower follower =
        new AsyncFollower(
            null,
            request.getRunId(),
            request.getAfterSequence(),
            request.hasFilter() ? request.getFilter() : null,
            reconnect,
            observer);
    follower.open();
    return follower;
  }

  /**
   * Asks a run to pause at its next safe point (before its next model call, or before the tool
   * calls of the reply in flight); it then logs {@code state_changed} PAUSED and waits for {@link
   * #resumeRun}. Returns the run when the request is recorded (usually still RUNNING); a paused or
   * ended run comes back unchanged. {@code reason} is kept in the server log (may be empty).
   */
  public Run pauseRun(String runId, String reason) {
    return call(
        () ->
            runs.pauseRun(PauseRunRequest.newBuilder().setRunId(runId).setReason(reason).build())
                .getRun());
  }

  /**
   * Continues a PAUSED run (or withdraws a pause it has not reached yet) and returns it; not to be
   * confused with {@link #resume}, which streams events.
   */
  public Run resumeRun(String runId) {
    return call(
        () -> runs.resumeRun(ResumeRunRequest.newBuilder().setRunId(runId).build()).getRun());
  }

  /**
   * Watches the caller's runs that match {@code request} (agent, thread, states, labels; they
   * combine with AND) as a blocking iterator of changes: every matching run ({@code
   * CHANGE_TYPE_EXISTING}), one {@code SYNCED}, then each change as it happens ({@code CREATED},
   * {@code UPDATED}, {@code ENDED}; the response's run is the run after it); with {@code
   * request.cursor} only the changes after it. See {@link WatchStream} for the reopening after
   * {@code DRAINING} or a lost connection and for {@code CURSOR_EXPIRED}.
   */
  public WatchStream<WatchRunsResponse> watchRuns(WatchRunsRequest request) {
    return WatchStream.open(
        "WatchRuns",
        cursor -> runs.watchRuns(request.toBuilder().setCursor(cursor).build()),
        WatchRunsResponse::getType,
        WatchRunsResponse::getCursor,
        r -> r.getRun().getRunId(),
        reconnect,
        request.getCursor());
  }

  /**
   * Async {@link #watchRuns}: changes go to {@code observer} on a gRPC thread, one at a time
   * (heartbeats skipped; reopened by itself as {@link WatchStream} tells; errors as {@link
   * RunwireException}). The observer never completes: cancel with the returned handle.
   */
  public Subscription watchRunsAsync(
      WatchRunsRequest request, StreamObserver<WatchRunsResponse> observer) {
    AsyncWatcher<WatchRunsRequest, WatchRunsResponse> watcher =
        new AsyncWatcher<>(
            "WatchRuns",
            request.getCursor(),
            (cursor, o) -> runsAsync.watchRuns(request.toBuilder().setCursor(cursor).build(), o),
            WatchRunsResponse::getType,
            WatchRunsResponse::getCursor,
            r -> r.getRun().getRunId(),
            reconnect,
            observer);
    watcher.open();
    return watcher;
  }

  /** Answers client-executed tool calls of a run waiting for them; returns the run. */
  public Run submitToolOutputs(String runId, List<ToolOutput> outputs) {
    return call(() -> runs.submitToolOutputs(submitRequest(runId, outputs)).getRun());
  }

  /** Answers client-executed tool calls of a run waiting for them; returns the run. */
  public Run submitToolOutputs(String runId, ToolOutput... outputs) {
    return submitToolOutputs(runId, Arrays.asList(outputs));
  }

  /** Async {@link #submitToolOutputs}. */
  public CompletableFuture<Run> submitToolOutputsAsync(String runId, List<ToolOutput> outputs) {
    return unary(runsAsync::submitToolOutputs, submitRequest(runId, outputs), r -> r.getRun());
  }

  /** The successful output of a client tool call. */
  public static ToolOutput toolOutput(String toolCallId, String output) {
    return ToolOutput.newBuilder().setToolCallId(toolCallId).setOutput(output).build();
  }

  /** A failed client tool call; {@code message} tells the model what went wrong. */
  public static ToolOutput toolError(String toolCallId, String message) {
    return ToolOutput.newBuilder()
        .setToolCallId(toolCallId)
        .setOutput(message)
        .setIsError(true)
        .build();
  }

  // ---- Approvals -----------------------------------------------------------------------------

  /**
   * Approves or rejects a pending tool call. A sub-agent's approval announced in its parent's
   * stream ({@code ApprovalRequested.run_id} is the child's run) is resolved the same way, by its
   * approval id.
   */
  public Approval resolveApproval(String approvalId, ApprovalDecision decision) {
    return resolveApproval(
        ResolveApprovalRequest.newBuilder().setApprovalId(approvalId).setDecision(decision).build());
  }

  /** Resolves an approval with every option: reason, edited arguments. */
  public Approval resolveApproval(ResolveApprovalRequest request) {
    return call(() -> approvals.resolveApproval(request).getApproval());
  }

  /** Async {@link #resolveApproval(ResolveApprovalRequest)}. */
  public CompletableFuture<Approval> resolveApprovalAsync(ResolveApprovalRequest request) {
    return unary(approvalsAsync::resolveApproval, request, r -> r.getApproval());
  }

  /** Returns one approval ({@code NOT_FOUND} / {@code APPROVAL_NOT_FOUND} if unknown). */
  public Approval getApproval(String approvalId) {
    return call(
        () ->
            approvals
                .getApproval(GetApprovalRequest.newBuilder().setApprovalId(approvalId).build())
                .getApproval());
  }

  /** One page of approvals, filtered by the request's run and state. */
  public ListApprovalsResponse listApprovals(ListApprovalsRequest request) {
    return call(() -> approvals.listApprovals(request));
  }

  /** Async {@link #listApprovals}. */
  public CompletableFuture<ListApprovalsResponse> listApprovalsAsync(ListApprovalsRequest request) {
    return unary(approvalsAsync::listApprovals, request, r -> r);
  }

  /**
   * Watches the caller's approvals that match {@code request} (run, agent, states) like {@link
   * #watchRuns}: EXISTING, SYNCED, then CREATED and ENDED (the response's approval is the approval
   * after the change). An approver's inbox is a watch of {@code APPROVAL_STATE_PENDING}: each
   * approval arrives (CREATED) and leaves (ENDED).
   */
  public WatchStream<WatchApprovalsResponse> watchApprovals(WatchApprovalsRequest request) {
    return WatchStream.open(
        "WatchApprovals",
        cursor -> approvals.watchApprovals(request.toBuilder().setCursor(cursor).build()),
        WatchApprovalsResponse::getType,
        WatchApprovalsResponse::getCursor,
        r -> r.getApproval().getApprovalId(),
        reconnect,
        request.getCursor());
  }

  /** Async {@link #watchApprovals}, as {@link #watchRunsAsync}. */
  public Subscription watchApprovalsAsync(
      WatchApprovalsRequest request, StreamObserver<WatchApprovalsResponse> observer) {
    AsyncWatcher<WatchApprovalsRequest, WatchApprovalsResponse> watcher =
        new AsyncWatcher<>(
            "WatchApprovals",
            request.getCursor(),
            (cursor, o) ->
                approvalsAsync.watchApprovals(request.toBuilder().setCursor(cursor).build(), o),
            WatchApprovalsResponse::getType,
            WatchApprovalsResponse::getCursor,
            r -> r.getApproval().getApprovalId(),
            reconnect,
            observer);
    watcher.open();
    return watcher;
  }

  // ---- Threads -------------------------------------------------------------------------------

  /**
   * Creates a thread under {@code threadId} (empty: the server chooses one) with {@code metadata}
   * ({@code ALREADY_EXISTS} / {@code THREAD_ALREADY_EXISTS} if the id is taken).
   */
  public Thread createThread(String threadId, Map<String, String> metadata) {
    CreateThreadRequest request =
        CreateThreadRequest.newBuilder().setThreadId(threadId).putAllMetadata(metadata).build();
    return call(() -> threads.createThread(request).getThread());
  }

  /** Returns one thread ({@code NOT_FOUND} / {@code THREAD_NOT_FOUND} if unknown). */
  public Thread getThread(String threadId) {
    return call(
        () ->
            threads.getThread(GetThreadRequest.newBuilder().setThreadId(threadId).build()).getThread());
  }

  /** One page of a thread's messages, oldest first. */
  public ListThreadMessagesResponse listThreadMessages(ListThreadMessagesRequest request) {
    return call(() -> threads.listThreadMessages(request));
  }

  /** Deletes a thread ({@code FAILED_PRECONDITION} / {@code THREAD_BUSY} while a run uses it). */
  public void deleteThread(String threadId) {
    call(() -> threads.deleteThread(DeleteThreadRequest.newBuilder().setThreadId(threadId).build()));
  }

  /** Shuts down the channel if {@link #connect} made it (waits up to 5 s for calls to end). */
  @Override
  public void close() {
    if (owned == null) {
      return;
    }
    owned.shutdownNow();
    try {
      owned.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      java.lang.Thread.currentThread().interrupt();
    }
  }

  // ---- Plumbing ------------------------------------------------------------------------------

  /** A running async event stream. */
  public interface Subscription {
    /** Cancels the stream; the observer gets no more events. The run goes on. */
    void cancel();
  }

  private static CreateAgentRequest createAgentRequest(String agentId, Agent agent) {
    return CreateAgentRequest.newBuilder().setAgentId(agentId).setAgent(agent).build();
  }

  private static SubmitToolOutputsRequest submitRequest(String runId, List<ToolOutput> outputs) {
    return SubmitToolOutputsRequest.newBuilder().setRunId(runId).addAllToolOutputs(outputs).build();
  }

  /**
   * Calls {@code rpc} until it succeeds, fails with an error that is not resumable ({@link
   * ReconnectPolicy#isResumable}), or the policy's retries are used up (then that error is thrown),
   * sleeping the policy's backoff between attempts. Only for calls safe to repeat.
   */
  private static <T> T retrying(String method, ReconnectPolicy policy, Supplier<T> rpc) {
    for (int attempt = 1; ; attempt++) {
      RunwireException error;
      try {
        return rpc.get();
      } catch (StatusRuntimeException e) {
        error = RunwireException.from(e);
      }
      if (!ReconnectPolicy.isResumable(error) || attempt > policy.maxResumes()) {
        throw error;
      }
      if (policy.retryListener() != null) {
        policy.retryListener().onRetry(method, attempt, error);
      }
      try {
        java.lang.Thread.sleep(policy.backoff(attempt).toMillis());
      } catch (InterruptedException e) {
        java.lang.Thread.currentThread().interrupt();
        throw error;
      }
    }
  }

  /** {@link #retrying} for async calls: the next attempt starts after the backoff, off the caller. */
  private static <T> CompletableFuture<T> retryingAsync(
      String method, ReconnectPolicy policy, Supplier<CompletableFuture<T>> rpc) {
    CompletableFuture<T> result = new CompletableFuture<>();
    retryAsync(method, policy, rpc, 1, result);
    return result;
  }

  private static <T> void retryAsync(
      String method,
      ReconnectPolicy policy,
      Supplier<CompletableFuture<T>> rpc,
      int attempt,
      CompletableFuture<T> result) {
    if (result.isDone()) {
      return; // cancelled by the caller
    }
    CompletableFuture<T> call = rpc.get();
    result.whenComplete(
        (value, error) -> {
          if (result.isCancelled()) {
            call.cancel(false);
          }
        });
    call.whenComplete(
        (value, failure) -> {
          if (failure == null) {
            result.complete(value);
            return;
          }
          RunwireException error = RunwireException.from(unwrap(failure));
          if (!ReconnectPolicy.isResumable(error) || attempt > policy.maxResumes()) {
            result.completeExceptionally(error);
            return;
          }
          if (policy.retryListener() != null) {
            policy.retryListener().onRetry(method, attempt, error);
          }
          CompletableFuture.delayedExecutor(
                  policy.backoff(attempt).toMillis(), TimeUnit.MILLISECONDS)
              .execute(() -> retryAsync(method, policy, rpc, attempt + 1, result));
        });
  }

  private static Throwable unwrap(Throwable failure) {
    Throwable cause = failure;
    while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  private static <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw RunwireException.from(e);
    }
  }

  /** A unary call on an async stub as a CompletableFuture; cancelling the future cancels the call. */
  private static <Q, R, T> CompletableFuture<T> unary(
      BiConsumer<Q, StreamObserver<R>> method, Q request, Function<R, T> result) {
    CompletableFuture<T> future = new CompletableFuture<>();
    method.accept(
        request,
        new ClientResponseObserver<Q, R>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<Q> call) {
            future.whenComplete(
                (value, error) -> {
                  if (future.isCancelled()) {
                    call.cancel("cancelled by the caller", null);
                  }
                });
          }

          @Override
          public void onNext(R response) {
            future.complete(result.apply(response));
          }

          @Override
          public void onError(Throwable error) {
            future.completeExceptionally(RunwireException.from(error));
          }

          @Override
          public void onCompleted() {
            // The value arrived in onNext.
          }
        });
    return future;
  }

  private static StreamRunEventsRequest eventsRequest(
      String runId, long after, EventFilter filter) {
    StreamRunEventsRequest.Builder request =
        StreamRunEventsRequest.newBuilder().setRunId(runId).setAfterSequence(after);
    if (filter != null) {
      request.setFilter(filter);
    }
    return request.build();
  }

  private static <R> java.util.Iterator<RunEvent> mapEvents(
      java.util.Iterator<R> responses, Function<R, RunEvent> eventOf) {
    return new java.util.Iterator<>() {
      @Override
      public boolean hasNext() {
        return responses.hasNext();
      }

      @Override
      public RunEvent next() {
        return eventOf.apply(responses.next());
      }
    };
  }

  private static UpdateAgentRequest updateAgentRequest(Agent agent, String... paths) {
    UpdateAgentRequest.Builder request = UpdateAgentRequest.newBuilder().setAgent(agent);
    if (paths.length > 0) {
      request.setUpdateMask(FieldMask.newBuilder().addAllPaths(Arrays.asList(paths)));
    }
    return request.build();
  }

  private static CreateRunRequest withRequestId(CreateRunRequest request) {
    return request.getRequestId().isEmpty()
        ? request.toBuilder().setRequestId(newRequestId()).build()
        : request;
  }

  private static StreamRunRequest withRequestId(StreamRunRequest request) {
    return request.getRequestId().isEmpty()
        ? request.toBuilder().setRequestId(newRequestId()).build()
        : request;
  }

  private static WaitRunRequest withRequestId(WaitRunRequest request) {
    return request.getRequestId().isEmpty()
        ? request.toBuilder().setRequestId(newRequestId()).build()
        : request;
  }

  /**
   * An async event stream that resumes: each call delivers the events it brings to the caller's
   * observer (heartbeats and sequences already delivered skipped); a resumable failure opens the
   * next call after a backoff, any other ends the observer with onError.
   */
  private final class AsyncFollower implements Subscription {
    private final StreamRunRequest start;
    private final EventFilter filter;
    private final ReconnectPolicy policy;
    private final StreamObserver<RunEvent> observer;
    private volatile String runId;
    private volatile long lastSeen;
    private volatile boolean cancelled;
    private volatile ClientCallStreamObserver<?> current;
    private int attempts;

    AsyncFollower(
        StreamRunRequest start,
        String runId,
        long after,
        EventFilter filter,
        ReconnectPolicy policy,
        StreamObserver<RunEvent> observer) {
      this.start = start;
      this.filter = filter;
      this.runId = runId;
      this.lastSeen = after;
      this.policy = policy;
      this.observer = observer;
    }

    void open() {
      if (cancelled) {
        return;
      }
      if (runId.isEmpty() && start != null) {
        runsAsync.streamRun(start, new Attempt<StreamRunRequest, StreamRunResponse>(StreamRunResponse::getEvent));
      } else {
        runsAsync.streamRunEvents(
            eventsRequest(runId, lastSeen, filter),
            new Attempt<StreamRunEventsRequest, StreamRunEventsResponse>(StreamRunEventsResponse::getEvent));
      }
    }

    private synchronized void deliver(RunEvent event) {
      if (cancelled || event.hasHeartbeat() || event.getSequence() <= lastSeen) {
        return;
      }
      lastSeen = event.getSequence();
      runId = event.getRunId();
      attempts = 0;
      observer.onNext(event);
    }

    private synchronized void failed(Throwable cause) {
      if (cancelled) {
        return;
      }
      RunwireException error = RunwireException.from(cause);
      if (runId.isEmpty()) {
        runId = error.metadata().getOrDefault("run_id", "");
      }
      attempts++;
      if (!ReconnectPolicy.isResumable(error) || attempts > policy.maxResumes()) {
        cancelled = true;
        observer.onError(error);
        return;
      }
      if (policy.listener() != null) {
        policy.listener().onResume(runId, lastSeen, attempts, error);
      }
      CompletableFuture.delayedExecutor(
              policy.backoff(attempts).toMillis(), TimeUnit.MILLISECONDS)
          .execute(this::open);
    }

    private synchronized void completed() {
      if (!cancelled) {
        cancelled = true;
        observer.onCompleted();
      }
    }

    @Override
    public void cancel() {
      cancelled = true;
      ClientCallStreamObserver<?> c = current;
      if (c != null) {
        c.cancel("cancelled by the caller", null);
      }
    }

    /** One call of the stream. */
    private final class Attempt<Q, R> implements ClientResponseObserver<Q, R> {
      private final Function<R, RunEvent> eventOf;

      Attempt(Function<R, RunEvent> eventOf) {
        this.eventOf = eventOf;
      }

      @Override
      public void beforeStart(ClientCallStreamObserver<Q> call) {
        current = call;
        if (cancelled) {
          call.cancel("cancelled by the caller", null);
        }
      }

      @Override
      public void onNext(R response) {
        deliver(eventOf.apply(response));
      }

      @Override
      public void onError(Throwable error) {
        failed(error);
      }

      @Override
      public void onCompleted() {
        completed();
      }
    }
  }

  /**
   * An async watch that reopens itself: each call delivers its changes to the caller's observer
   * (heartbeats skipped, their cursor kept); a resumable failure opens the next call after the
   * last cursor, after a backoff; any other ends the observer with onError.
   */
  private static final class AsyncWatcher<Q, R> implements Subscription {
    private final String method;
    private final BiConsumer<String, StreamObserver<R>> call;
    private final Function<R, ChangeType> typeOf;
    private final Function<R, String> cursorOf;
    private final Function<R, String> keyOf;
    private final ReconnectPolicy policy;
    private final StreamObserver<R> observer;
    private final java.util.Set<String> listed = new java.util.HashSet<>();
    private volatile String cursor;
    private volatile boolean synced;
    private volatile boolean cancelled;
    private volatile ClientCallStreamObserver<?> current;
    private int attempts;

    AsyncWatcher(
        String method,
        String cursor,
        BiConsumer<String, StreamObserver<R>> call,
        Function<R, ChangeType> typeOf,
        Function<R, String> cursorOf,
        Function<R, String> keyOf,
        ReconnectPolicy policy,
        StreamObserver<R> observer) {
      this.method = method;
      this.cursor = cursor;
      this.synced = !cursor.isEmpty();
      this.keyOf = keyOf;
      this.call = call;
      this.typeOf = typeOf;
      this.cursorOf = cursorOf;
      this.policy = policy;
      this.observer = observer;
    }

    void open() {
      if (!cancelled) {
        call.accept(synced ? cursor : "", new Attempt());
      }
    }

    private synchronized void deliver(R message) {
      if (cancelled) {
        return;
      }
      attempts = 0;
      if (!cursorOf.apply(message).isEmpty()) {
        cursor = cursorOf.apply(message);
      }
      ChangeType type = typeOf.apply(message);
      if (type == ChangeType.CHANGE_TYPE_HEARTBEAT) {
        return;
      }
      if (!synced && type == ChangeType.CHANGE_TYPE_EXISTING && !listed.add(keyOf.apply(message))) {
        return; // delivered before this listing
      }
      if (type == ChangeType.CHANGE_TYPE_SYNCED) {
        synced = true;
        listed.clear();
      }
      observer.onNext(message);
    }

    private synchronized void failed(Throwable cause) {
      if (cancelled) {
        return;
      }
      RunwireException error = RunwireException.from(cause);
      attempts++;
      if (!ReconnectPolicy.isResumable(error) || attempts > policy.maxResumes()) {
        cancelled = true;
        observer.onError(error);
        return;
      }
      if (policy.retryListener() != null) {
        policy.retryListener().onRetry(method, attempts, error);
      }
      CompletableFuture.delayedExecutor(policy.backoff(attempts).toMillis(), TimeUnit.MILLISECONDS)
          .execute(this::open);
    }

    private void completed() {
      failed(
          io.grpc.Status.UNAVAILABLE
              .withDescription("the server ended the watch")
              .asRuntimeException());
    }

    @Override
    public void cancel() {
      cancelled = true;
      ClientCallStreamObserver<?> c = current;
      if (c != null) {
        c.cancel("cancelled by the caller", null);
      }
    }

    /** One call of the watch. */
    private final class Attempt implements ClientResponseObserver<Q, R> {
      @Override
      public void beforeStart(ClientCallStreamObserver<Q> call) {
        current = call;
        if (cancelled) {
          call.cancel("cancelled by the caller", null);
        }
      }

      @Override
      public void onNext(R response) {
        deliver(response);
      }

      @Override
      public void onError(Throwable error) {
        failed(error);
      }

      @Override
      public void onCompleted() {
        completed();
      }
    }
  }
}
