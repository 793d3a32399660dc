package dev.runwire.examples;

import dev.runwire.client.Json;
import dev.runwire.client.RunEventStream;
import dev.runwire.client.RunwireClient;
import dev.runwire.client.RunwireException;
import dev.runwire.v1.Agent;
import dev.runwire.v1.ApprovalDecision;
import dev.runwire.v1.ApprovalMode;
import dev.runwire.v1.ApprovalPolicy;
import dev.runwire.v1.ClientTool;
import dev.runwire.v1.Model;
import dev.runwire.v1.Run;
import dev.runwire.v1.RunEvent;
import dev.runwire.v1.RunFinished;
import dev.runwire.v1.RunState;
import dev.runwire.v1.StreamRunRequest;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Runwire quickstart: an agent with a server tool that needs an approval (calculator) and a tool
 * this program executes (lookup_order); the run is streamed, the approval granted, the client tool
 * answered, the stream deliberately dropped during the final answer and resumed after the last
 * sequence seen. Exits 0 only if every expected step happened.
 *
 * <pre>
 *   mvn -q test-compile exec:java -Dexec.args=127.0.0.1:50051
 * </pre>
 *
 * <p>TLS and the bearer token come from the environment ({@code RunwireClient.connect} reads
 * RUNWIRE_TOKEN, RUNWIRE_CA_FILE, RUNWIRE_CLIENT_CERT_FILE, RUNWIRE_CLIENT_KEY_FILE,
 * RUNWIRE_TLS_SERVER_NAME); plaintext without them.
 */
public final class Quickstart {
  static final String FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57.";

  // Turn 1: text and two tool calls (calculator needs an approval; lookup_order is ours).
  // Turn 2: the final answer, streamed 4 characters every 30 ms.
  static final String MODEL_OPTIONS =
      """
      {
        "script": [
          {
            "text": "Checking the order and the total.",
            "tool_calls": [
              {"name": "calculator", "arguments": {"expression": "19 * 3"}},
              {"name": "lookup_order", "arguments": {"order_id": "A-17"}}
            ]
          },
          {"text": "Order A-17 has shipped; 3 items at 19 cost 57."}
        ],
        "chunk_chars": 4,
        "delay_ms": 30
      }
      """;

  static final String LOOKUP_ORDER_SCHEMA =
      """
      {"type": "object",
       "properties": {"order_id": {"type": "string"}},
       "required": ["order_id"]}
      """;

  /** Deltas of the final message to read before dropping the stream. */
  static final int DELTAS_BEFORE_DISCONNECT = 3;

  private Quickstart() {}

  public static void main(String[] args) {
    String address = args.length > 0 ? args[0] : "127.0.0.1:50051";
    int status;
    try (RunwireClient client = RunwireClient.connect(address)) {
      List<String> problems = run(client);
      if (problems.isEmpty()) {
        System.out.println("OK: every expected step happened");
        status = 0;
      } else {
        problems.forEach(p -> System.out.println("FAILED: " + p));
        status = 1;
      }
    } catch (RunwireException e) {
      System.out.println("FAILED: call failed: " + e.getMessage());
      status = 2;
    }
    System.exit(status);
  }

  /** The lookup_order tool, executed here in the client. */
  static String lookupOrder(String argumentsJson) {
    String orderId = Json.struct(argumentsJson).getFieldsOrThrow("order_id").getStringValue();
    return "{\"order_id\":\"" + orderId + "\",\"status\":\"shipped\",\"items\":3}";
  }

