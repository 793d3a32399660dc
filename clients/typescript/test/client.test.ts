// The client against a real Runwire server (tests/clients/test_typescript_client.py
// starts it and sets RUNWIRE_TEST_ADDRESS, RUNWIRE_TEST_PROXY_ADDRESS,
// RUNWIRE_TEST_PROXY_CONTROL, RUNWIRE_TEST_DRAIN_ADDRESS,
// RUNWIRE_TEST_DRAIN_CONTROL and the connection settings; without them these
// tests are skipped). Every wrapper method is called once at least; the
// resume tests cut the TCP connections of a live stream through the proxy, and
// the drain test has a replica of the drain lab (two replicas on one Redis
// behind a proxy whose POST /drain sends SIGTERM to the active one;
// tests/clients/lab_drain.py) drain for real mid-stream.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

import {
  AgentService,
  ApprovalDecision,
  ApprovalMode,
  ApprovalService,
  ApprovalState,
  ChangeType,
  ErrorInfoSchema,
  ErrorReasons,
  EventProfile,
  EventType,
  isRunwireError,
  MessageRole,
  RunService,
  RunState,
  RunwireClient,
  ToolService,
  ToolSource,
  McpServerState,
  type AgentInit,
  type RunEvent,
  type WatchRunsResponse,
} from "@runwire/client";

const address = process.env["RUNWIRE_TEST_ADDRESS"] ?? "";
const proxyAddress = process.env["RUNWIRE_TEST_PROXY_ADDRESS"] ?? "";
const proxyControl = process.env["RUNWIRE_TEST_PROXY_CONTROL"] ?? "";
const drainAddress = process.env["RUNWIRE_TEST_DRAIN_ADDRESS"] ?? "";
const drainControl = process.env["RUNWIRE_TEST_DRAIN_CONTROL"] ?? "";
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

/** Drains the drain lab's active replica; resolves once it reports NOT_SERVING. */
async function drainReplica(): Promise<string> {
  const response = await fetch(`${drainControl}/drain`, { method: "POST" });
  const answer = await response.text();
  assert.equal(response.status, 200, answer);
  return answer;
}

