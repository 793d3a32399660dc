// Runwire quickstart (TypeScript): an agent with a server tool that needs an
// approval (calculator) and a tool this program executes (lookup_order). The
// run is streamed, the approval granted, the client tool answered, the
// stream deliberately dropped in the middle of the final answer and resumed
// after the last sequence seen. Exits 0 only if every expected step happened.
//
//   cd clients/typescript && npm ci && npm run build
//   node dist/examples/quickstart.js 127.0.0.1:50051
//
// TLS and the bearer token come from the environment, as in every Runwire
// client: RUNWIRE_TOKEN, RUNWIRE_CA_FILE, RUNWIRE_CLIENT_CERT_FILE,
// RUNWIRE_CLIENT_KEY_FILE, RUNWIRE_TLS_SERVER_NAME (plaintext without them).

import { randomUUID } from "node:crypto";

import {
  ApprovalMode,
  RunState,
  RunwireClient,
  RunwireError,
  type RunEvent,
  type RunEventStream,
  type RunFinished,
} from "@runwire/client";

const FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57.";

/** Deltas of the final message to read before dropping the stream. */
const DELTAS_BEFORE_DISCONNECT = 3;

/** The lookup_order tool, executed here in the client. */
function lookupOrder(argumentsJson: string): string {
  const args = JSON.parse(argumentsJson) as { order_id?: unknown };
  return JSON.stringify({ order_id: String(args.order_id), status: "shipped", items: 3 });
}

/** What the program saw, checked at the end. */
interface Seen {
  runId: string;
  sequences: bigint[];
  toolNames: Map<string, string>; // tool_call_id -> tool name
  results: Map<string, string>; // tool_call_id -> result
  approvals: number;
  clientToolCalls: number;
  messages: number;
  finalDeltas: number;
  resumed: boolean;
  finished?: RunFinished;
  runError?: string;
}

function log(sequence: bigint, kind: string, detail = ""): void {
  console.log(`[${sequence}] ${kind}${detail ? ` ${detail}` : ""}`);
}

/**
 * Reads `stream` until it ends, answering approvals and client tool calls.
 * Returns "disconnected" when it dropped the stream on purpose.
 */
async function follow(client: RunwireClient, stream: RunEventStream, seen: Seen): Promise<"ended" | "disconnected"> {
  for await (const event of stream) {
    await handle(client, event, seen);
    if (!seen.resumed && seen.messages === 2 && seen.finalDeltas === DELTAS_BEFORE_DISCONNECT) {
      return "disconnected"; // leaving the loop cancels the gRPC stream; the run goes on
    }
  }
  return "ended";
}