  static List<String> run(RunwireClient client) {
    String agentId = "quickstart-" + UUID.randomUUID().toString().substring(0, 8);
    Agent agent =
        Agent.newBuilder()
            .setDisplayName("Java quickstart")
            .setInstructions("You look up orders and do arithmetic.")
            .setModel(Model.newBuilder().setProvider("scripted").setOptions(Json.struct(MODEL_OPTIONS)))
            .addTools("calculator")
            .setApprovalPolicy(
                ApprovalPolicy.newBuilder().setMode(ApprovalMode.APPROVAL_MODE_REQUIRE_ALL))
            .build();
    client.createAgent(agentId, agent);
    System.out.println("agent " + agentId + " created (scripted model, tool calculator, approvals required)");

    StreamRunRequest request =
        StreamRunRequest.newBuilder()
            .setAgentId(agentId)
            .setPrompt("Where is order A-17, and what do 3 items at 19 cost?")
            .addClientTools(
                ClientTool.newBuilder()
                    .setName("lookup_order")
                    .setDescription("Looks up an order by id.")
                    .setParameters(Json.struct(LOOKUP_ORDER_SCHEMA)))
            .build();

    List<Long> sequences = new ArrayList<>();
    Map<String, String> toolNames = new LinkedHashMap<>(); // tool_call_id -> tool name
    Map<String, String> results = new LinkedHashMap<>(); // tool_call_id -> result
    int approvals = 0;
    int clientToolCalls = 0;
    int messages = 0;
    int finalDeltas = 0;
    boolean resumed = false;
    StringBuilder finalText = new StringBuilder();
    String runId = "";
    RunFinished finished = null;
    String runError = null;

    RunEventStream events = client.streamRun(request);
    try {
      while (events.hasNext()) {
        RunEvent event = events.next();
        long seq = event.getSequence();
        sequences.add(seq);
        runId = event.getRunId();
        switch (event.getPayloadCase()) {
          case RUN_STARTED:
            log(seq, "run_started", "run " + runId);
            break;
          case TEXT_MESSAGE_START:
            messages++;
            log(seq, "text_message_start", "message " + messages);
            break;
          case TEXT_MESSAGE_CONTENT:
            String delta = event.getTextMessageContent().getDelta();
            log(seq, "text_message_content", quote(delta));
            if (messages == 2) {
              finalText.append(delta);
              finalDeltas++;
            }
            break;
          case TOOL_CALL_START:
            toolNames.put(
                event.getToolCallStart().getToolCallId(), event.getToolCallStart().getToolCallName());
            log(seq, "tool_call_start", event.getToolCallStart().getToolCallName());
            break;
          case APPROVAL_REQUESTED:
            approvals++;
            var approval = event.getApprovalRequested();
            log(seq, "approval_requested", approval.getToolName() + " " + approval.getArguments());
            client.resolveApproval(approval.getApprovalId(), ApprovalDecision.APPROVAL_DECISION_APPROVE);
            System.out.println("  -> approved " + approval.getApprovalId());
            break;
          case CLIENT_TOOL_CALL_REQUESTED:
            clientToolCalls++;
            var call = event.getClientToolCallRequested();
            log(seq, "client_tool_call_requested", call.getToolName() + " " + call.getArguments());
            String output = lookupOrder(call.getArguments());
            client.submitToolOutputs(runId, RunwireClient.toolOutput(call.getToolCallId(), output));
            System.out.println("  -> submitted " + output);
            break;
          case TOOL_CALL_RESULT:
            var result = event.getToolCallResult();
            results.put(result.getToolCallId(), result.getContent());
            log(
                seq,
                "tool_call_result",
                toolNames.getOrDefault(result.getToolCallId(), "?") + " -> " + result.getContent());
            break;
          case RUN_FINISHED:
            finished = event.getRunFinished();
            log(seq, "run_finished", finished.getState() + " " + quote(finished.getOutput()));
            break;
          case RUN_ERROR:
            runError = event.getRunError().getError().getMessage();
            log(seq, "run_error", runError);
            break;
          case STATE_CHANGED:
            log(seq, "state_changed", event.getStateChanged().getState().name());
            break;
          case APPROVAL_RESOLVED:
            var resolved = event.getApprovalResolved();
            log(seq, "approval_resolved", resolved.getState() + " by " + resolved.getResolvedBy());
            break;
          case TOOL_CALL_ARGS:
            log(seq, "tool_call_args", quote(event.getToolCallArgs().getDelta()));
            break;
          case STEP_STARTED:
            log(seq, "step_started", "step " + event.getStepStarted().getStep());
            break;
          case USAGE:
            log(seq, "usage", event.getUsage().getTotalTokens() + " tokens");
            break;
          default:
            log(seq, event.getPayloadCase().name().toLowerCase(java.util.Locale.ROOT), "");
        }
        // Drop the connection in the middle of the final answer, then resume where we were.
        if (!resumed && messages == 2 && finalDeltas == DELTAS_BEFORE_DISCONNECT) {
          long after = events.lastSequence();
          events.close();
          System.out.println("disconnected after sequence " + after + "; resuming with StreamRunEvents");
          events = client.resume(runId, after);
          resumed = true;
        }
      }
    } finally {
      events.close();
    }

    System.out.println("final output: " + (finished == null ? "(none)" : finished.getOutput()));

    List<String> problems = new ArrayList<>();
    if (approvals != 1) {
      problems.add("expected 1 approval_requested, saw " + approvals);
    }
    if (clientToolCalls != 1) {
      problems.add("expected 1 client_tool_call_requested, saw " + clientToolCalls);
    }
    for (Map.Entry<String, String> tool : toolNames.entrySet()) {
      if (!results.containsKey(tool.getKey())) {
        problems.add("no tool_call_result for " + tool.getValue() + " (" + tool.getKey() + ")");
      }
    }
    if (!toolNames.containsValue("calculator") || !toolNames.containsValue("lookup_order")) {
      problems.add("expected tool calls of calculator and lookup_order, saw " + toolNames.values());
    }
    results.forEach(
        (id, content) -> {
          if ("calculator".equals(toolNames.get(id)) && !content.contains("57")) {
            problems.add("calculator returned " + content + ", expected 57");
          }
        });
    for (int i = 0; i < sequences.size(); i++) {
      if (sequences.get(i) != i + 1) {
        problems.add("sequences are not 1..N without gaps or repeats: " + sequences);
        break;
      }
    }
    if (!resumed) {
      problems.add("the stream was never dropped and resumed");
    }
    if (runError != null) {
      problems.add("run failed: " + runError);
    }
    if (finished == null) {
      problems.add("no run_finished event");
    } else {
      if (finished.getState() != RunState.RUN_STATE_SUCCEEDED) {
        problems.add("run finished " + finished.getState() + ", expected RUN_STATE_SUCCEEDED");
      }
      if (!FINAL_TEXT.equals(finished.getOutput())) {
        problems.add("output " + quote(finished.getOutput()) + ", expected " + quote(FINAL_TEXT));
      }
    }
    if (!FINAL_TEXT.equals(finalText.toString())) {
      problems.add("final message deltas joined give " + quote(finalText.toString()));
    }
    Run run = client.getRun(runId);
    if (run.getState() != RunState.RUN_STATE_SUCCEEDED || run.getLastSequence() != sequences.size()) {
      problems.add(
          "GetRun: state " + run.getState() + ", last_sequence " + run.getLastSequence()
              + ", expected SUCCEEDED and " + sequences.size());
    }
    System.out.println(
        "run " + runId + ": " + sequences.size() + " events, gap-free across the reconnect");

    // Errors are typed: the gRPC code plus the ErrorInfo reason.
    try {
      client.createAgent(agentId, agent);
      problems.add("creating agent " + agentId + " twice succeeded");
    } catch (RunwireException e) {
      System.out.println("typed error: " + e.code() + " " + e.reason() + " (" + e.domain() + ")");
      if (!e.is(Status.Code.ALREADY_EXISTS, "AGENT_ALREADY_EXISTS")) {
        problems.add("expected ALREADY_EXISTS/AGENT_ALREADY_EXISTS, got " + e.getMessage());
      }
    }
    return problems;
  }

  private static void log(long sequence, String kind, String detail) {
    System.out.println("#" + sequence + " " + kind + (detail.isEmpty() ? "" : " " + detail));
  }

  private static String quote(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
