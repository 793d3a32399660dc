package dev.runwire.client;

import dev.runwire.v1.Agent;
import dev.runwire.v1.AgentServiceGrpc;
import dev.runwire.v1.Approval;
import dev.runwire.v1.ApprovalDecision;
import dev.runwire.v1.ApprovalServiceGrpc;
import dev.runwire.v1.CancelRunRequest;
import dev.runwire.v1.CreateAgentRequest;
import dev.runwire.v1.CreateRunRequest;
import dev.runwire.v1.DeleteAgentRequest;
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
import dev.runwire.v1.ToolOutput;
import dev.runwire.v1.WaitRunRequest;
import io.grpc.Channel;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A thin client for Runwire's gRPC API ({@code runwire.v1}).
 *
 * <p>It hides nothing: the generated blocking, async ({@code StreamObserver}) and future stubs of
 * the four services are available ({@link #agents()}, {@link #runsAsync()}, {@link
 * #approvalsFuture()}, ...) next to the shortcuts for the common steps: {@link #createAgent},
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

  /** Deletes an agent; runs already started are not affected. */
  public void deleteAgent(String agentId) {
    call(() -> agents.deleteAgent(DeleteAgentRequest.newBuilder().setAgentId(agentId).build()));
  }

  // ---- Runs ----------------------------------------------------------------------------------

  /** Starts a run and returns it at once (the run goes on in the background). */
  public Run createRun(CreateRunRequest request) {
    return call(() -> runs.createRun(request).getRun());
  }

  /** Starts a run and blocks until it ends, requires action, or the request's timeout passes. */
  public Run waitRun(WaitRunRequest request) {
    return call(() -> runs.waitRun(request).getRun());
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
   * Starts a run and streams its events from sequence 1 to the terminal event. Closing the stream
   * early leaves the run going on; continue with {@link #resume}.
   */
  public RunEventStream streamRun(StreamRunRequest request) {
    return RunEventStream.open(() -> runs.streamRun(request), StreamRunResponse::getEvent, "", 0);
  }

  /**
   * Streams a run's events with a sequence greater than {@code afterSequence} (0: from the
   * start): the logged ones, then live ones, to the terminal event. Works on ended runs too.
   */
  public RunEventStream resume(String runId, long afterSequence) {
    StreamRunEventsRequest request =
        StreamRunEventsRequest.newBuilder().setRunId(runId).setAfterSequence(afterSequence).build();
    return RunEventStream.open(
        () -> runs.streamRunEvents(request), StreamRunEventsResponse::getEvent, runId, afterSequence);
  }

  /**
   * Async {@link #streamRun}: events go to {@code observer} on a gRPC thread (heartbeats skipped;
   * errors as {@link RunwireException}). Cancel with the returned handle.
   */
  public Subscription streamRunAsync(StreamRunRequest request, StreamObserver<RunEvent> observer) {
    EventObserver<StreamRunRequest, StreamRunResponse> adapter =
        new EventObserver<>(observer, StreamRunResponse::getEvent);
    runsAsync.streamRun(request, adapter);
    return adapter;
  }

  /** Async {@link #resume}. */
  public Subscription resumeAsync(
      String runId, long afterSequence, StreamObserver<RunEvent> observer) {
    EventObserver<StreamRunEventsRequest, StreamRunEventsResponse> adapter =
        new EventObserver<>(observer, StreamRunEventsResponse::getEvent);
    runsAsync.streamRunEvents(
        StreamRunEventsRequest.newBuilder().setRunId(runId).setAfterSequence(afterSequence).build(),
        adapter);
    return adapter;
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

  /** Approves or rejects a pending tool call. */
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

  /** Adapts a stream of responses to RunEvents for a caller's observer. */
  private static final class EventObserver<Q, R> implements ClientResponseObserver<Q, R>, Subscription {
    private final StreamObserver<RunEvent> observer;
    private final Function<R, RunEvent> eventOf;
    private volatile ClientCallStreamObserver<Q> call;
    private volatile boolean cancelled;

    EventObserver(StreamObserver<RunEvent> observer, Function<R, RunEvent> eventOf) {
      this.observer = observer;
      this.eventOf = eventOf;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<Q> requestStream) {
      call = requestStream;
    }

    @Override
    public void onNext(R response) {
      RunEvent event = eventOf.apply(response);
      if (!cancelled && event.getSequence() != 0 && !event.hasHeartbeat()) {
        observer.onNext(event);
      }
    }

    @Override
    public void onError(Throwable error) {
      if (!cancelled) {
        observer.onError(RunwireException.from(error));
      }
    }

    @Override
    public void onCompleted() {
      if (!cancelled) {
        observer.onCompleted();
      }
    }

    @Override
    public void cancel() {
      cancelled = true;
      ClientCallStreamObserver<Q> c = call;
      if (c != null) {
        c.cancel("cancelled by the caller", null);
      }
    }
  }
}
