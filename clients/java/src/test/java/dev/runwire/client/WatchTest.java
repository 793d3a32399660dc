package dev.runwire.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import dev.runwire.v1.Approval;
import dev.runwire.v1.ApprovalServiceGrpc;
import dev.runwire.v1.ChangeType;
import dev.runwire.v1.EventFilter;
import dev.runwire.v1.EventProfile;
import dev.runwire.v1.EventType;
import dev.runwire.v1.PauseRunRequest;
import dev.runwire.v1.PauseRunResponse;
import dev.runwire.v1.ResumeRunRequest;
import dev.runwire.v1.ResumeRunResponse;
import dev.runwire.v1.Run;
import dev.runwire.v1.RunEvent;
import dev.runwire.v1.RunFinished;
import dev.runwire.v1.RunServiceGrpc;
import dev.runwire.v1.RunState;
import dev.runwire.v1.StateChanged;
import dev.runwire.v1.StreamRunEventsRequest;
import dev.runwire.v1.StreamRunEventsResponse;
import dev.runwire.v1.StreamRunRequest;
import dev.runwire.v1.StreamRunResponse;
import dev.runwire.v1.WatchApprovalsRequest;
import dev.runwire.v1.WatchApprovalsResponse;
import dev.runwire.v1.WatchRunsRequest;
import dev.runwire.v1.WatchRunsResponse;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The watches (blocking and async) and the event filter on resumes, against a fake server on
 * loopback whose calls end as each test scripts: lost connections, DRAINING, an expired cursor.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WatchTest {
  private static final List<ChangeType> CHANGES =
      List.of(
          ChangeType.CHANGE_TYPE_EXISTING,
          ChangeType.CHANGE_TYPE_SYNCED,
          ChangeType.CHANGE_TYPE_CREATED,
          ChangeType.CHANGE_TYPE_UPDATED,
          ChangeType.CHANGE_TYPE_ENDED);

  /** How one call ends: after {@code cut} changes, with {@code error}. */
  private record Step(int cut, StatusRuntimeException error) {}

  private final Deque<Step> script = new ArrayDeque<>();
  private final List<String> cursors = new CopyOnWriteArrayList<>();
  private final List<String> filters = new CopyOnWriteArrayList<>();
  private final List<String> retries = new CopyOnWriteArrayList<>();
  private Server server;
  private RunwireClient client;

  private static StatusRuntimeException lost() {
    return Status.UNAVAILABLE.withDescription("connection lost").asRuntimeException();
  }

  private static StatusRuntimeException failure(Code code, String reason, Map<String, String> metadata) {
    ErrorInfo info =
        ErrorInfo.newBuilder().setReason(reason).setDomain("runwire.dev").putAllMetadata(metadata).build();
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(code.getNumber())
            .setMessage(reason)
            .addDetails(Any.pack(info))
            .build());
  }

  /**
   * Sends the changes after {@code cursor} ("" or "cN") with a heartbeat after each, then ends as
   * scripted (unscripted: stays open until the client goes).
   */
  private synchronized <R> void serve(
      String cursor, StreamObserver<R> out, BiFunction<ChangeType, String, R> make) {
    cursors.add(cursor);
    Step step = script.pollFirst();
    int from = cursor.isEmpty() ? 1 : Integer.parseInt(cursor.substring(1)) + 1;
    for (int i = from, n = 0; i <= CHANGES.size() && (step == null || n < step.cut()); i++, n++) {
      out.onNext(make.apply(CHANGES.get(i - 1), "c" + i));
      out.onNext(make.apply(ChangeType.CHANGE_TYPE_HEARTBEAT, "c" + i));
    }
    if (step != null) {
      out.onError(step.error());
    }
  }

  private static boolean carries(ChangeType type) {
    return type != ChangeType.CHANGE_TYPE_SYNCED && type != ChangeType.CHANGE_TYPE_HEARTBEAT;
  }

  private static RunEvent event(long sequence) {
    RunEvent.Builder event = RunEvent.newBuilder().setRunId("run_1").setSequence(sequence);
    return sequence >= 10
        ? event.setRunFinished(RunFinished.newBuilder().setState(RunState.RUN_STATE_SUCCEEDED)).build()
        : event.setStateChanged(StateChanged.getDefaultInstance()).build();
  }

  private static String describe(EventFilter filter) {
    return filter.getEventTypesCount() > 0
        ? filter.getEventTypesList().toString()
        : filter.getProfile().name();
  }

  @BeforeEach
  void start() throws IOException {
    RunServiceGrpc.RunServiceImplBase runs =
        new RunServiceGrpc.RunServiceImplBase() {
          @Override
          public void watchRuns(WatchRunsRequest request, StreamObserver<WatchRunsResponse> out) {
            serve(
                request.getCursor(),
                out,
                (type, cursor) -> {
                  WatchRunsResponse.Builder message =
                      WatchRunsResponse.newBuilder().setType(type).setCursor(cursor);
                  if (carries(type)) {
                    message.setRun(
                        Run.newBuilder().setRunId("run_" + cursor).putAllLabels(request.getLabelsMap()));
                  }
                  return message.build();
                });
          }

          @Override
          public void pauseRun(PauseRunRequest request, StreamObserver<PauseRunResponse> out) {
            filters.add("PauseRun " + request.getRunId() + " " + request.getReason());
            out.onNext(
                PauseRunResponse.newBuilder()
                    .setRun(Run.newBuilder().setRunId(request.getRunId()).setState(RunState.RUN_STATE_PAUSED))
                    .build());
            out.onCompleted();
          }

          @Override
          public void resumeRun(ResumeRunRequest request, StreamObserver<ResumeRunResponse> out) {
            if (request.getRunId().equals("run_unknown")) {
              out.onError(failure(Code.NOT_FOUND, ErrorReasons.RUN_NOT_FOUND, Map.of()));
              return;
            }
            out.onNext(
                ResumeRunResponse.newBuilder()
                    .setRun(Run.newBuilder().setRunId(request.getRunId()).setState(RunState.RUN_STATE_RUNNING))
                    .build());
            out.onCompleted();
          }

          @Override
          public void streamRun(StreamRunRequest request, StreamObserver<StreamRunResponse> out) {
            filters.add("StreamRun " + describe(request.getFilter()));
            out.onNext(StreamRunResponse.newBuilder().setEvent(event(2)).build());
            out.onError(lost());
          }

          @Override
          public void streamRunEvents(
              StreamRunEventsRequest request, StreamObserver<StreamRunEventsResponse> out) {
            // A filtered stream skips numbers: two events 2 apart, then a cut (or the end).
            filters.add(describe(request.getFilter()));
            for (long sequence = request.getAfterSequence() + 2;
                sequence <= request.getAfterSequence() + 4;
                sequence += 2) {
              out.onNext(StreamRunEventsResponse.newBuilder().setEvent(event(sequence)).build());
              if (sequence >= 10) {
                out.onCompleted();
                return;
              }
            }
            out.onError(lost());
          }
        };
    ApprovalServiceGrpc.ApprovalServiceImplBase approvals =
        new ApprovalServiceGrpc.ApprovalServiceImplBase() {
          @Override
          public void watchApprovals(
              WatchApprovalsRequest request, StreamObserver<WatchApprovalsResponse> out) {
            serve(
                request.getCursor(),
                out,
                (type, cursor) -> {
                  WatchApprovalsResponse.Builder message =
                      WatchApprovalsResponse.newBuilder().setType(type).setCursor(cursor);
                  if (carries(type)) {
                    message.setApproval(Approval.newBuilder().setApprovalId("apr_" + cursor));
                  }
                  return message.build();
                });
          }
        };
    server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(runs)
            .addService(approvals)
            .build()
            .start();
    ReconnectPolicy policy =
        ReconnectPolicy.DEFAULT
            .withBackoff(Duration.ofMillis(1), Duration.ofMillis(2))
            .withRetryListener(
                (method, attempt, cause) -> retries.add(method + " " + attempt + " " + cause.reason()));
    client =
        RunwireClient.connect("127.0.0.1:" + server.getPort(), ConnectOptions.plaintext())
            .reconnectPolicy(policy);
  }

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static String line(WatchRunsResponse change) {
    return change.getType().name().replace("CHANGE_TYPE_", "")
        + " "
        + change.getCursor()
        + " "
        + change.getRun().getRunId();
  }

  private static final List<String> ALL_CHANGES =
      List.of(
          "EXISTING c1 run_c1",
          "SYNCED c2 ",
          "CREATED c3 run_c3",
          "UPDATED c4 run_c4",
          "ENDED c5 run_c5");

  @Test
  void watchRunsReopensAfterTheLastCursorWithTheSameFilter() {
    script.add(new Step(2, lost()));
    script.add(new Step(1, failure(Code.UNAVAILABLE, ErrorReasons.DRAINING, Map.of())));
    script.add(new Step(0, lost()));
    List<String> got = new ArrayList<>();
    WatchRunsRequest request =
        WatchRunsRequest.newBuilder().setAgentId("a").putLabels("team", "x").build();
    try (WatchStream<WatchRunsResponse> watch = client.watchRuns(request)) {
      for (WatchRunsResponse change : watch) {
        got.add(line(change));
        if (change.hasRun()) {
          assertEquals("x", change.getRun().getLabelsOrThrow("team"));
        }
        if (change.getType() == ChangeType.CHANGE_TYPE_ENDED) {
          break;
        }
      }
      assertEquals("c5", watch.cursor());
      assertEquals(3, watch.reopens());
    }
    assertEquals(ALL_CHANGES, got);
    assertEquals(List.of("", "c2", "c3", "c3"), cursors);
    assertEquals(List.of("WatchRuns 1 ", "WatchRuns 1 DRAINING", "WatchRuns 2 "), retries);
  }

  @Test
  void aWatchBrokenBeforeSyncedListsAgainAndLeavesOutWhatItReturned() {
    script.add(new Step(1, lost()));
    List<String> got = new ArrayList<>();
    try (WatchStream<WatchRunsResponse> watch = client.watchRuns(WatchRunsRequest.getDefaultInstance())) {
      for (WatchRunsResponse change : watch) {
        got.add(line(change));
        if (change.getType() == ChangeType.CHANGE_TYPE_CREATED) {
          break;
        }
      }
      assertTrue(watch.synced());
    }
    assertEquals(ALL_CHANGES.subList(0, 3), got);
    assertEquals(List.of("", ""), cursors);
  }

  @Test
  void watchRunsAsyncReopensToo() throws Exception {
    script.add(new Step(1, lost()));
    script.add(new Step(2, lost()));
    List<String> got = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> ended = new CompletableFuture<>();
    RunwireClient.Subscription subscription =
        client.watchRunsAsync(
            WatchRunsRequest.getDefaultInstance(),
            new StreamObserver<>() {
              @Override
              public void onNext(WatchRunsResponse change) {
                got.add(line(change));
                if (change.getType() == ChangeType.CHANGE_TYPE_ENDED) {
                  ended.complete(null);
                }
              }

              @Override
              public void onError(Throwable error) {
                ended.completeExceptionally(error);
              }

              @Override
              public void onCompleted() {
                ended.completeExceptionally(new AssertionError("the watch completed"));
              }
            });
    ended.get(30, TimeUnit.SECONDS);
    subscription.cancel();
    assertEquals(ALL_CHANGES, got);
    // Broken before SYNCED: listed again; after it: from the last cursor.
    assertEquals(List.of("", "", "c2"), cursors);
    assertEquals(List.of("WatchRuns 1 ", "WatchRuns 1 "), retries);
  }

  @Test
  void watchApprovalsThrowsAnExpiredCursorBlockingAndAsync() throws Exception {
    script.add(new Step(1, lost()));
    script.add(new Step(0, failure(Code.OUT_OF_RANGE, ErrorReasons.CURSOR_EXPIRED, Map.of("cursor", "c2"))));
    List<String> got = new ArrayList<>();
    RunwireException expired;
    try (WatchStream<WatchApprovalsResponse> watch =
        client.watchApprovals(WatchApprovalsRequest.newBuilder().setRunId("run_1").setCursor("c1").build())) {
      expired =
          assertThrows(
              RunwireException.class, () -> watch.forEachRemaining(c -> got.add(c.getType().name())));
    }
    assertTrue(expired.is(Status.Code.OUT_OF_RANGE, ErrorReasons.CURSOR_EXPIRED), expired.toString());
    assertEquals("c2", expired.metadata().get("cursor"));
    assertEquals(List.of("CHANGE_TYPE_SYNCED"), got);
    assertEquals(List.of("c1", "c2"), cursors);

    script.add(new Step(0, failure(Code.OUT_OF_RANGE, ErrorReasons.CURSOR_EXPIRED, Map.of())));
    CompletableFuture<Void> failed = new CompletableFuture<>();
    client.watchApprovalsAsync(
        WatchApprovalsRequest.newBuilder().setCursor("c9").build(),
        new StreamObserver<>() {
          @Override
          public void onNext(WatchApprovalsResponse change) {}

          @Override
          public void onError(Throwable error) {
            failed.completeExceptionally(error);
          }

          @Override
          public void onCompleted() {
            failed.complete(null);
          }
        });
    Throwable error =
        assertThrows(ExecutionException.class, () -> failed.get(30, TimeUnit.SECONDS)).getCause();
    assertEquals(ErrorReasons.CURSOR_EXPIRED, ((RunwireException) error).reason());
  }

  @Test
  void watchRetriesAreBounded() {
    for (int i = 0; i < 3; i++) {
      script.add(new Step(0, lost()));
    }
    client.reconnectPolicy(client.reconnectPolicy().withMaxResumes(2));
    try (WatchStream<WatchRunsResponse> watch = client.watchRuns(WatchRunsRequest.getDefaultInstance())) {
      RunwireException error = assertThrows(RunwireException.class, watch::hasNext);
      assertEquals(Status.Code.UNAVAILABLE, error.code());
    }
    assertEquals(3, cursors.size());
  }

  @Test
  void resumesKeepTheEventFilterBlockingAndAsync() throws Exception {
    List<Long> sequences = new ArrayList<>();
    EventFilter noDeltas = EventFilter.newBuilder().setProfile(EventProfile.EVENT_PROFILE_NO_DELTAS).build();
    try (RunEventStream stream =
        client.resume(
            StreamRunEventsRequest.newBuilder().setRunId("run_1").setFilter(noDeltas).build())) {
      stream.forEach(e -> sequences.add(e.getSequence()));
    }
    assertEquals(List.of(2L, 4L, 6L, 8L, 10L), sequences);
    assertEquals(List.of("EVENT_PROFILE_NO_DELTAS", "EVENT_PROFILE_NO_DELTAS", "EVENT_PROFILE_NO_DELTAS"), filters);

    filters.clear();
    sequences.clear();
    EventFilter state = EventFilter.newBuilder().setProfile(EventProfile.EVENT_PROFILE_STATE).build();
    try (RunEventStream stream =
        client.streamRun(StreamRunRequest.newBuilder().setAgentId("a").setFilter(state).build())) {
      stream.forEach(e -> sequences.add(e.getSequence()));
    }
    assertEquals(List.of(2L, 4L, 6L, 8L, 10L), sequences);
    assertEquals(List.of("StreamRun EVENT_PROFILE_STATE", "EVENT_PROFILE_STATE", "EVENT_PROFILE_STATE"), filters);

    filters.clear();
    List<Long> async = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    EventFilter finished =
        EventFilter.newBuilder().addEventTypes(EventType.EVENT_TYPE_RUN_FINISHED).build();
    client.resumeAsync(
        StreamRunEventsRequest.newBuilder().setRunId("run_1").setAfterSequence(2).setFilter(finished).build(),
        new StreamObserver<>() {
          @Override
          public void onNext(RunEvent event) {
            async.add(event.getSequence());
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
    done.get(30, TimeUnit.SECONDS);
    assertEquals(List.of(4L, 6L, 8L, 10L), async);
    assertEquals(List.of("[EVENT_TYPE_RUN_FINISHED]", "[EVENT_TYPE_RUN_FINISHED]"), filters);
  }

  @Test
  void pauseRunAndResumeRun() {
    assertEquals(RunState.RUN_STATE_PAUSED, client.pauseRun("run_1", "lunch").getState());
    assertEquals(RunState.RUN_STATE_RUNNING, client.resumeRun("run_1").getState());
    RunwireException unknown = assertThrows(RunwireException.class, () -> client.resumeRun("run_unknown"));
    assertTrue(unknown.is(Status.Code.NOT_FOUND, ErrorReasons.RUN_NOT_FOUND), unknown.toString());
    assertEquals(List.of("PauseRun run_1 lunch"), filters);
  }
}
