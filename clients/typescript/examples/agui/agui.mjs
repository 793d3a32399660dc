// AG-UI's HttpAgent (@ag-ui/client) against Runwire's AG-UI endpoint.
//
// Four scenarios, each on its own agent and thread: a text answer, a server
// tool, a frontend tool round trip (the browser runs the tool; its result goes
// back in the next request), and an approval (an AG-UI interrupt answered with
// `resume`). Prints one "OK" line per scenario; exits non-zero on the first
// failure.
//
// Environment:
//   RUNWIRE_AGUI_URL       the endpoint's base, e.g. http://127.0.0.1:8080/agui
//   RUNWIRE_TOKEN          a bearer token (optional when the server has no auth)
//   RUNWIRE_AGUI_AGENTS    JSON: {"text": id, "tool": id, "frontend": id, "approval": id}

import { randomUUID } from "node:crypto";
import assert from "node:assert/strict";
import { HttpAgent } from "@ag-ui/client";

const base = process.env.RUNWIRE_AGUI_URL;
const token = process.env.RUNWIRE_TOKEN;
const agents = JSON.parse(process.env.RUNWIRE_AGUI_AGENTS ?? "{}");
if (!base) throw new Error("RUNWIRE_AGUI_URL is required");

/** An HttpAgent for one Runwire agent, on a fresh thread, with a user message. */
function agentFor(agentId, prompt) {
  const agent = new HttpAgent({
    url: `${base}/${agentId}`,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    threadId: `agui-example-${randomUUID()}`,
  });
  agent.addMessage({ id: randomUUID(), role: "user", content: prompt });
  return agent;
}

/** Runs the agent; returns what the run produced and how it finished. */
async function run(agent, params = {}) {
  const seen = { types: [], finished: undefined };
  const { result, newMessages } = await agent.runAgent(params, {
    onEvent: ({ event }) => {
      seen.types.push(event.type);
    },
    onRunFinishedEvent: (finished) => {
      seen.finished = finished;
    },
  });
  assert.equal(seen.types[0], "RUN_STARTED");
  assert.equal(seen.types.at(-1), "RUN_FINISHED");
  return { result, newMessages, ...seen };
}

function lastAssistantText(agent) {
  const texts = agent.messages.filter((m) => m.role === "assistant" && m.content);
  return texts.at(-1)?.content;
}

async function textAnswer() {
  const agent = agentFor(agents.text, "Say hello");
  const { result, finished, types } = await run(agent);
  assert.equal(finished.outcome, "success");
  assert.equal(result, "Hello from Runwire over AG-UI.");
  assert.equal(lastAssistantText(agent), "Hello from Runwire over AG-UI.");
  assert.ok(types.includes("TEXT_MESSAGE_CONTENT"));
  assert.equal(agent.state.runwire.state, "SUCCEEDED");
  console.log(`OK text answer: ${result}`);
}

async function serverTool() {
  const agent = agentFor(agents.tool, "What is 6*7?");
  const { newMessages, finished } = await run(agent);
  assert.equal(finished.outcome, "success");
  const call = newMessages.flatMap((m) => m.toolCalls ?? [])[0];
  assert.equal(call.function.name, "calculator");
  assert.deepEqual(JSON.parse(call.function.arguments), { expression: "6*7" });
  const toolMessage = newMessages.find((m) => m.role === "tool");
  assert.equal(toolMessage.toolCallId, call.id);
  assert.equal(toolMessage.content, "42");
  assert.equal(lastAssistantText(agent), "6*7 = 42");
  console.log(`OK server tool: calculator -> ${toolMessage.content}; ${lastAssistantText(agent)}`);
}

async function frontendTool() {
  const tools = [
    {
      name: "lookup_order",
      description: "Looks an order up in the browser's store.",
      parameters: {
        type: "object",
        properties: { order_id: { type: "string" } },
        required: ["order_id"],
      },
    },
  ];
  const agent = agentFor(agents.frontend, "Where is order A-17?");
  const first = await run(agent, { tools });
  assert.equal(first.finished.outcome, "success");
  assert.equal(first.finished.pendingToolCallIds.length, 1);
  const callId = first.finished.pendingToolCallIds[0];
  const call = agent.messages.flatMap((m) => m.toolCalls ?? []).find((c) => c.id === callId);
  assert.equal(call.function.name, "lookup_order");
  assert.equal(agent.state.runwire.state, "REQUIRES_ACTION");

  // The frontend runs the tool and sends its result with the next run.
  const order = JSON.parse(call.function.arguments).order_id;
  agent.addMessage({ id: randomUUID(), role: "tool", toolCallId: callId, content: `${order}: shipped` });
  const second = await run(agent, { tools });
  assert.equal(second.finished.outcome, "success");
  assert.deepEqual(second.finished.pendingToolCallIds ?? [], []);
  assert.equal(lastAssistantText(agent), "Order A-17 has shipped.");
  assert.equal(agent.state.runwire.state, "SUCCEEDED");
  console.log(`OK frontend tool: lookup_order(${order}) answered by the frontend; ${lastAssistantText(agent)}`);
}

async function approval() {
  const agent = agentFor(agents.approval, "What is 6*7?");
  const first = await run(agent);
  assert.equal(first.finished.outcome, "interrupt");
  assert.equal(agent.pendingInterrupts.length, 1);
  const interrupt = agent.pendingInterrupts[0];
  assert.equal(interrupt.reason, "tool_approval");
  assert.ok(interrupt.id.startsWith("apr_"));

  const second = await run(agent, {
    resume: [{ interruptId: interrupt.id, status: "resolved", payload: { approved: true } }],
  });
  assert.equal(second.finished.outcome, "success");
  assert.equal(agent.pendingInterrupts.length, 0);
  const toolMessage = second.newMessages.find((m) => m.role === "tool");
  assert.equal(toolMessage.content, "42");
  assert.equal(lastAssistantText(agent), "The answer is 42.");
  console.log(`OK approval: interrupt ${interrupt.id} approved -> ${toolMessage.content}; ${lastAssistantText(agent)}`);
}

for (const scenario of [textAnswer, serverTool, frontendTool, approval]) {
  await scenario();
}
console.log("AG-UI example: all scenarios passed");