/** Resolves once `condition()` is true, checking every 20 ms; rejects after `seconds`. */
async function until(condition: () => Promise<boolean>, what: string, seconds = 30): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not true within ${seconds} s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const show = (value: unknown): string => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v));

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

  test("sub-agents: listAgentTools, listTools, a parent's stream with the child run and its approval", async () => {
    // Both agents under the default policy (REQUIRE_ALL): the delegation and the child's calculator call wait.
    const child = id("ts-child");
    await client.createAgent(
      child,
      scripted([{ tool_calls: [{ name: "calculator", arguments: { expression: "6*7" } }] }, { text: "42" }], {
        tools: ["calculator"],
      }),
    );
    const parent = id("ts-parent");
    const script = [{ tool_calls: [{ name: "ask_child", arguments: { prompt: "What is 6*7?" } }] }, { text: "The child says 42." }];
    await client.createAgent(parent, {
      instructions: "test agent",
      model: { provider: "scripted", options: { script: script as never } },
      subAgents: [{ agentId: child, toolName: "ask_child", description: "Asks the child." }],
    });

    const tools = await client.listAgentTools(parent);
    assert.deepEqual(
      tools.map((t) => [t.name, ToolSource[t.source], t.subAgentId, t.requiresApproval]),
      [["ask_child", "SUB_AGENT", child, true]],
    );
    assert.ok(tools[0]?.parameters?.["properties"], show(tools));
    await assert.rejects(client.listAgentTools(id("ts-missing")), (e) => isRunwireError(e, ErrorReasons.AGENT_NOT_FOUND));
    const server = await client.listTools();
    assert.ok(
      server.tools.some((t) => t.name === "calculator" && t.source === ToolSource.BUILTIN),
      show(server.tools.map((t) => t.name)),
    );

    const events: RunEvent[] = [];
    let childRun = "";
    const approvedFor: string[] = []; // the run of each approval approved: "" for the parent's own
    for await (const event of client.streamRun({ agentId: parent, prompt: "delegate" })) {
      events.push(event);
      const payload = event.payload;
      if (payload.case === "subRunStarted") childRun = payload.value.childRunId;
      if (payload.case === "approvalRequested") {
        approvedFor.push(payload.value.runId);
        await client.resolveApproval(payload.value.approvalId, "approve");
      }
    }
    assertGapFree(events);
    const last = events.at(-1)?.payload;
    assert.equal(last?.case === "runFinished" && last.value.output, "The child says 42.");
    assert.notEqual(childRun, "");
    assert.deepEqual(approvedFor, ["", childRun]);
    assert.deepEqual(
      events.map((e) => e.payload.case).filter((k) => k?.startsWith("subRun") || k?.startsWith("approval")),
      ["approvalRequested", "approvalResolved", "subRunStarted", "approvalRequested", "approvalResolved", "subRunFinished"],
    );
    const finished = events.find((e) => e.payload.case === "subRunFinished")?.payload;
    assert.ok(finished?.case === "subRunFinished");
    assert.deepEqual([finished.value.agentId, finished.value.state, finished.value.output], [child, RunState.SUCCEEDED, "42"]);
    const childRecord = await client.getRun(childRun);
    assert.deepEqual([childRecord.parentRunId, childRecord.depth, childRecord.state], [events[0]?.runId, 1, RunState.SUCCEEDED]);
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

  test("waitRun retries after its connection is cut, and one run is started", { skip: proxyAddress === "" }, async () => {
    const text = "waiting is patient ".repeat(6);
    const agentId = id("ts-wait");
    await client.createAgent(agentId, scripted([{ text }], {}, 25));
    const retries: { method: string; attempt: number; code: string }[] = [];
    const through = new RunwireClient(proxyAddress, {
      reconnect: {
        initialBackoffMs: 20,
        maxBackoffMs: 200,
        onRetry: (i) => retries.push({ method: i.method, attempt: i.attempt, code: i.error.codeName }),
      },
    });
    try {
      const waiting = through.waitRun({ agentId, prompt: "p", timeout: { seconds: 30n } });
      // Cut while waitRun waits: once the run exists and is still going.
      await until(async () => {
        const runs = (await client.listRuns({ agentId })).runs;
        return runs.length === 1 && runs[0]?.state === RunState.RUNNING;
      }, "the run is RUNNING");
      assert.ok((await cutConnections()) >= 2);
      const run = await waiting;
      assert.equal(run.state, RunState.SUCCEEDED);
      assert.equal(run.output, text);
      assert.ok(retries.length >= 1, show(retries));
      assert.ok(retries.every((r) => r.method === "WaitRun" && ["UNAVAILABLE", "CANCELLED"].includes(r.code)), show(retries));
      const runs = (await client.listRuns({ agentId })).runs;
      assert.deepEqual(
        runs.map((r) => r.runId),
        [run.runId],
      );
    } finally {
      through.close();
    }
  });

  test("labels, overrides, a filtered stream and a watch, across a cut", { skip: proxyAddress === "" }, async () => {
    const text = "filters keep the whole text ".repeat(6);
    const agentId = id("ts-17");
    const team = id("t");
    await client.createAgent(agentId, { ...scripted([{ text }], {}, 20), labels: { team } });
    const agents = await client.listAgents({ labels: { team } });
    assert.deepEqual(
      agents.agents.map((a) => a.agentId),
      [agentId],
    );

    const retries: string[] = [];
    const resumes: string[] = [];
    const through = new RunwireClient(proxyAddress, {
      reconnect: {
        initialBackoffMs: 20,
        maxBackoffMs: 200,
        onRetry: (i) => retries.push(i.method),
        onResume: (i) => resumes.push(i.runId),
      },
    });
    const watch = through.watchRuns({ labels: { team } });
    const changes: WatchRunsResponse[] = [];
    let synced!: () => void;
    const isSynced = new Promise<void>((resolve) => (synced = resolve));
    let runId = "";
    const watching = (async () => {
      for await (const change of watch) {
        changes.push(change);
        if (change.type === ChangeType.SYNCED) synced();
        if (change.type === ChangeType.ENDED && change.run?.runId === runId) return;
      }
    })();
    try {
      await isSynced;
      // A labelled run with overrides, streamed without deltas; one cut breaks the stream and the watch.
      const stream = through.streamRun({
        agentId,
        prompt: "p",
        labels: { team },
        overrides: { instructions: "Be brief." },
        filter: { profile: EventProfile.NO_DELTAS },
      });
      const events: RunEvent[] = [];
      for await (const event of stream) {
        events.push(event);
        if (events.length === 1) {
          runId = event.runId;
          await cutConnections();
        }
      }
      await watching;
      const last = events.at(-1)?.payload;
      assert.equal(last?.case === "runFinished" && last.value.output, text);
      assert.ok(events.every((e) => e.payload.case !== "textMessageContent"), "a delta came through NO_DELTAS");
      assert.ok(events.every((e, i) => i === 0 || e.sequence > (events[i - 1]?.sequence ?? 0n)));
      const end = events.find((e) => e.payload.case === "textMessageEnd")?.payload;
      assert.equal(end?.case === "textMessageEnd" && end.value.text, text);
      const page = await client.listRunEvents({ runId, filter: { profile: EventProfile.NO_DELTAS }, pageSize: 1000 });
      assert.deepEqual(
        page.events.map((e) => e.sequence),
        events.map((e) => e.sequence),
      );

      const run = await client.getRun(runId);
      assert.equal(run.labels["team"], team);
      assert.equal(run.overrides?.instructions, "Be brief.");
      assert.deepEqual(
        (await client.listRuns({ labels: { team } })).runs.map((r) => r.runId),
        [runId],
      );

      // The watch saw the run created and ended, once each, no cursor twice, across the cut.
      const cursors = changes.map((c) => c.cursor);
      assert.equal(new Set(cursors).size, cursors.length, show(cursors));
      const of = (type: ChangeType): number => changes.filter((c) => c.type === type && c.run?.runId === runId).length;
      assert.equal(of(ChangeType.CREATED), 1, show(changes.map((c) => ChangeType[c.type])));
      assert.equal(of(ChangeType.ENDED), 1);
      assert.ok(resumes.includes(runId), show(resumes));
      assert.ok(retries.includes("WatchRuns"), show(retries));
    } finally {
      watch.cancel();
      through.close();
    }
  });

  test("an approvals inbox: watchApprovals of PENDING ones", async () => {
    const agentId = id("ts-inbox");
    await client.createAgent(
      agentId,
      scripted(
        [{ tool_calls: [{ name: "calculator", arguments: { expression: "6*7" } }] }, { text: "42" }],
        { tools: ["calculator"], approvalPolicy: { mode: ApprovalMode.REQUIRE_ALL } },
      ),
    );
    const inbox = client.watchApprovals({ agentId, states: [ApprovalState.PENDING] });
    const got: string[] = [];
    let runId = "";
    for await (const change of inbox) {
      got.push(ChangeType[change.type]);
      if (change.type === ChangeType.SYNCED) {
        runId = (await client.createRun({ agentId, prompt: "p" })).runId;
      } else if (change.type === ChangeType.CREATED) {
        assert.equal(change.approval?.runId, runId);
        await client.resolveApproval(change.approval?.approvalId ?? "", "approve");
      } else if (change.type === ChangeType.ENDED) {
        assert.equal(change.approval?.state, ApprovalState.APPROVED);
        break;
      }
    }
    assert.deepEqual(got, ["SYNCED", "CREATED", "ENDED"]);
  });

  test("a real drain: the stream resumes on the other replica, createRun retries there", { skip: drainAddress === "" }, async () => {
    const resumed: { runId: string; afterSequence: bigint; reason: string; code: string; metadata: Record<string, string> }[] = [];
    const retries: { method: string; reason: string }[] = [];
    const changes: WatchRunsResponse[] = [];
    const lab = new RunwireClient(drainAddress, {
      reconnect: {
        // A draining replica refuses resumes and new runs until it is gone: be patient.
        maxResumes: 40,
        initialBackoffMs: 20,
        maxBackoffMs: 250,
        onResume: (i) =>
          resumed.push({
            runId: i.runId,
            afterSequence: i.afterSequence,
            reason: i.error.reason,
            code: i.error.codeName,
            metadata: { ...i.error.metadata },
          }),
        onRetry: (i) => retries.push({ method: i.method, reason: i.error.reason }),
      },
    });
    try {
      const text = "draining is graceful ".repeat(12);
      const agentId = id("ts-drain");
      await lab.createAgent(agentId, scripted([{ text }], {}, 25));
      // A watch of the agent's runs, on the same connection: the drain ends it too.
      const watch = lab.watchRuns({ agentId });
      let synced!: () => void;
      const isSynced = new Promise<void>((resolve) => (synced = resolve));
      const ended = new Set<string>();
      let allEnded!: () => void;
      const bothEnded = new Promise<void>((resolve) => (allEnded = resolve));
      const watching = (async () => {
        for await (const change of watch) {
          changes.push(change);
          if (change.type === ChangeType.SYNCED) synced();
          if (change.type === ChangeType.ENDED && change.run) ended.add(change.run.runId);
          if (ended.size === 2) allEnded();
        }
      })();
      await isSynced;
      const stream = lab.streamRun({ agentId, prompt: "p" });
      const events: RunEvent[] = [];
      let created = "";
      for await (const event of stream) {
        events.push(event);
        if (events.length === 6) {
          await drainReplica();
          // The replica this connection reaches refuses new runs now (DRAINING) until it
          // is gone: createRun retries with its requestId and starts the run on the other.
          created = (await lab.createRun({ agentId, prompt: "again" })).runId;
        }
      }
      assertGapFree(events);
      const last = events.at(-1)?.payload;
      assert.equal(last?.case === "runFinished" && last.value.state, RunState.SUCCEEDED);
      assert.equal(last?.case === "runFinished" && last.value.output, text);

      const runId = events[0]?.runId ?? "";
      const draining = resumed.find((r) => r.reason === ErrorReasons.DRAINING);
      assert.ok(draining, show(resumed));
      assert.equal(draining.code, "UNAVAILABLE");
      assert.equal(draining.runId, runId);
      assert.equal(draining.metadata["run_id"], runId);
      assert.equal(draining.metadata["last_sequence"], String(draining.afterSequence));
      assert.ok(draining.afterSequence >= 6n, show(draining));
      assert.ok(
        retries.some((r) => r.method === "CreateRun" && r.reason === ErrorReasons.DRAINING),
        show(retries),
      );

      // The watch, reopened on the other replica, saw both runs created and ended, once each.
      await bothEnded;
      watch.cancel();
      await watching;
      assert.ok(
        retries.some((r) => r.method === "WatchRuns" && r.reason === ErrorReasons.DRAINING),
        show(retries),
      );
      const cursors = changes.map((c) => c.cursor);
      assert.equal(new Set(cursors).size, cursors.length, show(cursors));
      for (const run of [runId, created]) {
        for (const type of [ChangeType.CREATED, ChangeType.ENDED]) {
          assert.equal(changes.filter((c) => c.type === type && c.run?.runId === run).length, 1, show(changes));
        }
      }

      // One run per request: the streamed one and the one createRun started, which succeeds too.
      const runs = (await lab.listRuns({ agentId })).runs.map((r) => r.runId).sort();
      assert.deepEqual(runs, [runId, created].sort());
      const second: RunEvent[] = [];
      for await (const event of lab.resume(created)) second.push(event);
      assertGapFree(second);
      assert.equal(second.at(-1)?.payload.case, "runFinished");
    } finally {
      lab.close();
    }
  });
});

