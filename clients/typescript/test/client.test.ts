// The client against a real Runwire server (tests/clients/test_typescript_client.py
// starts it and sets RUNWIRE_TEST_ADDRESS, RUNWIRE_TEST_PROXY_ADDRESS,
// RUNWIRE_TEST_PROXY_CONTROL and the connection settings; without them these
// tests are skipped). Every wrapper method is called once at least; the
// resume test cuts the TCP connections of a live stream through the proxy.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import {
  ApprovalMode,
  ApprovalState,
  ErrorReasons,
  isRunwireError,
  MessageRole,
  RunState,
  RunwireClient,
  type AgentInit,
  type RunEvent,
} from "@runwire/client";

const address = process.env["RUNWIRE_TEST_ADDRESS"] ?? "";
const proxyAddress = process.env["RUNWIRE_TEST_PROXY_ADDRESS"] ?? "";
const proxyControl = process.env["RUNWIRE_TEST_PROXY_CONTROL"] ?? "";
const skip = address === "" ? "RUNWIRE_TEST_ADDRESS is not set (tests/clients/test_typescript_client.py sets it)" : false;

interface AgentExtra {
  tools?: string[];
  approvalPolicy?: { mode: ApprovalMode };
}

function scripted(script: unknown[], extra: AgentExtra = {}, delayMs = 0): AgentInit {
  return {
    instructions: "test agent",
    model: { provider: "scripted", options: { script: script as never, chunk_chars: 3, delay_ms: delayMs } },
    tools: extra.tools ?? [],
    ...(extra.approvalPolicy ? { approvalPolicy: extra.approvalPolicy } : {}),
  };
}

const id = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Cuts every connection through the proxy; returns how many sockets were cut. */
async function cutConnections(): Promise<number> {
  const response = await fetch(`${proxyControl}/cut`, { method: "POST" });
  assert.equal(response.status, 200);
  return Number((await response.text()).replace("cut ", ""));
}

function assertGapFree(events: RunEvent[]): void {
  assert.deepEqual(
    events.map((e) => e.sequence),
    events.map((_, i) => BigInt(i + 1)),
  );
}

