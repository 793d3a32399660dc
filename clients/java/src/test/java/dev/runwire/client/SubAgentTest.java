package dev.runwire.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import dev.runwire.v1.AgentServiceGrpc;
import dev.runwire.v1.AgentTool;
import dev.runwire.v1.Approval;
import dev.runwire.v1.ApprovalDecision;
import dev.runwire.v1.ApprovalRequested;
import dev.runwire.v1.ApprovalResolved;
import dev.runwire.v1.ApprovalServiceGrpc;
import dev.runwire.v1.ApprovalState;
import dev.runwire.v1.ListAgentToolsRequest;
import dev.runwire.v1.ListAgentToolsResponse;
import dev.runwire.v1.ListToolsRequest;
import dev.runwire.v1.ListToolsResponse;
import dev.runwire.v1.McpServer;
import dev.runwire.v1.McpServerState;
import dev.runwire.v1.ResolveApprovalRequest;
import dev.runwire.v1.ResolveApprovalResponse;
import dev.runwire.v1.RunEvent;
import dev.runwire.v1.RunFinished;
import dev.runwire.v1.RunServiceGrpc;
import dev.runwire.v1.RunStarted;
import dev.runwire.v1.RunState;
import dev.runwire.v1.StreamRunEventsRequest;
import dev.runwire.v1.StreamRunEventsResponse;
import dev.runwire.v1.StreamRunRequest;
import dev.runwire.v1.StreamRunResponse;
import dev.runwire.v1.SubRunFinished;
import dev.runwire.v1.SubRunStarted;
import dev.runwire.v1.Tool;
import dev.runwire.v1.ToolServiceGrpc;
import dev.runwire.v1.ToolSource;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Sub-agents and tool discovery against a fake server on loopback: a parent run ("run_parent")
 * delegates to a sub-agent whose run ("run_child") waits for an approval announced in the parent's
 * stream. StreamRun sends events 1..3 (up to the announced approval) and ends with UNAVAILABLE
 * DRAINING; StreamRunEvents sends the rest once the approval is resolved.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SubAgentTest {
  private final List<String> resolved = new CopyOnWriteArrayList<>();
  private final List<String> resumes = new CopyOnWriteArrayList<>();
  private final CountDownLatch approved = new CountDownLatch(1);
  private Server server;
  private RunwireClient client;

  private static StatusRuntimeException failure(Code code, String reason) {
    ErrorInfo info = ErrorInfo.newBuilder().setReason(reason).setDomain("runwire.dev").build();
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(code.getNumber())
            .setMessage(reason)
            .addDetails(Any.pack(info))
            .build());
  }

  private static RunEvent event(long sequence) {
    RunEvent.Builder event = RunEvent.newBuilder().setRunId("run_parent").setSequence(sequence);
    switch ((int) sequence) {
      case 1 -> event.setRunStarted(RunStarted.newBuilder().setAgentId("parent"));
      case 2 ->
          event.setSubRunStarted(
              SubRunStarted.newBuilder()
                  .setChildRunId("run_child")
                  .setAgentId("child")
                  .setToolCallId("call_parent"));
      case 3 ->
          event.setApprovalRequested(
              ApprovalRequested.newBuilder()
                  .setApprovalId("apr_child")
                  .setToolCallId("call_child")
                  .setToolName("calculator")
                  .setRunId("run_child"));
      case 4 ->
          event.setApprovalResolved(
              ApprovalResolved.newBuilder()
                  .setApprovalId("apr_child")
                  .setToolCallId("call_child")
                  .setState(ApprovalState.APPROVAL_STATE_APPROVED)
                  .setRunId("run_child"));
      case 5 ->
          event.setSubRunFinished(
              SubRunFinished.newBuilder()
                  .setChildRunId("run_child")
                  .setAgentId("child")
                  .setToolCallId("call_parent")
                  .setState(RunState.RUN_STATE_SUCCEEDED)
                  .setOutput("42"));
      default ->
          event.setRunFinished(
              RunFinished.newBuilder()
                  .setState(RunState.RUN_STATE_SUCCEEDED)
                  .setOutput("The child says 42."));
    }
    return event.build();
  }

  @BeforeEach
  void start() throws IOException {
    RunServiceGrpc.RunServiceImplBase runs =
        new RunServiceGrpc.RunServiceImplBase() {
          @Override
          public void streamRun(StreamRunRequest request, StreamObserver<StreamRunResponse> out) {
            for (long sequence = 1; sequence <= 3; sequence++) {
              out.onNext(StreamRunResponse.newBuilder().setEvent(event(sequence)).build());
            }
            out.onError(failure(Code.UNAVAILABLE, ErrorReasons.DRAINING));
          }

          @Override
          public void streamRunEvents(
              StreamRunEventsRequest request, StreamObserver<StreamRunEventsResponse> out) {
            resumes.add(request.getRunId() + " " + request.getAfterSequence());
            try {
              if (!approved.await(30, TimeUnit.SECONDS)) {
                out.onError(failure(Code.DEADLINE_EXCEEDED, "NOT_APPROVED"));
                return;
              }
            } catch (InterruptedException e) {
              java.lang.Thread.currentThread().interrupt();
              return;
            }
            for (long sequence = request.getAfterSequence() + 1; sequence <= 6; sequence++) {
              out.onNext(StreamRunEventsResponse.newBuilder().setEvent(event(sequence)).build());
            }
            out.onCompleted();
          }
        };
    ApprovalServiceGrpc.ApprovalServiceImplBase approvals =
        new ApprovalServiceGrpc.ApprovalServiceImplBase() {
          @Override
          public void resolveApproval(
              ResolveApprovalRequest request, StreamObserver<ResolveApprovalResponse> out) {
            if (!request.getApprovalId().equals("apr_child")
                || request.getDecision() != ApprovalDecision.APPROVAL_DECISION_APPROVE) {
              out.onError(failure(Code.NOT_FOUND, ErrorReasons.APPROVAL_NOT_FOUND));
              return;
            }
            resolved.add(request.getApprovalId());
            approved.countDown();
            out.onNext(
                ResolveApprovalResponse.newBuilder()
                    .setApproval(
                        Approval.newBuilder()
                            .setApprovalId(request.getApprovalId())
                            .setRunId("run_child")
                            .setState(ApprovalState.APPROVAL_STATE_APPROVED))
                    .build());
            out.onCompleted();
          }
        };
    AgentServiceGrpc.AgentServiceImplBase agents =
        new AgentServiceGrpc.AgentServiceImplBase() {
          @Override
          public void listAgentTools(
              ListAgentToolsRequest request, StreamObserver<ListAgentToolsResponse> out) {
            if (!request.getAgentId().equals("parent")) {
              out.onError(failure(Code.NOT_FOUND, ErrorReasons.AGENT_NOT_FOUND));
              return;
            }
            out.onNext(
                ListAgentToolsResponse.newBuilder()
                    .addTools(
                        AgentTool.newBuilder()
                            .setName("calculator")
                            .setSource(ToolSource.TOOL_SOURCE_BUILTIN))
                    .addTools(
                        AgentTool.newBuilder()
                            .setName("ask_child")
                            .setSource(ToolSource.TOOL_SOURCE_SUB_AGENT)
                            .setSubAgentId("child")
                            .setRequiresApproval(true)
                            .setParameters(Json.struct("{\"type\": \"object\"}")))
                    .build());
            out.onCompleted();
          }
        };
    ToolServiceGrpc.ToolServiceImplBase tools =
        new ToolServiceGrpc.ToolServiceImplBase() {
          @Override
          public void listTools(ListToolsRequest request, StreamObserver<ListToolsResponse> out) {
            out.onNext(
                ListToolsResponse.newBuilder()
                    .addTools(
                        Tool.newBuilder().setName("calculator").setSource(ToolSource.TOOL_SOURCE_BUILTIN))
                    .addTools(
                        Tool.newBuilder()
                            .setName("docs_search")
                            .setSource(ToolSource.TOOL_SOURCE_MCP)
                            .setMcpServer("docs"))
                    .addMcpServers(
                        McpServer.newBuilder()
                            .setName("docs")
                            .setState(McpServerState.MCP_SERVER_STATE_CONNECTED)
                            .addToolNames("docs_search"))
                    .build());
            out.onCompleted();
          }
        };
    server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(runs)
            .addService(approvals)
            .addService(agents)
            .addService(tools)
            .build()
            .start();
    client =
        RunwireClient.connect("127.0.0.1:" + server.getPort(), ConnectOptions.plaintext())
            .reconnectPolicy(
                ReconnectPolicy.DEFAULT.withBackoff(Duration.ofMillis(1), Duration.ofMillis(2)));
  }

  @AfterEach
  void stop() throws InterruptedException {
    client.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  @Test
  void anAnnouncedApprovalIsResolvedByIdAndTheStreamResumesOnTheParentsRun() {
    List<String> got = new ArrayList<>();
    try (RunEventStream stream =
        client.streamRun(StreamRunRequest.newBuilder().setAgentId("parent").setPrompt("p").build())) {
      for (RunEvent event : stream) {
        got.add(event.getSequence() + " " + event.getPayloadCase().name());
        assertEquals("run_parent", event.getRunId());
        if (event.hasApprovalRequested()) {
          assertEquals("run_child", event.getApprovalRequested().getRunId());
          Approval approval =
              client.resolveApproval(
                  event.getApprovalRequested().getApprovalId(),
                  ApprovalDecision.APPROVAL_DECISION_APPROVE);
          assertEquals("run_child", approval.getRunId());
        }
      }
      assertEquals("run_parent", stream.runId());
      assertEquals(1, stream.resumes());
    }
    assertEquals(
        List.of(
            "1 RUN_STARTED",
            "2 SUB_RUN_STARTED",
            "3 APPROVAL_REQUESTED",
            "4 APPROVAL_RESOLVED",
            "5 SUB_RUN_FINISHED",
            "6 RUN_FINISHED"),
        got);
    assertEquals(List.of("apr_child"), resolved);
    assertEquals(List.of("run_parent 3"), resumes);
  }

  @Test
  void theAsyncStreamCopesWithSubRunEventsToo() throws Exception {
    List<String> got = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    client.streamRunAsync(
        StreamRunRequest.newBuilder().setAgentId("parent").setPrompt("p").build(),
        new StreamObserver<>() {
          @Override
          public void onNext(RunEvent event) {
            got.add(event.getPayloadCase().name());
            if (event.hasApprovalRequested()) {
              // Answer off the gRPC callback thread.
              client
                  .resolveApprovalAsync(
                      ResolveApprovalRequest.newBuilder()
                          .setApprovalId(event.getApprovalRequested().getApprovalId())
                          .setDecision(ApprovalDecision.APPROVAL_DECISION_APPROVE)
                          .build())
                  .exceptionally(
                      e -> {
                        done.completeExceptionally(e);
                        return null;
                      });
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
    done.get(30, TimeUnit.SECONDS);
    assertEquals(
        List.of(
            "RUN_STARTED",
            "SUB_RUN_STARTED",
            "APPROVAL_REQUESTED",
            "APPROVAL_RESOLVED",
            "SUB_RUN_FINISHED",
            "RUN_FINISHED"),
        got);
    assertEquals(List.of("apr_child"), resolved);
    assertEquals(List.of("run_parent 3"), resumes);
  }

  @Test
  void listAgentToolsAndListToolsBlockingAndAsync() throws Exception {
    List<AgentTool> tools = client.listAgentTools("parent");
    assertEquals(2, tools.size());
    assertEquals(ToolSource.TOOL_SOURCE_SUB_AGENT, tools.get(1).getSource());
    assertEquals("child", tools.get(1).getSubAgentId());
    assertTrue(tools.get(1).getRequiresApproval());
    assertEquals("object", tools.get(1).getParameters().getFieldsOrThrow("type").getStringValue());
    assertEquals(tools, client.listAgentToolsAsync("parent").get(10, TimeUnit.SECONDS));
    RunwireException missing =
        assertThrows(RunwireException.class, () -> client.listAgentTools("missing"));
    assertEquals(ErrorReasons.AGENT_NOT_FOUND, missing.reason());
    ExecutionException async =
        assertThrows(
            ExecutionException.class,
            () -> client.listAgentToolsAsync("missing").get(10, TimeUnit.SECONDS));
    assertTrue(async.getCause() instanceof RunwireException, async.toString());
    assertEquals(ErrorReasons.AGENT_NOT_FOUND, ((RunwireException) async.getCause()).reason());

    ListToolsResponse server = client.listTools();
    assertEquals(
        List.of("calculator", "docs_search"),
        server.getToolsList().stream().map(Tool::getName).toList());
    assertEquals("docs", server.getTools(1).getMcpServer());
    assertEquals(McpServerState.MCP_SERVER_STATE_CONNECTED, server.getMcpServers(0).getState());
    assertEquals(server, client.listToolsAsync().get(10, TimeUnit.SECONDS));
  }
}
