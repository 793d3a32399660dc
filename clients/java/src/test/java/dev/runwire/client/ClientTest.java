package dev.runwire.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.google.protobuf.util.Durations;
import dev.runwire.v1.Agent;
import dev.runwire.v1.AgentTool;
import dev.runwire.v1.ApprovalDecision;
import dev.runwire.v1.ApprovalMode;
import dev.runwire.v1.ApprovalPolicy;
import dev.runwire.v1.ApprovalState;
import dev.runwire.v1.ChangeType;
import dev.runwire.v1.EventFilter;
import dev.runwire.v1.EventProfile;
import dev.runwire.v1.ListAgentsRequest;
import dev.runwire.v1.RunOverrides;
import dev.runwire.v1.WatchApprovalsRequest;
import dev.runwire.v1.WatchApprovalsResponse;
import dev.runwire.v1.WatchRunsRequest;
import dev.runwire.v1.WatchRunsResponse;
import dev.runwire.v1.ClientTool;
import dev.runwire.v1.CreateRunRequest;
import dev.runwire.v1.ListAgentsResponse;
import dev.runwire.v1.ListApprovalsRequest;
import dev.runwire.v1.ListRunEventsRequest;
import dev.runwire.v1.ListRunsRequest;
import dev.runwire.v1.ListThreadMessagesRequest;
import dev.runwire.v1.Message;
import dev.runwire.v1.MessageRole;
import dev.runwire.v1.Model;
import dev.runwire.v1.ResolveApprovalRequest;
import dev.runwire.v1.Run;
import dev.runwire.v1.RunEvent;
import dev.runwire.v1.RunState;
import dev.runwire.v1.StreamRunRequest;
import dev.runwire.v1.SubAgent;
import dev.runwire.v1.SubRunFinished;
import dev.runwire.v1.ToolSource;
import dev.runwire.v1.WaitRunRequest;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The client against a real Runwire server: tests/clients/test_java_client.py starts it and sets
 * RUNWIRE_TEST_ADDRESS, RUNWIRE_TEST_PROXY_ADDRESS (a TCP proxy in front of it), its control URL
 * RUNWIRE_TEST_PROXY_CONTROL ({@code POST /cut} aborts every proxied connection),
 * RUNWIRE_TEST_DRAIN_ADDRESS and RUNWIRE_TEST_DRAIN_CONTROL (the drain lab: two replicas on one
 * Redis behind a proxy whose {@code POST /drain} sends SIGTERM to the active one;
 * tests/clients/lab_drain.py) and the connection settings; without them these tests are skipped.
 * Every wrapper method is called; the resume tests cut the connection of a live stream, blocking
 * and async, and the drain test has a replica drain for real mid-stream.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ClientTest {
  private static final String ADDRESS = System.getenv().getOrDefault("RUNWIRE_TEST_ADDRESS", "");
  private static final String PROXY = System.getenv().getOrDefault("RUNWIRE_TEST_PROXY_ADDRESS", "");
  private static final String CONTROL =
      System.getenv().getOrDefault("RUNWIRE_TEST_PROXY_CONTROL", "");
  private static final String DRAIN_ADDRESS =
      System.getenv().getOrDefault("RUNWIRE_TEST_DRAIN_ADDRESS", "");
  private static final String DRAIN_CONTROL =
      System.getenv().getOrDefault("RUNWIRE_TEST_DRAIN_CONTROL", "");
  private static final ReconnectPolicy FAST =
      ReconnectPolicy.DEFAULT.withBackoff(Duration.ofMillis(20), Duration.ofMillis(200));
  private static RunwireClient client;

  @BeforeAll
  static void connect() {
    if (!ADDRESS.isEmpty()) {
      client = RunwireClient.connect(ADDRESS).reconnectPolicy(FAST);
    }
  }

  @AfterAll
  static void close() {
    if (client != null) {
      client.close();
    }
  }

  private static void needServer() {
    assumeFalse(ADDRESS.isEmpty(), "RUNWIRE_TEST_ADDRESS is not set (test_java_client.py sets it)");
  }

  private static void needProxy() {
    needServer();
    assumeFalse(PROXY.isEmpty(), "RUNWIRE_TEST_PROXY_ADDRESS is not set");
  }

  private static String id(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private static Agent scripted(String scriptJson, int delayMs) {
    String options =
        "{\"script\": " + scriptJson + ", \"chunk_chars\": 3, \"delay_ms\": " + delayMs + "}";
    return Agent.newBuilder()
        .setInstructions("test agent")
        .setModel(Model.newBuilder().setProvider("scripted").setOptions(Json.struct(options)))
        .build();
  }

  /** Aborts every connection through the proxy; returns how many sockets it cut. */
  private static int cutConnections() {
    return Integer.parseInt(post(CONTROL, "cut").replace("cut ", ""));
  }

  /** Drains the drain lab's active replica; returns once it reports NOT_SERVING. */
  private static String drainReplica() {
    return post(DRAIN_CONTROL, "drain");
  }

  /** POSTs a command to a proxy's control URL; returns its answer. */
  private static String post(String control, String command) {
    try {
      HttpResponse<String> response =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create(control + "/" + command))
                      .POST(HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertEquals(200, response.statusCode(), response.body());
      return response.body();
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private static void assertGapFree(List<RunEvent> events) {
    for (int i = 0; i < events.size(); i++) {
      assertEquals(i + 1, events.get(i).getSequence(), "sequences " + sequences(events));
    }
  }

  private static List<Long> sequences(List<RunEvent> events) {
    return events.stream().map(RunEvent::getSequence).collect(Collectors.toList());
  }

  @Test
  void agentsCreateGetListUpdateDelete() {
    needServer();
    String agentId = id("java-agent");
    Agent created = client.createAgent(agentId, scripted("[{\"text\": \"hi\"}]", 0));
    assertEquals(agentId, created.getAgentId());
    RunwireException taken =
        assertThrows(RunwireException.class, () -> client.createAgent(agentId, scripted("[]", 0)));
    assertTrue(taken.is(Status.Code.ALREADY_EXISTS, ErrorReasons.AGENT_ALREADY_EXISTS), taken.toString());
    assertEquals("test agent", client.getAgent(agentId).getInstructions());

    Set<String> listed = new HashSet<>();
    String token = "";
    do {
      ListAgentsResponse page = client.listAgents(2, token);
      assertTrue(page.getAgentsCount() <= 2);
      page.getAgentsList().forEach(a -> listed.add(a.getAgentId()));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    assertTrue(listed.contains(agentId));

    Agent change = created.toBuilder().setInstructions("updated").build();
    Agent updated = client.updateAgent(change, "instructions");
    assertEquals("updated", updated.getInstructions());
    assertNotEquals(created.getEtag(), updated.getEtag());
    RunwireException stale =
        assertThrows(RunwireException.class, () -> client.updateAgent(change, "instructions"));
    assertEquals(ErrorReasons.ETAG_MISMATCH, stale.reason());
    Agent async =
        client.updateAgentAsync(updated.toBuilder().setInstructions("async").build(), "instructions").join();
    assertEquals("async", async.getInstructions());

    client.deleteAgent(agentId);
    RunwireException gone = assertThrows(RunwireException.class, () -> client.getAgent(agentId));
    assertEquals(ErrorReasons.AGENT_NOT_FOUND, gone.reason());
  }

  @Test
  void runsRequestIdsWaitGetListEventsCancelAndTheirAsyncForms() throws Exception {
    needServer();
    String agentId = id("java-runs");
    client.createAgent(agentId, scripted("[{\"text\": \"done\"}]", 0));
    CreateRunRequest request = CreateRunRequest.newBuilder().setAgentId(agentId).setPrompt("p").build();
    // No request_id: a fresh one per call (two runs). The same explicit one: the same run.
    Run a = client.createRun(request);
    Run b = client.createRunAsync(request).get(30, TimeUnit.SECONDS);
    assertNotEquals(a.getRunId(), b.getRunId());
    CreateRunRequest fixed = request.toBuilder().setRequestId(UUID.randomUUID().toString()).build();
    Run first = client.createRun(fixed);
    assertEquals(first.getRunId(), client.createRunAsync(fixed).get(30, TimeUnit.SECONDS).getRunId());

    WaitRunRequest wait =
        WaitRunRequest.newBuilder()
            .setAgentId(agentId)
            .setPrompt("p")
            .setTimeout(Durations.fromSeconds(30))
            .build();
    Run waited = client.waitRun(wait);
    assertEquals(RunState.RUN_STATE_SUCCEEDED, waited.getState());
    assertEquals("done", waited.getOutput());
    Run waitedAsync = client.waitRunAsync(wait).get(60, TimeUnit.SECONDS);
    assertEquals(RunState.RUN_STATE_SUCCEEDED, waitedAsync.getState());
    assertNotEquals(waited.getRunId(), waitedAsync.getRunId());
    assertEquals(RunState.RUN_STATE_SUCCEEDED, client.getRun(waited.getRunId()).getState());
    assertEquals("done", client.getRunAsync(waited.getRunId()).get(30, TimeUnit.SECONDS).getOutput());

    Set<String> listed =
        client.listRuns(ListRunsRequest.newBuilder().setAgentId(agentId).setPageSize(100).build())
            .getRunsList().stream()
            .map(Run::getRunId)
            .collect(Collectors.toSet());
    assertEquals(
        Set.of(a.getRunId(), b.getRunId(), first.getRunId(), waited.getRunId(), waitedAsync.getRunId()),
        listed);

    List<RunEvent> logged =
        client
            .listRunEvents(
                ListRunEventsRequest.newBuilder().setRunId(waited.getRunId()).setPageSize(1000).build())
            .getEventsList();
    assertGapFree(logged);
    assertTrue(logged.get(logged.size() - 1).hasRunFinished());

    String slowAgent = id("java-cancel");
    client.createAgent(slowAgent, scripted("[{\"text\": \"" + "x".repeat(300) + "\"}]", 50));
    Run slow = client.createRun(CreateRunRequest.newBuilder().setAgentId(slowAgent).setPrompt("p").build());
    Run cancelling = client.cancelRun(slow.getRunId(), "test");
    assertTrue(
        Set.of(RunState.RUN_STATE_CANCELLING, RunState.RUN_STATE_CANCELLED).contains(cancelling.getState()));
    List<RunEvent> events = new ArrayList<>();
    try (RunEventStream stream = client.resume(slow.getRunId(), 0)) {
      stream.forEach(events::add);
    }
    assertGapFree(events);
    assertEquals(RunState.RUN_STATE_CANCELLED, events.get(events.size() - 1).getRunFinished().getState());
  }

  @Test
  void approvalsAndAClientToolThroughTheAsyncStream() throws Exception {
    needServer();
    String agentId = id("java-approve");
    Agent agent =
        scripted(
                "[{\"tool_calls\": [{\"name\": \"calculator\", \"arguments\": {\"expression\": \"6 * 7\"}}]},"
                    + " {\"tool_calls\": [{\"name\": \"lookup\", \"arguments\": {\"key\": \"k\"}}]},"
                    + " {\"text\": \"42\"}]",
                0)
            .toBuilder()
            .addTools("calculator")
            .setApprovalPolicy(ApprovalPolicy.newBuilder().setMode(ApprovalMode.APPROVAL_MODE_REQUIRE_ALL))
            .build();
    client.createAgent(agentId, agent);
    StreamRunRequest request =
        StreamRunRequest.newBuilder()
            .setAgentId(agentId)
            .setPrompt("p")
            .addClientTools(
                ClientTool.newBuilder()
                    .setName("lookup")
                    .setDescription("looks up")
                    .setParameters(Json.struct("{\"type\": \"object\"}")))
            .build();
    List<RunEvent> events = new CopyOnWriteArrayList<>();
    List<String> handled = new CopyOnWriteArrayList<>();
    List<CompletableFuture<?>> handling = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    client.streamRunAsync(
        request,
        new StreamObserver<>() {
          @Override
          public void onNext(RunEvent event) {
            events.add(event);
            // Answer from another thread: never block a gRPC callback thread.
            if (event.hasApprovalRequested()) {
              String approvalId = event.getApprovalRequested().getApprovalId();
              handling.add(CompletableFuture.runAsync(
                  () -> {
                    List<String> pending =
                        client
                            .listApprovalsAsync(
                                ListApprovalsRequest.newBuilder()
                                    .setRunId(event.getRunId())
                                    .setState(ApprovalState.APPROVAL_STATE_PENDING)
                                    .build())
                            .join()
                            .getApprovalsList().stream()
                            .map(x -> x.getApprovalId())
                            .collect(Collectors.toList());
                    assertEquals(List.of(approvalId), pending);
                    assertEquals("calculator", client.getApproval(approvalId).getToolName());
                    client
                        .resolveApprovalAsync(
                            ResolveApprovalRequest.newBuilder()
                                .setApprovalId(approvalId)
                                .setDecision(ApprovalDecision.APPROVAL_DECISION_APPROVE)
                                .build())
                        .join();
                    handled.add("approved");
                  })
                  .exceptionally(e -> fail(done, e)));
            } else if (event.hasClientToolCallRequested()) {
              String callId = event.getClientToolCallRequested().getToolCallId();
              handling.add(
                  client
                      .submitToolOutputsAsync(event.getRunId(), List.of(RunwireClient.toolOutput(callId, "v")))
                      .thenRun(() -> handled.add("submitted"))
                      .exceptionally(e -> fail(done, e)));
            }
          }

          @Override
          public void onError(Throwable error) {
            done.completeExceptionally(error);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    done.get(60, TimeUnit.SECONDS);
    // The run may end before a handler's own callback ran (its reply and the stream race).
    CompletableFuture.allOf(handling.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    assertGapFree(events);
    assertEquals("42", events.get(events.size() - 1).getRunFinished().getOutput());
    assertEquals(List.of("approved", "submitted"), handled);
  }

  private static Void fail(CompletableFuture<Void> done, Throwable error) {
    done.completeExceptionally(error);
    return null;
  }

  @Test
  void threadsCreateGetMessagesDelete() {
    needServer();
    String agentId = id("java-thread");
    client.createAgent(agentId, scripted("[{\"text\": \"hello back\"}]", 0));
    String threadId = id("java-thread");
    assertEquals(threadId, client.createThread(threadId, Map.of("purpose", "test")).getThreadId());
    assertEquals("test", client.getThread(threadId).getMetadataOrThrow("purpose"));
    Run run =
        client.waitRun(
            WaitRunRequest.newBuilder()
                .setAgentId(agentId)
                .setThreadId(threadId)
                .setPrompt("hello")
                .setTimeout(Durations.fromSeconds(30))
                .build());
    assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState());
    List<Message> messages =
        client
            .listThreadMessages(ListThreadMessagesRequest.newBuilder().setThreadId(threadId).build())
            .getMessagesList();
    assertEquals(
        List.of(MessageRole.MESSAGE_ROLE_USER + " hello", MessageRole.MESSAGE_ROLE_ASSISTANT + " hello back"),
        messages.stream().map(m -> m.getRole() + " " + m.getContent()).collect(Collectors.toList()));
    client.deleteThread(threadId);
    RunwireException gone = assertThrows(RunwireException.class, () -> client.getThread(threadId));
    assertEquals(ErrorReasons.THREAD_NOT_FOUND, gone.reason());
  }

  private record Resumed(String runId, long after, int attempt, Status.Code code) {}

  @Test
  void aBlockingStreamWhoseConnectionIsCutResumesWithoutGapOrDuplicate() {
    needProxy();
    String text = "resuming is seamless ".repeat(10);
    String agentId = id("java-resume");
    client.createAgent(agentId, scripted("[{\"text\": \"" + text + "\"}]", 20));
    List<Resumed> resumed = new CopyOnWriteArrayList<>();
    ReconnectPolicy policy =
        FAST.withListener((runId, after, attempt, cause) -> resumed.add(new Resumed(runId, after, attempt, cause.code())));
    List<RunEvent> events = new ArrayList<>();
    int cuts = 0;
    try (RunwireClient through = RunwireClient.connect(PROXY).reconnectPolicy(policy);
        RunEventStream stream =
            through.streamRun(StreamRunRequest.newBuilder().setAgentId(agentId).setPrompt("p").build())) {
      for (RunEvent event : stream) {
        events.add(event);
        if (events.size() == 5 || events.size() == 25) {
          cuts += cutConnections();
        }
      }
      assertEquals(resumed.size(), stream.resumes());
    }
    assertTrue(cuts >= 4, "only " + cuts + " sockets cut");
    assertGapFree(events);
    assertEquals(text, events.get(events.size() - 1).getRunFinished().getOutput());
    assertTrue(resumed.size() >= 2, resumed.toString());
    String runId = events.get(0).getRunId();
    for (Resumed r : resumed) {
      assertEquals(runId, r.runId());
      assertEquals(Status.Code.UNAVAILABLE, r.code());
    }
    // Events received before a cut are still delivered: each resume comes after its cut point.
    assertTrue(resumed.get(0).after() >= 5, resumed.toString());
    assertTrue(resumed.get(resumed.size() - 1).after() >= 25, resumed.toString());
    assertEquals(events.size(), client.getRun(runId).getLastSequence());
  }

  @Test
  void anAsyncStreamWhoseConnectionIsCutResumesAndNeverGivesUpBeforeItsLimit() throws Exception {
    needProxy();
    String agentId = id("java-resume-async");
    client.createAgent(agentId, scripted("[{\"text\": \"" + "abc".repeat(40) + "\"}]", 20));
    Run run = client.createRun(CreateRunRequest.newBuilder().setAgentId(agentId).setPrompt("p").build());
    List<Resumed> resumed = new CopyOnWriteArrayList<>();
    ReconnectPolicy policy =
        FAST.withListener((runId, after, attempt, cause) -> resumed.add(new Resumed(runId, after, attempt, cause.code())));
    try (RunwireClient through = RunwireClient.connect(PROXY).reconnectPolicy(policy)) {
      List<RunEvent> events = new CopyOnWriteArrayList<>();
      CompletableFuture<Void> done = new CompletableFuture<>();
      through.resumeAsync(run.getRunId(), 0, observer(events, done, 3));
      done.get(60, TimeUnit.SECONDS);
      assertGapFree(events);
      assertTrue(events.get(events.size() - 1).hasRunFinished());
      assertTrue(resumed.size() >= 1);
      assertTrue(resumed.get(0).after() >= 3, resumed.toString());

      // maxResumes 0: the cut reaches onError as UNAVAILABLE without a reason.
      through.reconnectPolicy(ReconnectPolicy.NEVER);
      Run second = client.createRun(CreateRunRequest.newBuilder().setAgentId(agentId).setPrompt("p").build());
      CompletableFuture<Void> failed = new CompletableFuture<>();
      through.resumeAsync(second.getRunId(), 0, observer(new CopyOnWriteArrayList<>(), failed, 2));
      Throwable error =
          assertThrows(java.util.concurrent.ExecutionException.class, () -> failed.get(60, TimeUnit.SECONDS))
              .getCause();
      assertTrue(error instanceof RunwireException, error.toString());
      assertEquals(Status.Code.UNAVAILABLE, ((RunwireException) error).code());
      assertEquals("", ((RunwireException) error).reason());
    }
  }

  /** Collects events into {@code events}; cuts the connections once after {@code cutAt} events. */
  private static StreamObserver<RunEvent> observer(
      List<RunEvent> events, CompletableFuture<Void> done, int cutAt) {
    return new StreamObserver<>() {
      @Override
      public void onNext(RunEvent event) {
        events.add(event);
        if (events.size() == cutAt) {
          CompletableFuture.runAsync(ClientTest::cutConnections).exceptionally(e -> fail(done, e));
        }
      }

      @Override
      public void onError(Throwable error) {
        done.completeExceptionally(error);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    };
  }

  private record Retried(String method, int attempt, Status.Code code, String reason) {}

  @Test
  void waitRunRetriesAfterItsConnectionIsCutAndStartsOneRun() throws Exception {
    needProxy();
    String text = "waiting is patient ".repeat(6);
    String agentId = id("java-wait");
    client.createAgent(agentId, scripted("[{\"text\": \"" + text + "\"}]", 25));
    List<Retried> retried = new CopyOnWriteArrayList<>();
    ReconnectPolicy policy =
        FAST.withRetryListener(
            (method, attempt, cause) ->
                retried.add(new Retried(method, attempt, cause.code(), cause.reason())));
    WaitRunRequest wait =
        WaitRunRequest.newBuilder()
            .setAgentId(agentId)
            .setPrompt("p")
            .setTimeout(Durations.fromSeconds(30))
            .build();
    try (RunwireClient through = RunwireClient.connect(PROXY).reconnectPolicy(policy)) {
      for (boolean async : List.of(false, true)) {
        retried.clear();
        CompletableFuture<Run> waiting =
            async
                ? through.waitRunAsync(wait)
                : CompletableFuture.supplyAsync(() -> through.waitRun(wait));
        // Cut while WaitRun waits: once the run exists and is still going.
        int before = async ? 1 : 0;
        until(
            () -> {
              List<Run> runs = runsOf(agentId);
              return runs.size() == before + 1
                  && runs.get(0).getState() == RunState.RUN_STATE_RUNNING;
            },
            "the run is RUNNING");
        cutConnections();
        Run run = waiting.get(60, TimeUnit.SECONDS);
        assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState());
        assertEquals(text, run.getOutput());
        assertTrue(!retried.isEmpty(), retried.toString());
        for (Retried r : retried) {
          assertEquals("WaitRun", r.method());
          assertEquals(Status.Code.UNAVAILABLE, r.code());
        }
        assertEquals(before + 1, runsOf(agentId).size(), "one run per WaitRun");
      }
    }
  }

  private static List<Run> runsOf(String agentId) {
    return client
        .listRuns(ListRunsRequest.newBuilder().setAgentId(agentId).setPageSize(100).build())
        .getRunsList();
  }

  /** Returns once {@code condition} holds, checking every 20 ms; fails after 30 s. */
  private static void until(java.util.function.BooleanSupplier condition, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not true within 30 s: " + what);
      }
      Thread.sleep(20);
    }
  }

  @Test
  void aRealDrainResumesTheStreamOnTheOtherReplicaAndRetriesCreateRunThere() throws Exception {
    assumeFalse(DRAIN_ADDRESS.isEmpty(), "RUNWIRE_TEST_DRAIN_ADDRESS is not set");
    List<Resumed> resumed = new CopyOnWriteArrayList<>();
    List<RunwireException> resumeCauses = new CopyOnWriteArrayList<>();
    List<Retried> retried = new CopyOnWriteArrayList<>();
    // A draining replica refuses resumes and new runs until it is gone: be patient.
    ReconnectPolicy policy =
        new ReconnectPolicy(40, Duration.ofMillis(20), Duration.ofMillis(250), null)
            .withListener(
                (runId, after, attempt, cause) -> {
                  resumed.add(new Resumed(runId, after, attempt, cause.code()));
                  resumeCauses.add(cause);
                })
            .withRetryListener(
                (method, attempt, cause) ->
                    retried.add(new Retried(method, attempt, cause.code(), cause.reason())));
    String text = "draining is graceful ".repeat(12);
    String agentId = id("java-drain");
    List<RunEvent> events = new ArrayList<>();
    String created = "";
    List<WatchRunsResponse> changes = new CopyOnWriteArrayList<>();
    Set<String> ended = java.util.concurrent.ConcurrentHashMap.newKeySet();
    CompletableFuture<Void> synced = new CompletableFuture<>();
    CompletableFuture<Void> bothEnded = new CompletableFuture<>();
    try (RunwireClient lab = RunwireClient.connect(DRAIN_ADDRESS).reconnectPolicy(policy)) {
      lab.createAgent(agentId, scripted("[{\"text\": \"" + text + "\"}]", 25));
      // A watch of the agent's runs, on the same channel: the drain ends it too.
      RunwireClient.Subscription watch =
          lab.watchRunsAsync(
              WatchRunsRequest.newBuilder().setAgentId(agentId).build(),
              new StreamObserver<>() {
                @Override
                public void onNext(WatchRunsResponse change) {
                  changes.add(change);
                  if (change.getType() == ChangeType.CHANGE_TYPE_SYNCED) {
                    synced.complete(null);
                  }
                  if (change.getType() == ChangeType.CHANGE_TYPE_ENDED) {
                    ended.add(change.getRun().getRunId());
                    if (ended.size() == 2) {
                      bothEnded.complete(null);
                    }
                  }
                }

                @Override
                public void onError(Throwable error) {
                  synced.completeExceptionally(error);
                  bothEnded.completeExceptionally(error);
                }

                @Override
                public void onCompleted() {
                  bothEnded.completeExceptionally(new AssertionError("the watch completed"));
                }
              });
      synced.get(30, TimeUnit.SECONDS);
      try (RunEventStream stream =
          lab.streamRun(StreamRunRequest.newBuilder().setAgentId(agentId).setPrompt("p").build())) {
        for (RunEvent event : stream) {
          events.add(event);
          if (events.size() == 6) {
            drainReplica();
            // The replica this connection reaches refuses new runs now (DRAINING) until it is
            // gone: createRun retries with its request_id and starts the run on the other.
            created =
                lab.createRun(
                        CreateRunRequest.newBuilder().setAgentId(agentId).setPrompt("again").build())
                    .getRunId();
          }
        }
      }
      assertGapFree(events);
      RunEvent last = events.get(events.size() - 1);
      assertEquals(RunState.RUN_STATE_SUCCEEDED, last.getRunFinished().getState());
      assertEquals(text, last.getRunFinished().getOutput());

      String runId = events.get(0).getRunId();
      int draining = -1;
      for (int i = 0; i < resumeCauses.size() && draining < 0; i++) {
        if (resumeCauses.get(i).reason().equals(ErrorReasons.DRAINING)) {
          draining = i;
        }
      }
      assertTrue(draining >= 0, resumed.toString());
      RunwireException cause = resumeCauses.get(draining);
      Resumed notice = resumed.get(draining);
      assertEquals(Status.Code.UNAVAILABLE, cause.code());
      assertEquals(runId, notice.runId());
      assertEquals(runId, cause.metadata().get("run_id"));
      assertEquals(String.valueOf(notice.after()), cause.metadata().get("last_sequence"));
      assertTrue(notice.after() >= 6, notice.toString());
      assertTrue(
          retried.stream()
              .anyMatch(r -> r.method().equals("CreateRun") && r.reason().equals(ErrorReasons.DRAINING)),
          retried.toString());

      // One run per request: the streamed one and the one createRun started, which succeeds too.
      Set<String> runs =
          lab.listRuns(ListRunsRequest.newBuilder().setAgentId(agentId).build()).getRunsList().stream()
              .map(Run::getRunId)
              .collect(Collectors.toSet());
      assertEquals(Set.of(runId, created), runs);
      List<RunEvent> second = new ArrayList<>();
      try (RunEventStream stream = lab.resume(created, 0)) {
        stream.forEach(second::add);
      }
      assertGapFree(second);
      assertTrue(second.get(second.size() - 1).hasRunFinished());

      // The watch, reopened on the other replica, saw both runs created and ended, once each.
      bothEnded.get(30, TimeUnit.SECONDS);
      watch.cancel();
      assertTrue(
          retried.stream()
              .anyMatch(r -> r.method().equals("WatchRuns") && r.reason().equals(ErrorReasons.DRAINING)),
          retried.toString());
      List<String> cursors =
          changes.stream().map(WatchRunsResponse::getCursor).collect(Collectors.toList());
      assertEquals(cursors.size(), new HashSet<>(cursors).size(), cursors.toString());
      for (String run : List.of(runId, created)) {
        for (ChangeType type : List.of(ChangeType.CHANGE_TYPE_CREATED, ChangeType.CHANGE_TYPE_ENDED)) {
          assertEquals(
              1,
              changes.stream()
                  .filter(c -> c.getType() == type && c.getRun().getRunId().equals(run))
                  .count(),
              changes.toString());
        }
      }
    }
  }

  @Test
  void labelsOverridesAFilteredStreamAndAWatchAcrossACut() throws Exception {
    needProxy();
    String text = "filters keep the whole text ".repeat(6);
    String agentId = id("java-17");
    String team = id("t");
    client.createAgent(
        agentId, scripted("[{\"text\": \"" + text + "\"}]", 20).toBuilder().putLabels("team", team).build());
    assertEquals(
        List.of(agentId),
        client.listAgents(ListAgentsRequest.newBuilder().putLabels("team", team).build()).getAgentsList().stream()
            .map(Agent::getAgentId)
            .collect(Collectors.toList()));

    List<String> retried = new CopyOnWriteArrayList<>();
    List<String> resumedRuns = new CopyOnWriteArrayList<>();
    ReconnectPolicy policy =
        FAST.withRetryListener((method, attempt, cause) -> retried.add(method))
            .withListener((runId, after, attempt, cause) -> resumedRuns.add(runId));
    List<WatchRunsResponse> changes = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> synced = new CompletableFuture<>();
    CompletableFuture<Void> ended = new CompletableFuture<>();
    String[] runId = {""};
    try (RunwireClient through = RunwireClient.connect(PROXY).reconnectPolicy(policy)) {
      RunwireClient.Subscription watch =
          through.watchRunsAsync(
              WatchRunsRequest.newBuilder().putLabels("team", team).build(),
              new StreamObserver<>() {
                @Override
                public void onNext(WatchRunsResponse change) {
                  changes.add(change);
                  if (change.getType() == ChangeType.CHANGE_TYPE_SYNCED) {
                    synced.complete(null);
                  }
                  if (change.getType() == ChangeType.CHANGE_TYPE_ENDED
                      && change.getRun().getRunId().equals(runId[0])) {
                    ended.complete(null);
                  }
                }

                @Override
                public void onError(Throwable error) {
                  synced.completeExceptionally(error);
                  ended.completeExceptionally(error);
                }

                @Override
                public void onCompleted() {
                  ended.completeExceptionally(new AssertionError("the watch completed"));
                }
              });
      try {
        synced.get(30, TimeUnit.SECONDS);
        // A labelled run with overrides, streamed without deltas; one cut breaks the stream and
        // the watch.
        EventFilter noDeltas =
            EventFilter.newBuilder().setProfile(EventProfile.EVENT_PROFILE_NO_DELTAS).build();
        List<RunEvent> events = new ArrayList<>();
        try (RunEventStream stream =
            through.streamRun(
                StreamRunRequest.newBuilder()
                    .setAgentId(agentId)
                    .setPrompt("p")
                    .putLabels("team", team)
                    .setOverrides(RunOverrides.newBuilder().setInstructions("Be brief."))
                    .setFilter(noDeltas)
                    .build())) {
          for (RunEvent event : stream) {
            events.add(event);
            if (events.size() == 1) {
              runId[0] = event.getRunId();
              cutConnections();
            }
          }
        }
        ended.get(30, TimeUnit.SECONDS);
        RunEvent last = events.get(events.size() - 1);
        assertEquals(text, last.getRunFinished().getOutput());
        String whole = "";
        for (int i = 0; i < events.size(); i++) {
          RunEvent event = events.get(i);
          assertTrue(!event.hasTextMessageContent(), "a delta came through NO_DELTAS: " + event);
          assertTrue(i == 0 || event.getSequence() > events.get(i - 1).getSequence());
          if (event.hasTextMessageEnd()) {
            whole = event.getTextMessageEnd().getText();
          }
        }
        assertEquals(text, whole);
        assertEquals(
            sequences(events),
            sequences(
                client
                    .listRunEvents(
                        ListRunEventsRequest.newBuilder()
                            .setRunId(runId[0])
                            .setFilter(noDeltas)
                            .setPageSize(1000)
                            .build())
                    .getEventsList()));

        Run run = client.getRun(runId[0]);
        assertEquals(team, run.getLabelsOrThrow("team"));
        assertEquals("Be brief.", run.getOverrides().getInstructions());
        assertEquals(
            List.of(runId[0]),
            client.listRuns(ListRunsRequest.newBuilder().putLabels("team", team).build()).getRunsList().stream()
                .map(Run::getRunId)
                .collect(Collectors.toList()));

        // The watch saw the run created and ended, once each, no cursor twice, across the cut.
        List<String> cursors =
            changes.stream().map(WatchRunsResponse::getCursor).collect(Collectors.toList());
        assertEquals(cursors.size(), new HashSet<>(cursors).size(), cursors.toString());
        for (ChangeType type : List.of(ChangeType.CHANGE_TYPE_CREATED, ChangeType.CHANGE_TYPE_ENDED)) {
          assertEquals(
              1,
              changes.stream()
                  .filter(c -> c.getType() == type && c.getRun().getRunId().equals(runId[0]))
                  .count(),
              changes.toString());
        }
        assertTrue(resumedRuns.contains(runId[0]), resumedRuns.toString());
        assertTrue(retried.contains("WatchRuns"), retried.toString());
      } finally {
        watch.cancel();
      }
    }
  }

  @Test
  void anApprovalsInboxIsAWatchOfPendingApprovals() {
    needServer();
    String agentId = id("java-inbox");
    client.createAgent(
        agentId,
        scripted(
                "[{\"tool_calls\": [{\"name\": \"calculator\", \"arguments\": {\"expression\": \"6*7\"}}]},"
                    + " {\"text\": \"42\"}]",
                0)
            .toBuilder()
            .addTools("calculator")
            .setApprovalPolicy(ApprovalPolicy.newBuilder().setMode(ApprovalMode.APPROVAL_MODE_REQUIRE_ALL))
            .build());
    List<String> got = new ArrayList<>();
    String runId = "";
    try (WatchStream<WatchApprovalsResponse> inbox =
        client.watchApprovals(
            WatchApprovalsRequest.newBuilder()
                .setAgentId(agentId)
                .addStates(ApprovalState.APPROVAL_STATE_PENDING)
                .build())) {
      for (WatchApprovalsResponse change : inbox) {
        got.add(change.getType().name());
        if (change.getType() == ChangeType.CHANGE_TYPE_SYNCED) {
          runId =
              client
                  .createRun(CreateRunRequest.newBuilder().setAgentId(agentId).setPrompt("p").build())
                  .getRunId();
        } else if (change.getType() == ChangeType.CHANGE_TYPE_CREATED) {
          assertEquals(runId, change.getApproval().getRunId());
          client.resolveApproval(
              change.getApproval().getApprovalId(), ApprovalDecision.APPROVAL_DECISION_APPROVE);
        } else if (change.getType() == ChangeType.CHANGE_TYPE_ENDED) {
          assertEquals(ApprovalState.APPROVAL_STATE_APPROVED, change.getApproval().getState());
          break;
        }
      }
    }
    assertEquals(
        List.of("CHANGE_TYPE_SYNCED", "CHANGE_TYPE_CREATED", "CHANGE_TYPE_ENDED"), got);
  }

  /**
   * A parent delegates to a child whose calculator call needs an approval (both under the default
   * policy, REQUIRE_ALL): the parent's tools list the child, the server's tools list the built-ins,
   * and the parent's stream shows its own approval of the delegation, the child run and the child's
   * approval (announced with the child's run id), each resolved by its id.
   */
  @Test
  void subAgentsToolDiscoveryAndAChildApprovalInTheParentsStream() throws Exception {
    needServer();
    String child = id("java-child");
    client.createAgent(
        child,
        scripted(
                "[{\"tool_calls\": [{\"name\": \"calculator\", \"arguments\": {\"expression\": \"6*7\"}}]},"
                    + " {\"text\": \"42\"}]",
                0)
            .toBuilder()
            .addTools("calculator")
            .build());
    String parent = id("java-parent");
    client.createAgent(
        parent,
        scripted(
                "[{\"tool_calls\": [{\"name\": \"ask_child\", \"arguments\": {\"prompt\": \"What is 6*7?\"}}]},"
                    + " {\"text\": \"The child says 42.\"}]",
                0)
            .toBuilder()
            .addSubAgents(
                SubAgent.newBuilder()
                    .setAgentId(child)
                    .setToolName("ask_child")
                    .setDescription("Asks the child."))
            .build());

    List<AgentTool> tools = client.listAgentTools(parent);
    assertEquals(1, tools.size(), tools.toString());
    assertEquals("ask_child", tools.get(0).getName());
    assertEquals(ToolSource.TOOL_SOURCE_SUB_AGENT, tools.get(0).getSource());
    assertEquals(child, tools.get(0).getSubAgentId());
    assertTrue(tools.get(0).getRequiresApproval());
    assertTrue(
        tools.get(0).getParameters().getFieldsOrThrow("properties").getStructValue().containsFields("prompt"));
    assertEquals(tools, client.listAgentToolsAsync(parent).get(30, TimeUnit.SECONDS));
    RunwireException missing =
        assertThrows(RunwireException.class, () -> client.listAgentTools(id("java-missing")));
    assertEquals(ErrorReasons.AGENT_NOT_FOUND, missing.reason());
    assertTrue(
        client.listTools().getToolsList().stream()
            .anyMatch(t -> t.getName().equals("calculator") && t.getSource() == ToolSource.TOOL_SOURCE_BUILTIN));
    assertTrue(
        client.listToolsAsync().get(30, TimeUnit.SECONDS).getToolsList().stream()
            .anyMatch(t -> t.getName().equals("calculator")));

    List<RunEvent> events = new ArrayList<>();
    List<String> approvedFor = new ArrayList<>(); // the run of each approval: "" for the parent's own
    String childRun = "";
    try (RunEventStream stream =
        client.streamRun(StreamRunRequest.newBuilder().setAgentId(parent).setPrompt("delegate").build())) {
      for (RunEvent event : stream) {
        events.add(event);
        if (event.hasSubRunStarted()) {
          childRun = event.getSubRunStarted().getChildRunId();
        } else if (event.hasApprovalRequested()) {
          approvedFor.add(event.getApprovalRequested().getRunId());
          client.resolveApproval(
              event.getApprovalRequested().getApprovalId(), ApprovalDecision.APPROVAL_DECISION_APPROVE);
        }
      }
    }
    assertGapFree(events);
    assertEquals("The child says 42.", events.get(events.size() - 1).getRunFinished().getOutput());
    assertNotEquals("", childRun);
    assertEquals(List.of("", childRun), approvedFor);
    List<String> kinds =
        events.stream()
            .map(e -> e.getPayloadCase().name())
            .filter(k -> k.startsWith("SUB_RUN_") || k.startsWith("APPROVAL_"))
            .collect(Collectors.toList());
    assertEquals(
        List.of(
            "APPROVAL_REQUESTED",
            "APPROVAL_RESOLVED",
            "SUB_RUN_STARTED",
            "APPROVAL_REQUESTED",
            "APPROVAL_RESOLVED",
            "SUB_RUN_FINISHED"),
        kinds);
    SubRunFinished finished =
        events.stream().filter(RunEvent::hasSubRunFinished).findFirst().orElseThrow().getSubRunFinished();
    assertEquals(child, finished.getAgentId());
    assertEquals(RunState.RUN_STATE_SUCCEEDED, finished.getState());
    assertEquals("42", finished.getOutput());
    Run childRecord = client.getRun(childRun);
    assertEquals(events.get(0).getRunId(), childRecord.getParentRunId());
    assertEquals(1, childRecord.getDepth());
    assertEquals(RunState.RUN_STATE_SUCCEEDED, childRecord.getState());
  }
}