// ---- against a fake server (always run): the watches and the filter on resumes --------------

/** A failure of the fake server: UNAVAILABLE without ErrorInfo (a lost connection) or with a reason. */
function failure(code: Code, reason = "", metadata: Record<string, string> = {}): ConnectError {
  const details = reason ? [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: "runwire.dev", metadata }) }] : [];
  return new ConnectError(reason || "connection lost", code, undefined, details);
}

const CHANGES = [ChangeType.EXISTING, ChangeType.SYNCED, ChangeType.CREATED, ChangeType.UPDATED, ChangeType.ENDED];

describe("against a fake server", () => {
  // Each call of a watch sends the changes after its cursor ("" or "cN"), a heartbeat after
  // each, and ends as scripted: after `cut` changes with `error` (unscripted: it stays open).
  const script: { cut: number; error: ConnectError }[] = [];
  const cursors: string[] = [];
  const filters: string[] = [];
  let server: http2.Http2Server;
  let fake: RunwireClient;

  async function* changes(cursor: string, signal: AbortSignal, make: (type: ChangeType, cursor: string) => object) {
    cursors.push(cursor);
    const step = script.shift();
    const from = cursor === "" ? 1 : Number(cursor.slice(1)) + 1;
    for (let i = from, n = 0; i <= CHANGES.length && n < (step?.cut ?? Infinity); i++, n++) {
      yield make(CHANGES[i - 1] ?? ChangeType.UNSPECIFIED, `c${i}`);
      yield make(ChangeType.HEARTBEAT, `c${i}`);
    }
    if (step) throw step.error;
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  }

  before(async () => {
    const handler = connectNodeAdapter({
      routes: (router) => {
        router.service(RunService, {
          watchRuns: (request, context) =>
            changes(request.cursor, context.signal, (type, cursor) => ({
              type,
              cursor,
              run: type === ChangeType.SYNCED || type === ChangeType.HEARTBEAT ? undefined : { runId: `run_${cursor}`, labels: request.labels },
            })),
          pauseRun: (request) => ({ run: { runId: request.runId, state: RunState.PAUSED } }),
          resumeRun: (request) => {
            if (request.runId === "run_unknown") throw failure(Code.NotFound, ErrorReasons.RUN_NOT_FOUND);
            return { run: { runId: request.runId, state: RunState.RUNNING } };
          },
          async *streamRun(request) {
            filters.push(`StreamRun ${request.filter?.profile ? EventProfile[request.filter.profile] : ""}`);
            yield { event: { runId: "run_1", sequence: 2n, payload: { case: "stateChanged" as const, value: {} } } };
            throw failure(Code.Unavailable);
          },
          async *streamRunEvents(request) {
            filters.push(request.filter?.profile ? EventProfile[request.filter.profile] : String(request.filter?.eventTypes.map((t) => EventType[t])));
            for (const sequence of [request.afterSequence + 2n, request.afterSequence + 4n]) {
              const last = sequence >= 10n;
              yield {
                event: {
                  runId: "run_1",
                  sequence,
                  payload: last
                    ? { case: "runFinished" as const, value: { state: RunState.SUCCEEDED } }
                    : { case: "stateChanged" as const, value: {} },
                },
              };
              if (last) return;
            }
            throw failure(Code.Unavailable);
          },
        });
        router.service(ApprovalService, {
          watchApprovals: (request, context) =>
            changes(request.cursor, context.signal, (type, cursor) => ({
              type,
              cursor,
              approval: type === ChangeType.SYNCED || type === ChangeType.HEARTBEAT ? undefined : { approvalId: `apr_${cursor}` },
            })),
        });
      },
    });
    server = http2.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    fake = new RunwireClient(`127.0.0.1:${port}`, {
      token: "",
      caFile: "",
      clientCertFile: "",
      clientKeyFile: "",
      tls: false,
      reconnect: { initialBackoffMs: 1, maxBackoffMs: 2 },
    });
  });
  after(async () => {
    fake.close();
    await new Promise((resolve) => server.close(resolve));
  });

  test("watchRuns reopens after the last cursor with the same filter: every change once, in order", async () => {
    script.length = cursors.length = 0;
    script.push(
      { cut: 2, error: failure(Code.Unavailable) },
      { cut: 1, error: failure(Code.Unavailable, ErrorReasons.DRAINING) },
      { cut: 0, error: failure(Code.Unavailable) },
    );
    const retries: string[] = [];
    const watch = fake.watchRuns(
      { agentId: "a", labels: { team: "x" } },
      { reconnect: { initialBackoffMs: 1, onRetry: (i) => retries.push(`${i.method} ${i.attempt} ${i.error.reason}`) } },
    );
    const got: string[] = [];
    for await (const change of watch) {
      got.push(`${ChangeType[change.type]} ${change.cursor} ${change.run?.runId ?? ""}`);
      if (change.run) assert.equal(change.run.labels["team"], "x");
      if (change.type === ChangeType.ENDED) break;
    }
    assert.deepEqual(got, ["EXISTING c1 run_c1", "SYNCED c2 ", "CREATED c3 run_c3", "UPDATED c4 run_c4", "ENDED c5 run_c5"]);
    assert.deepEqual(cursors, ["", "c2", "c3", "c3"]);
    assert.deepEqual(retries, ["WatchRuns 1 ", "WatchRuns 1 DRAINING", "WatchRuns 2 "]);
    assert.equal(watch.cursor, "c5");
    assert.equal(watch.reopens, 3);
  });

  test("a watch broken before SYNCED lists again and leaves out what it yielded", async () => {
    script.length = cursors.length = 0;
    script.push({ cut: 1, error: failure(Code.Unavailable) });
    const got: string[] = [];
    const watch = fake.watchRuns();
    for await (const change of watch) {
      got.push(`${ChangeType[change.type]} ${change.cursor}`);
      if (change.type === ChangeType.CREATED) break;
    }
    assert.deepEqual(got, ["EXISTING c1", "SYNCED c2", "CREATED c3"]);
    assert.deepEqual(cursors, ["", ""]);
    assert.equal(watch.synced, true);
  });

  test("watchApprovals throws an expired cursor, and retries are bounded", async () => {
    script.length = cursors.length = 0;
    script.push(
      { cut: 1, error: failure(Code.Unavailable) },
      { cut: 0, error: failure(Code.OutOfRange, ErrorReasons.CURSOR_EXPIRED, { cursor: "c2" }) },
    );
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const change of fake.watchApprovals({ runId: "run_1", cursor: "c1" })) got.push(ChangeType[change.type]);
      })(),
      (e) => isRunwireError(e, ErrorReasons.CURSOR_EXPIRED) && e.codeName === "OUT_OF_RANGE" && e.metadata["cursor"] === "c2",
    );
    assert.deepEqual(got, ["SYNCED"]);
    assert.deepEqual(cursors, ["c1", "c2"]);

    script.length = cursors.length = 0;
    script.push(...[1, 2, 3].map(() => ({ cut: 0, error: failure(Code.Unavailable) })));
    const bounded = fake.watchApprovals({}, { reconnect: { maxResumes: 2, initialBackoffMs: 1 } });
    await assert.rejects(
      (async () => {
        for await (const _ of bounded) assert.fail("no change expected");
      })(),
      (e) => isRunwireError(e) && e.codeName === "UNAVAILABLE",
    );
    assert.equal(cursors.length, 3);
  });

  test("resume() and streamRun's resumes pass the same filter", async () => {
    filters.length = 0;
    const events: bigint[] = [];
    for await (const event of fake.resume("run_1", 0, { filter: { profile: EventProfile.NO_DELTAS } })) {
      events.push(event.sequence);
    }
    // The stream skips numbers (2, 4), is cut, and resumes after 4 with the filter, to the end.
    assert.deepEqual(events, [2n, 4n, 6n, 8n, 10n]);
    assert.deepEqual(filters, ["NO_DELTAS", "NO_DELTAS", "NO_DELTAS"]);
    filters.length = 0;
    for await (const _ of fake.resume("run_1", 6, { filter: { eventTypes: [EventType.RUN_FINISHED] } })) {
      // drained
    }
    assert.deepEqual(filters, ["RUN_FINISHED"]);

    filters.length = 0;
    const streamed: bigint[] = [];
    for await (const event of fake.streamRun({ agentId: "a", prompt: "p", filter: { profile: EventProfile.STATE } })) {
      streamed.push(event.sequence);
    }
    assert.deepEqual(streamed, [2n, 4n, 6n, 8n, 10n]);
    assert.deepEqual(filters, ["StreamRun STATE", "STATE", "STATE"]);
  });

  test("pauseRun and resumeRun", async () => {
    assert.equal((await fake.pauseRun("run_1", "lunch")).state, RunState.PAUSED);
    assert.equal((await fake.resumeRun("run_1")).state, RunState.RUNNING);
    await assert.rejects(fake.resumeRun("run_unknown"), (e) => isRunwireError(e, ErrorReasons.RUN_NOT_FOUND));
  });
});