describe("against a real server", { skip }, () => {
  let client: RunwireClient;
  before(() => {
    client = new RunwireClient(address, { reconnect: { initialBackoffMs: 20, maxBackoffMs: 200 } });
  });
  after(() => client.close());

  test("agents: create, get, list (paged), update with etags, delete", async () => {
    const agentId = id("ts-agent");
    const created = await client.createAgent(agentId, scripted([{ text: "hi" }]));
    assert.equal(created.agentId, agentId);
    assert.notEqual(created.etag, "");
    await assert.rejects(client.createAgent(agentId, scripted([{ text: "hi" }])), (e) =>
      isRunwireError(e, ErrorReasons.AGENT_ALREADY_EXISTS),
    );
    assert.equal((await client.getAgent(agentId)).instructions, "test agent");

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await client.listAgents({ pageSize: 2, pageToken });
      assert.ok(page.agents.length <= 2);
      seen.push(...page.agents.map((a) => a.agentId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.ok(seen.includes(agentId), `${agentId} not listed`);

    const updated = await client.updateAgent({ agentId, instructions: "updated", etag: created.etag }, ["instructions"]);
    assert.equal(updated.instructions, "updated");
    assert.notEqual(updated.etag, created.etag);
    await assert.rejects(
      client.updateAgent({ agentId, instructions: "stale", etag: created.etag }, ["instructions"]),
      (e) => isRunwireError(e, ErrorReasons.ETAG_MISMATCH),
    );
    await client.deleteAgent(agentId);
    await assert.rejects(client.getAgent(agentId), (e) => isRunwireError(e, ErrorReasons.AGENT_NOT_FOUND));
  });

  test("runs: createRun sets a request id, waitRun, getRun, listRuns, listRunEvents, cancelRun", async () => {
    const agentId = id("ts-runs");
    await client.createAgent(agentId, scripted([{ text: "done" }]));
    // The same explicit requestId twice: one run. No requestId: a fresh one each time, two runs.
    const requestId = randomUUID();
    const first = await client.createRun({ agentId, prompt: "p", requestId });
    const again = await client.createRun({ agentId, prompt: "p", requestId });
    assert.equal(again.runId, first.runId);
    const a = await client.createRun({ agentId, prompt: "p" });
    const b = await client.createRun({ agentId, prompt: "p" });
    assert.notEqual(a.runId, b.runId);

    const waited = await client.waitRun({ agentId, prompt: "p", timeout: { seconds: 30n } });
    assert.equal(waited.state, RunState.SUCCEEDED);
    assert.equal(waited.output, "done");
    assert.equal((await client.getRun(waited.runId)).state, RunState.SUCCEEDED);

    const listed = await client.listRuns({ agentId, pageSize: 100 });
    const ids = listed.runs.map((r) => r.runId);
    for (const runId of [first.runId, a.runId, b.runId, waited.runId]) assert.ok(ids.includes(runId));
    assert.equal(ids.length, 4);

    const page = await client.listRunEvents({ runId: waited.runId, pageSize: 1000 });
    assertGapFree(page.events);
    assert.equal(page.events.at(-1)?.payload.case, "runFinished");

    const slowAgent = id("ts-cancel");
    await client.createAgent(slowAgent, scripted([{ text: "x".repeat(300) }], {}, 50));
    const slow = await client.createRun({ agentId: slowAgent, prompt: "p" });
    const cancelling = await client.cancelRun(slow.runId, "test");
    assert.ok([RunState.CANCELLING, RunState.CANCELLED].includes(cancelling.state), RunState[cancelling.state]);
    const events: RunEvent[] = [];
    for await (const event of client.resume(slow.runId, 0)) events.push(event);
    assertGapFree(events);
    const last = events.at(-1)?.payload;
    assert.equal(last?.case, "runFinished");
    assert.equal(last.case === "runFinished" && last.value.state, RunState.CANCELLED);
  });

  test("approvals and a client tool: streamRun, listApprovals, getApproval, resolveApproval, submitToolOutputs", async () => {
    const agentId = id("ts-approve");
    await client.createAgent(
      agentId,
      scripted(
        [
          { tool_calls: [{ name: "calculator", arguments: { expression: "6 * 7" } }] },
          { tool_calls: [{ name: "lookup", arguments: { key: "k" } }] },
          { text: "42" },
        ],
        { tools: ["calculator"], approvalPolicy: { mode: ApprovalMode.REQUIRE_ALL } },
      ),
    );
    const stream = client.streamRun({
      agentId,
      prompt: "p",
      clientTools: [{ name: "lookup", description: "looks up", parameters: { type: "object" } }],
    });
    const events: RunEvent[] = [];
    for await (const event of stream) {
      events.push(event);
      const payload = event.payload;
      if (payload.case === "approvalRequested") {
        const pending = await client.listApprovals({ runId: event.runId, state: ApprovalState.PENDING });
        assert.deepEqual(
          pending.approvals.map((x) => x.approvalId),
          [payload.value.approvalId],
        );
        const approval = await client.getApproval(payload.value.approvalId);
        assert.equal(approval.toolName, "calculator");
        const resolved = await client.resolveApproval(payload.value.approvalId, "approve");
        assert.equal(resolved.state, ApprovalState.APPROVED);
      } else if (payload.case === "clientToolCallRequested") {
        await client.submitToolOutputs(event.runId, [{ toolCallId: payload.value.toolCallId, output: "v" }]);
      }
    }
    assertGapFree(events);
    const last = events.at(-1)?.payload;
    assert.equal(last?.case === "runFinished" && last.value.output, "42");
    assert.equal(stream.resumes, 0);
    assert.equal(stream.lastSequence, BigInt(events.length));
  });

  test("threads: createThread, a run on it, getThread, listThreadMessages, deleteThread", async () => {
    const agentId = id("ts-thread");
    await client.createAgent(agentId, scripted([{ text: "hello back" }]));
    const threadId = id("ts-thread");
    const thread = await client.createThread(threadId, { purpose: "test" });
    assert.equal(thread.threadId, threadId);
    assert.equal((await client.getThread(threadId)).metadata["purpose"], "test");
    const run = await client.waitRun({ agentId, threadId, prompt: "hello", timeout: { seconds: 30n } });
    assert.equal(run.state, RunState.SUCCEEDED);
    const messages = await client.listThreadMessages({ threadId });
    assert.deepEqual(
      messages.messages.map((m) => [m.role, m.content]),
      [
        [MessageRole.USER, "hello"],
        [MessageRole.ASSISTANT, "hello back"],
      ],
    );
    await client.deleteThread(threadId);
    await assert.rejects(client.getThread(threadId), (e) => isRunwireError(e, ErrorReasons.THREAD_NOT_FOUND));
  });

  test("a stream whose connection is cut resumes by itself, with no gap and no duplicate", { skip: proxyAddress === "" }, async () => {
    const text = "resuming is seamless ".repeat(10);
    const agentId = id("ts-resume");
    await client.createAgent(agentId, scripted([{ text }], {}, 20));
    const through = new RunwireClient(proxyAddress, { reconnect: { initialBackoffMs: 20, maxBackoffMs: 200 } });
    const resumed: { runId: string; afterSequence: bigint; attempt: number; code: string }[] = [];
    try {
      const stream = through.streamRun(
        { agentId, prompt: "p" },
        { reconnect: { initialBackoffMs: 20, onResume: (i) => resumed.push({ ...i, code: i.error.codeName }) } },
      );
      const events: RunEvent[] = [];
      let cuts = 0;
      for await (const event of stream) {
        events.push(event);
        if (events.length === 5 || events.length === 25) cuts += await cutConnections();
      }
      assert.ok(cuts >= 4, `only ${cuts} sockets cut`);
      assertGapFree(events);
      const last = events.at(-1)?.payload;
      assert.equal(last?.case === "runFinished" && last.value.output, text);
      assert.equal(stream.resumes, resumed.length);
      assert.ok(resumed.length >= 2, JSON.stringify(resumed, (_, v) => (typeof v === "bigint" ? String(v) : v)));
      assert.ok(resumed.every((r) => ["UNAVAILABLE", "CANCELLED"].includes(r.code) && r.runId === events[0]?.runId));
      // Events received before a cut are still delivered: each resume comes after its cut point.
      assert.ok((resumed[0]?.afterSequence ?? 0n) >= 5n);
      assert.ok((resumed.at(-1)?.afterSequence ?? 0n) >= 25n);
      // The run on the server agrees.
      const run = await client.getRun(events[0]?.runId ?? "");
      assert.equal(run.lastSequence, BigInt(events.length));
    } finally {
      through.close();
    }
  });

  test("resume() resumes too, and gives up after maxResumes", { skip: proxyAddress === "" }, async () => {
    const agentId = id("ts-resume2");
    await client.createAgent(agentId, scripted([{ text: "abc".repeat(40) }], {}, 20));
    const run = await client.createRun({ agentId, prompt: "p" });
    const through = new RunwireClient(proxyAddress);
    try {
      const events: RunEvent[] = [];
      const stream = through.resume(run.runId, 0, { reconnect: { initialBackoffMs: 20 } });
      for await (const event of stream) {
        events.push(event);
        if (events.length === 3) await cutConnections();
      }
      assertGapFree(events);
      assert.ok(stream.resumes >= 1);

      // maxResumes 0: the cut surfaces (UNAVAILABLE, or CANCELLED from an HTTP/2 reset) without a reason.
      const run2 = await client.createRun({ agentId, prompt: "p" });
      const strict = through.resume(run2.runId, 0, { reconnect: { maxResumes: 0 } });
      await assert.rejects(
        (async () => {
          for await (const event of strict) {
            if (event.sequence === 2n) await cutConnections();
          }
        })(),
        (e) => isRunwireError(e) && ["UNAVAILABLE", "CANCELLED"].includes(e.codeName) && e.reason === "",
      );
      assert.equal(strict.resumes, 0);
    } finally {
      through.close();
    }
  });
});