async function handle(client: RunwireClient, event: RunEvent, seen: Seen): Promise<void> {
  const seq = event.sequence;
  seen.sequences.push(seq);
  seen.runId = event.runId;
  const payload = event.payload;
  switch (payload.case) {
    case "runStarted":
      log(seq, "run_started", `run ${event.runId}`);
      break;
    case "textMessageStart":
      seen.messages++;
      log(seq, "text_message_start", `message ${seen.messages}`);
      break;
    case "textMessageContent":
      log(seq, "text_message_content", JSON.stringify(payload.value.delta));
      if (seen.messages === 2) seen.finalDeltas++;
      break;
    case "toolCallStart":
      seen.toolNames.set(payload.value.toolCallId, payload.value.toolCallName);
      log(seq, "tool_call_start", payload.value.toolCallName);
      break;
    case "approvalRequested": {
      seen.approvals++;
      const { approvalId, toolName, arguments: args } = payload.value;
      log(seq, "approval_requested", `${toolName} ${args}`);
      await client.resolveApproval(approvalId, "approve");
      console.log(`  -> approved ${approvalId}`);
      break;
    }
    case "clientToolCallRequested": {
      seen.clientToolCalls++;
      const { toolCallId, toolName, arguments: args } = payload.value;
      log(seq, "client_tool_call_requested", `${toolName} ${args}`);
      const output = lookupOrder(args);
      await client.submitToolOutputs(event.runId, [{ toolCallId, output }]);
      console.log(`  -> submitted ${output}`);
      break;
    }
    case "toolCallResult":
      seen.results.set(payload.value.toolCallId, payload.value.content);
      log(seq, "tool_call_result", `${seen.toolNames.get(payload.value.toolCallId) ?? "?"} -> ${payload.value.content}`);
      break;
    case "runFinished":
      seen.finished = payload.value;
      log(seq, "run_finished", `${RunState[payload.value.state]} ${JSON.stringify(payload.value.output)}`);
      break;
    case "runError":
      seen.runError = payload.value.error?.message ?? "(no message)";
      log(seq, "run_error", seen.runError);
      break;
    default:
      log(seq, snake(payload.case ?? "unknown"));
  }
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function problemsOf(seen: Seen): string[] {
  const problems: string[] = [];
  if (seen.approvals !== 1) problems.push(`expected 1 approval_requested, saw ${seen.approvals}`);
  if (seen.clientToolCalls !== 1) problems.push(`expected 1 client_tool_call_requested, saw ${seen.clientToolCalls}`);
  const names = [...seen.toolNames.values()];
  if (!names.includes("calculator") || !names.includes("lookup_order")) {
    problems.push(`expected tool calls of calculator and lookup_order, saw [${names.join(", ")}]`);
  }
  for (const [id, name] of seen.toolNames) {
    const result = seen.results.get(id);
    if (result === undefined) problems.push(`no tool_call_result for ${name} (${id})`);
    else if (name === "calculator" && !result.includes("57")) problems.push(`calculator returned ${result}, expected 57`);
  }
  if (!seen.sequences.every((s, i) => s === BigInt(i + 1))) {
    problems.push(`sequences are not 1..N without gaps or repeats: ${seen.sequences.join(",")}`);
  }
  if (!seen.resumed) problems.push("the stream was never dropped and resumed");
  if (seen.runError !== undefined) problems.push(`run failed: ${seen.runError}`);
  if (seen.finished === undefined) {
    problems.push("no run_finished event");
  } else {
    if (seen.finished.state !== RunState.SUCCEEDED) {
      problems.push(`run finished ${RunState[seen.finished.state]}, expected SUCCEEDED`);
    }
    if (seen.finished.output !== FINAL_TEXT) {
      problems.push(`final output ${JSON.stringify(seen.finished.output)}, expected ${JSON.stringify(FINAL_TEXT)}`);
    }
  }
  return problems;
}

async function main(address: string): Promise<string[]> {
  const client = new RunwireClient(address);
  try {
    const agentId = `quickstart-${randomUUID().slice(0, 8)}`;
    await client.createAgent(agentId, {
      displayName: "TypeScript quickstart",
      instructions: "You look up orders and do arithmetic.",
      model: {
        provider: "scripted",
        options: {
          // Turn 1: text and two tool calls (calculator needs an approval; lookup_order is ours).
          // Turn 2: the final answer, streamed 4 characters every 30 ms.
          script: [
            {
              text: "Checking the order and the total.",
              tool_calls: [
                { name: "calculator", arguments: { expression: "19 * 3" } },
                { name: "lookup_order", arguments: { order_id: "A-17" } },
              ],
            },
            { text: FINAL_TEXT },
          ],
          chunk_chars: 4,
          delay_ms: 30,
        },
      },
      tools: ["calculator"],
      approvalPolicy: { mode: ApprovalMode.REQUIRE_ALL },
    });
    console.log(`agent ${agentId} created (scripted model, tool calculator, approvals required)`);

    const seen: Seen = {
      runId: "",
      sequences: [],
      toolNames: new Map(),
      results: new Map(),
      approvals: 0,
      clientToolCalls: 0,
      messages: 0,
      finalDeltas: 0,
      resumed: false,
    };
    const stream = client.streamRun({
      agentId,
      prompt: "Where is order A-17, and what do 3 items at 19 cost?",
      clientTools: [
        {
          name: "lookup_order",
          description: "Looks up an order by id.",
          parameters: { type: "object", properties: { order_id: { type: "string" } }, required: ["order_id"] },
        },
      ],
    });
    if ((await follow(client, stream, seen)) === "disconnected") {
      // Drop the connection in the middle of the final answer, then resume where we were.
      console.log(`disconnected after sequence ${stream.lastSequence}; resuming with StreamRunEvents`);
      seen.resumed = true;
      await follow(client, client.resume(stream.runId, stream.lastSequence), seen);
    }
    console.log(`run ${seen.runId}`);
    console.log(`final output: ${seen.finished?.output ?? "(none)"}`);
    return problemsOf(seen);
  } finally {
    client.close();
  }
}

const address = process.argv[2] ?? "127.0.0.1:50051";
try {
  const problems = await main(address);
  if (problems.length === 0) {
    console.log("OK: every expected step happened");
    process.exitCode = 0;
  } else {
    for (const problem of problems) console.log(`FAILED: ${problem}`);
    process.exitCode = 1;
  }
} catch (error) {
  if (error instanceof RunwireError) {
    console.log(`FAILED: call failed with ${error.codeName} (reason ${error.reason || "none"}): ${error.rawMessage}`);
  } else {
    console.log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  process.exitCode = 2;
}