describe("a sub-agent tree against a fake server", () => {
  // A parent run ("run_parent") delegates to a sub-agent whose run ("run_child") waits for an
  // approval announced in the parent's stream. StreamRun sends events 1..3 (up to the announced
  // approval) and ends with UNAVAILABLE DRAINING; StreamRunEvents sends the rest once it is approved.
  const resolved: string[] = [];
  const resumes: string[] = [];
  let approved: () => void = () => {};
  let approval = new Promise<void>((resolve) => (approved = resolve));
  let server: http2.Http2Server;
  let fake: RunwireClient;

  const payloads = [
    { case: "runStarted" as const, value: { agentId: "parent" } },
    { case: "subRunStarted" as const, value: { childRunId: "run_child", agentId: "child", toolCallId: "call_parent" } },
    {
      case: "approvalRequested" as const,
      value: { approvalId: "apr_child", toolCallId: "call_child", toolName: "calculator", runId: "run_child" },
    },
    {
      case: "approvalResolved" as const,
      value: { approvalId: "apr_child", toolCallId: "call_child", state: ApprovalState.APPROVED, runId: "run_child" },
    },
    {
      case: "subRunFinished" as const,
      value: { childRunId: "run_child", agentId: "child", toolCallId: "call_parent", state: RunState.SUCCEEDED, output: "42" },
    },
    { case: "runFinished" as const, value: { state: RunState.SUCCEEDED, output: "The child says 42." } },
  ];
  const treeEvent = (sequence: number) => ({ event: { runId: "run_parent", sequence: BigInt(sequence), payload: payloads[sequence - 1] } });

  before(async () => {
    const handler = connectNodeAdapter({
      routes: (router) => {
        router.service(RunService, {
          async *streamRun() {
            for (const sequence of [1, 2, 3]) yield treeEvent(sequence);
            throw failure(Code.Unavailable, ErrorReasons.DRAINING);
          },
          async *streamRunEvents(request) {
            resumes.push(`${request.runId} ${request.afterSequence}`);
            await approval;
            for (let sequence = Number(request.afterSequence) + 1; sequence <= payloads.length; sequence++) {
              yield treeEvent(sequence);
            }
          },
        });
        router.service(ApprovalService, {
          resolveApproval: (request) => {
            if (request.approvalId !== "apr_child" || request.decision !== ApprovalDecision.APPROVE) {
              throw failure(Code.NotFound, ErrorReasons.APPROVAL_NOT_FOUND);
            }
            resolved.push(request.approvalId);
            approved();
            return { approval: { approvalId: request.approvalId, runId: "run_child", state: ApprovalState.APPROVED } };
          },
        });
        router.service(AgentService, {
          listAgentTools: (request) => {
            if (request.agentId !== "parent") throw failure(Code.NotFound, ErrorReasons.AGENT_NOT_FOUND);
            return {
              tools: [
                { name: "calculator", source: ToolSource.BUILTIN },
                {
                  name: "ask_child",
                  source: ToolSource.SUB_AGENT,
                  subAgentId: "child",
                  requiresApproval: true,
                  parameters: { type: "object", required: ["prompt"] },
                },
              ],
            };
          },
        });
        router.service(ToolService, {
          listTools: () => ({
            tools: [
              { name: "calculator", source: ToolSource.BUILTIN },
              { name: "docs_search", source: ToolSource.MCP, mcpServer: "docs" },
            ],
            mcpServers: [{ name: "docs", state: McpServerState.CONNECTED, toolNames: ["docs_search"] }],
          }),
        });
      },
    });
    server = http2.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    fake = new RunwireClient(`127.0.0.1:${port}`, {
      token: "",
      caFile: "",
      clientCertFile: "",
      clientKeyFile: "",
      tls: false,
      reconnect: { initialBackoffMs: 1, maxBackoffMs: 2 },
    });
  });
  after(async () => {
    fake.close();
    await new Promise((resolve) => server.close(resolve));
  });

  test("sub_run_* events and an announced approval: approved by id, resumed on the parent's run", async () => {
    resolved.length = resumes.length = 0;
    approval = new Promise<void>((resolve) => (approved = resolve));
    const stream = fake.streamRun({ agentId: "parent", prompt: "p" });
    const got: string[] = [];
    for await (const event of stream) {
      got.push(`${event.sequence} ${event.payload.case}`);
      assert.equal(event.runId, "run_parent");
      if (event.payload.case === "approvalRequested") {
        assert.equal(event.payload.value.runId, "run_child");
        const answer = await fake.resolveApproval(event.payload.value.approvalId, "approve");
        assert.equal(answer.runId, "run_child");
      }
    }
    assert.deepEqual(got, [
      "1 runStarted",
      "2 subRunStarted",
      "3 approvalRequested",
      "4 approvalResolved",
      "5 subRunFinished",
      "6 runFinished",
    ]);
    assert.deepEqual(resolved, ["apr_child"]);
    assert.deepEqual(resumes, ["run_parent 3"]);
    assert.equal(stream.runId, "run_parent");
    assert.equal(stream.resumes, 1);
  });

  test("listAgentTools and listTools", async () => {
    const tools = await fake.listAgentTools("parent");
    assert.deepEqual(
      tools.map((t) => [t.name, ToolSource[t.source], t.subAgentId, t.requiresApproval]),
      [
        ["calculator", "BUILTIN", "", false],
        ["ask_child", "SUB_AGENT", "child", true],
      ],
    );
    assert.equal(tools[1]?.parameters?.["type"], "object");
    await assert.rejects(fake.listAgentTools("missing"), (e) => isRunwireError(e, ErrorReasons.AGENT_NOT_FOUND));
    const server = await fake.listTools();
    assert.deepEqual(
      server.tools.map((t) => [t.name, t.mcpServer]),
      [
        ["calculator", ""],
        ["docs_search", "docs"],
      ],
    );
    assert.deepEqual(
      server.mcpServers.map((m) => [m.name, McpServerState[m.state]]),
      [["docs", "CONNECTED"]],
    );
  });
});
