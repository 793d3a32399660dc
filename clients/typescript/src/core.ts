// The transport-independent core of the Runwire client, shared by the Node
// entry point (@runwire/client: gRPC over HTTP/2, client.ts) and the browser
// one (@runwire/client/web: Connect over fetch, web.ts).
//
// RunwireClientBase calls the generated service descriptors (src/gen,
// protoc-gen-es) over any Connect `Transport` and adds only what the raw
// stubs make awkward: plain async functions, run events as async iterables
// (heartbeats skipped, breaking out of the loop disconnects), resuming after a
// sequence, createRun / waitRun retries, and RunwireError with the gRPC code
// and the ErrorInfo reason. It imports nothing from node:* and needs only what
// Node >= 20 and current browsers both have (fetch-era globals:
// AbortSignal.any, crypto.getRandomValues).

import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  type CallOptions,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";

import { ErrorReasons, RunwireError } from "./errors.js";
import {
  AgentService,
  type Agent,
  type AgentSchema,
  type AgentTool,
  type ListAgentsRequestSchema,
  type ListAgentsResponse,
} from "./gen/runwire/v1/agent_pb.js";
import {
  ApprovalDecision,
  ApprovalService,
  type Approval,
  type ListApprovalsRequestSchema,
  type ListApprovalsResponse,
  type WatchApprovalsRequestSchema,
  type WatchApprovalsResponse,
} from "./gen/runwire/v1/approval_pb.js";
import type { EventFilterSchema, RunEvent } from "./gen/runwire/v1/event_pb.js";
import type { Run, ToolOutputSchema } from "./gen/runwire/v1/run_pb.js";
import {
  RunService,
  type CreateRunRequestSchema,
  type ListRunEventsRequestSchema,
  type ListRunEventsResponse,
  type ListRunsRequestSchema,
  type ListRunsResponse,
  type StreamRunRequestSchema,
  type WaitRunRequestSchema,
  type WatchRunsRequestSchema,
  type WatchRunsResponse,
} from "./gen/runwire/v1/run_service_pb.js";
import {
  ThreadService,
  type ListThreadMessagesRequestSchema,
  type ListThreadMessagesResponse,
  type Thread,
} from "./gen/runwire/v1/thread_pb.js";
import { ToolService, type ListToolsResponse } from "./gen/runwire/v1/tool_pb.js";
import { ChangeType } from "./gen/runwire/v1/watch_pb.js";

/** An agent definition as accepted by createAgent (plain object, enums from the generated code). */
export type AgentInit = MessageInitShape<typeof AgentSchema>;
/** StreamRun / CreateRun / WaitRun request fields (agentId, prompt, clientTools, threadId, ...). */
export type StreamRunInit = MessageInitShape<typeof StreamRunRequestSchema>;
export type CreateRunInit = MessageInitShape<typeof CreateRunRequestSchema>;
export type WaitRunInit = MessageInitShape<typeof WaitRunRequestSchema>;
/** One answer to a client-executed tool call: { toolCallId, output, isError? }. */
export type ToolOutputInit = MessageInitShape<typeof ToolOutputSchema>;
/** The events a stream or a page sends: { profile } or { eventTypes } (default: every event). */
export type EventFilterInit = MessageInitShape<typeof EventFilterSchema>;
/** WatchRuns request fields (agentId, threadId, states, labels, cursor). */
export type WatchRunsInit = MessageInitShape<typeof WatchRunsRequestSchema>;
/** WatchApprovals request fields (runId, agentId, states, cursor). */
export type WatchApprovalsInit = MessageInitShape<typeof WatchApprovalsRequestSchema>;

/** An interceptor that sends "authorization: Bearer <token>" on every call (a header the call sets wins). */
export function bearerToken(token: string): Interceptor {
  const value = `Bearer ${token}`;
  return (next) => async (request) => {
    if (!request.header.has("authorization")) {
      request.header.set("authorization", value);
    }
    return next(request);
  };
}

/** Options of the event streams (streamRun, resume). */
export interface StreamOptions extends Omit<CallOptions, "signal"> {
  /** Aborting it ends the stream with a RunwireError (code CANCELLED). */
  readonly signal?: AbortSignal;
  /** Also yield heartbeat events (sequence 0). Default: false. */
  readonly heartbeats?: boolean;
  /** How this stream resumes after DRAINING or a lost connection. Default: the client's. */
  readonly reconnect?: ReconnectPolicy;
  /**
   * resume() only: the events to stream, { profile } or { eventTypes } (for
   * streamRun, set request.filter). Only matching events come, with their log
   * sequences; the terminal event always. Each resume passes the same filter.
   */
  readonly filter?: EventFilterInit;
}

/** Options of the watches (watchRuns, watchApprovals). */
export interface WatchOptions extends Omit<CallOptions, "signal"> {
  /** Aborting it ends the watch with a RunwireError (code CANCELLED). */
  readonly signal?: AbortSignal;
  /** Also yield heartbeats (CHANGE_TYPE_HEARTBEAT). Default: false. */
  readonly heartbeats?: boolean;
  /** How this watch reopens after DRAINING or a lost connection. Default: the client's. */
  readonly reconnect?: ReconnectPolicy;
}

/** Options of resolveApproval. */
export interface ResolveOptions extends CallOptions {
  /** Why; the model sees it on a rejection. */
  readonly reason?: string;
  /** With "approve": run the tool with these arguments instead of the model's. */
  readonly editedArguments?: JsonObject;
}

type EventResponse = { event?: RunEvent | undefined };

/**
 * How event streams resume by themselves after they end with UNAVAILABLE and
 * reason DRAINING (the server shuts down gracefully) or UNAVAILABLE without
 * ErrorInfo (the connection was lost): StreamRunEvents is reopened after the
 * last sequence seen, so every event is yielded once, in order, with no gap.
 * createRun and waitRun retry such a failure under the same bounds.
 */
export interface ReconnectPolicy {
  /**
   * Resumes in a row that bring no new event (a new event resets the count);
   * after that the error is thrown. It bounds the retries of one createRun or
   * waitRun alike. 0: never resume or retry. Default 8.
   */
  readonly maxResumes?: number;
  /** Wait before the first resume, in ms; doubles for each further one in a row. Default 100. */
  readonly initialBackoffMs?: number;
  /** Longest wait, in ms; each wait is 50 to 100 % of the nominal one (jitter). Default 3,000. */
  readonly maxBackoffMs?: number;
  /**
   * Called before each resume: the run's id ("" while streamRun has seen no
   * event: StreamRun is then retried with the same requestId), the sequence
   * resumed after, the 1-based attempt in a row and the error that ended the stream.
   */
  readonly onResume?: (info: { runId: string; afterSequence: bigint; attempt: number; error: RunwireError }) => void;
  /**
   * Called before each retry of a run-creating call (createRun, waitRun: the
   * same request, requestId included, so the server returns the run the first
   * attempt started, if it did) and each reopening of a watch (after its last
   * cursor): the RPC's name ("CreateRun", "WaitRun", "WatchRuns",
   * "WatchApprovals"), the 1-based attempt in a row and the error that failed
   * the call.
   */
  readonly onRetry?: (info: { method: string; attempt: number; error: RunwireError }) => void;
}

const DEFAULT_RECONNECT = { maxResumes: 8, initialBackoffMs: 100, maxBackoffMs: 3000 } as const;

/**
 * True when `error` ends an event stream in a way a resume fixes: UNAVAILABLE
 * with reason DRAINING, or UNAVAILABLE without ErrorInfo (a lost
 * connection). UNAVAILABLE with another reason (RUNTIME_UNAVAILABLE) is not.
 */
export function isResumable(error: unknown): boolean {
  if (!(error instanceof RunwireError)) return false;
  return error.code === Code.Unavailable && (error.reason === "" || error.reason === ErrorReasons.DRAINING);
}

/**
 * Calls `attempt` until it succeeds, fails with an error that is not
 * resumable (a lost connection reported as CANCELLED counts as resumable
 * unless `signal` aborted), or `policy`'s retries are used up; waits the
 * policy's backoff between attempts. Only for calls safe to repeat.
 */
async function retrying<T>(
  method: string,
  policy: ReconnectPolicy,
  signal: AbortSignal | undefined,
  attempt: () => Promise<T>,
): Promise<T> {
  const maxRetries = policy.maxResumes ?? DEFAULT_RECONNECT.maxResumes;
  for (let n = 1; ; n++) {
    let failure: RunwireError;
    try {
      return await attempt();
    } catch (error) {
      failure = RunwireError.from(error);
    }
    const aborted = signal?.aborted ?? false;
    const lost = failure.code === Code.Canceled && !aborted;
    if (!(isResumable(failure) || lost) || aborted || n > maxRetries) throw failure;
    policy.onRetry?.({ method, attempt: n, error: failure });
    try {
      await sleep(backoffMs(policy, n), signal ?? new AbortController().signal);
    } catch {
      throw failure;
    }
  }
}

/** A random UUID (version 4): the requestId the run methods set when the request has none. */
export function newRequestId(): string {
  const webCrypto = globalThis.crypto;
  // randomUUID exists only in secure contexts (https://, localhost) of a browser.
  if (typeof webCrypto.randomUUID === "function") return webCrypto.randomUUID();
  const bytes = webCrypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // variant 10xx
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The wait before resume number `attempt` (1-based), in ms. */
function backoffMs(policy: ReconnectPolicy, attempt: number): number {
  const initial = policy.initialBackoffMs ?? DEFAULT_RECONNECT.initialBackoffMs;
  const ceiling = policy.maxBackoffMs ?? DEFAULT_RECONNECT.maxBackoffMs;
  const nominal = Math.min(ceiling, initial * 2 ** Math.min(attempt - 1, 30));
  return nominal / 2 + Math.random() * (nominal / 2);
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Opens one stream of a run's events: StreamRun while runId is "", else StreamRunEvents after `after`. */
type StreamOpener = (signal: AbortSignal, runId: string, after: bigint) => AsyncIterable<EventResponse>;

/**
 * The events of one run, in sequence order, as an async iterable (iterate it
 * once). Heartbeats are skipped unless asked for. A stream that ends with
 * UNAVAILABLE (DRAINING, or a lost connection) is resumed by itself after
 * the last sequence seen (ReconnectPolicy); an event already yielded is never
 * yielded again. Breaking out of the `for await` loop, or calling cancel(),
 * disconnects: the run goes on on the server, and
 * `client.resume(stream.runId, stream.lastSequence)` picks up exactly where
 * this stream stopped. The stream ends after the terminal event (run_finished
 * or run_error). Errors are thrown as RunwireError.
 */
export class RunEventStream implements AsyncIterable<RunEvent> {
  readonly #open: StreamOpener;
  readonly #controller = new AbortController();
  readonly #userSignal: AbortSignal | undefined;
  readonly #heartbeats: boolean;
  readonly #reconnect: ReconnectPolicy;
  #runId: string;
  #lastSequence: bigint;
  #resumes = 0;
  #iterated = false;

  /** @internal Use RunwireClient.streamRun / RunwireClient.resume. */
  constructor(
    open: StreamOpener,
    options: {
      runId: string;
      afterSequence: bigint;
      heartbeats: boolean;
      signal?: AbortSignal | undefined;
      reconnect?: ReconnectPolicy | undefined;
    },
  ) {
    this.#open = open;
    this.#runId = options.runId;
    this.#lastSequence = options.afterSequence;
    this.#heartbeats = options.heartbeats;
    this.#userSignal = options.signal;
    this.#reconnect = options.reconnect ?? {};
  }

  /** The run's id (for streamRun: known once the first event arrived). */
  get runId(): string {
    return this.#runId;
  }

  /** The sequence of the last event yielded (0n before the first); pass it to resume(). */
  get lastSequence(): bigint {
    return this.#lastSequence;
  }

  /** How many times this stream resumed by itself so far. */
  get resumes(): number {
    return this.#resumes;
  }

  /** Disconnects: the iteration ends quietly; the run goes on on the server. */
  cancel(): void {
    this.#controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RunEvent, void, undefined> {
    if (this.#iterated) {
      throw new Error("a RunEventStream can be iterated once; use client.resume() to stream again");
    }
    this.#iterated = true;
    const signal = this.#userSignal
      ? AbortSignal.any([this.#controller.signal, this.#userSignal])
      : this.#controller.signal;
    const maxResumes = this.#reconnect.maxResumes ?? DEFAULT_RECONNECT.maxResumes;
    let attempts = 0;
    try {
      for (;;) {
        // One stream: StreamRun (first, or again before any event) or StreamRunEvents.
        const attempt = new AbortController();
        const streamSignal = AbortSignal.any([signal, attempt.signal]);
        let failure: RunwireError;
        try {
          for await (const response of this.#open(streamSignal, this.#runId, this.#lastSequence)) {
            const event = response.event;
            if (event === undefined) continue;
            if (event.payload.case === "heartbeat") {
              if (this.#heartbeats) yield event;
              continue;
            }
            if (event.sequence <= this.#lastSequence) continue; // already yielded
            this.#runId = event.runId;
            this.#lastSequence = event.sequence;
            attempts = 0;
            yield event;
            const kind = event.payload.case;
            if (kind === "runFinished" || kind === "runError") return;
          }
          return; // the server ended the stream (OK)
        } catch (error) {
          if (this.#controller.signal.aborted) return; // cancel(): a deliberate disconnect
          failure = RunwireError.from(error);
        } finally {
          attempt.abort(); // ends this HTTP/2 stream; a no-op after the server ended it
        }
        if (this.#runId === "" && failure.metadata["run_id"]) this.#runId = failure.metadata["run_id"];
        attempts += 1;
        // Node reports a connection lost mid-stream as an HTTP/2 CANCEL, that is
        // CANCELLED although nobody here cancelled: a lost connection as well.
        const lost = failure.code === Code.Canceled && !signal.aborted;
        if (!(isResumable(failure) || lost) || signal.aborted || attempts > maxResumes) throw failure;
        this.#reconnect.onResume?.({
          runId: this.#runId,
          afterSequence: this.#lastSequence,
          attempt: attempts,
          error: failure,
        });
        this.#resumes += 1;
        try {
          await sleep(backoffMs(this.#reconnect, attempts), signal);
        } catch {
          if (this.#controller.signal.aborted) return;
          throw failure;
        }
      }
    } finally {
      this.#controller.abort();
    }
  }
}

/** One message of a watch: what both WatchRunsResponse and WatchApprovalsResponse have. */
interface WatchMessage {
  readonly type: ChangeType;
  readonly cursor: string;
  readonly run?: { readonly runId: string } | undefined;
  readonly approval?: { readonly approvalId: string } | undefined;
}

/**
 * A watch (watchRuns, watchApprovals) as an async iterable of changes
 * (iterate it once): without a starting cursor, every matching resource
 * (CHANGE_TYPE_EXISTING), then one CHANGE_TYPE_SYNCED, then each change as it
 * happens (CREATED, UPDATED, ENDED). Heartbeats are skipped unless asked for
 * (their cursor is kept). A watch that ends with UNAVAILABLE (DRAINING, or a
 * lost connection), or that the server ends, is reopened by itself
 * (ReconnectPolicy; onRetry is told): after the cursor of the last message
 * received once SYNCED was seen (or when it began at a cursor); before that it
 * lists again and leaves out the resources it already yielded as EXISTING.
 * Nothing is missed or yielded twice. OUT_OF_RANGE with reason CURSOR_EXPIRED (the cursor is older than
 * the changes the server keeps; watch again without one) and any other error
 * are thrown as RunwireError. Breaking out of the loop, or cancel(), ends it
 * quietly; `cursor` is where a later watch can resume.
 */
export class WatchStream<T extends WatchMessage> implements AsyncIterable<T> {
  readonly #method: string;
  readonly #open: (signal: AbortSignal, cursor: string) => AsyncIterable<T>;
  readonly #controller = new AbortController();
  readonly #userSignal: AbortSignal | undefined;
  readonly #heartbeats: boolean;
  readonly #reconnect: ReconnectPolicy;
  #cursor: string;
  #synced: boolean;
  #reopens = 0;
  #iterated = false;

  /** @internal Use RunwireClient.watchRuns / RunwireClient.watchApprovals. */
  constructor(
    method: string,
    open: (signal: AbortSignal, cursor: string) => AsyncIterable<T>,
    options: { cursor: string; heartbeats: boolean; signal?: AbortSignal | undefined; reconnect: ReconnectPolicy },
  ) {
    this.#method = method;
    this.#open = open;
    this.#cursor = options.cursor;
    this.#synced = options.cursor !== "";
    this.#heartbeats = options.heartbeats;
    this.#userSignal = options.signal;
    this.#reconnect = options.reconnect;
  }

  /** The cursor of the last message received ("" before the first, unless the watch began at one). */
  get cursor(): string {
    return this.#cursor;
  }

  /** Whether SYNCED was seen (or the watch began at a cursor). */
  get synced(): boolean {
    return this.#synced;
  }

  /** How many times this watch reopened by itself so far. */
  get reopens(): number {
    return this.#reopens;
  }

  /** Ends the watch: the iteration ends quietly. */
  cancel(): void {
    this.#controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    if (this.#iterated) {
      throw new Error("a WatchStream can be iterated once; watch again from its cursor");
    }
    this.#iterated = true;
    const signal = this.#userSignal
      ? AbortSignal.any([this.#controller.signal, this.#userSignal])
      : this.#controller.signal;
    const maxRetries = this.#reconnect.maxResumes ?? DEFAULT_RECONNECT.maxResumes;
    let attempts = 0;
    let listed = new Set<string>(); // EXISTING resources yielded before SYNCED
    try {
      for (;;) {
        const attempt = new AbortController();
        let failure: RunwireError;
        try {
          const from = this.#synced ? this.#cursor : "";
          for await (const message of this.#open(AbortSignal.any([signal, attempt.signal]), from)) {
            attempts = 0;
            if (message.cursor !== "") this.#cursor = message.cursor;
            if (message.type === ChangeType.HEARTBEAT) {
              if (this.#heartbeats) yield message;
              continue;
            }
            if (!this.#synced && message.type === ChangeType.EXISTING) {
              const key = message.run?.runId ?? message.approval?.approvalId ?? "";
              if (listed.has(key)) continue; // yielded before this listing
              listed.add(key);
            } else if (message.type === ChangeType.SYNCED) {
              this.#synced = true;
              listed = new Set();
            }
            yield message;
          }
          throw new RunwireError(new ConnectError("the server ended the watch", Code.Unavailable));
        } catch (error) {
          if (this.#controller.signal.aborted) return; // cancel()
          failure = RunwireError.from(error);
        } finally {
          attempt.abort();
        }
        attempts += 1;
        const lost = failure.code === Code.Canceled && !signal.aborted;
        if (!(isResumable(failure) || lost) || signal.aborted || attempts > maxRetries) throw failure;
        this.#reconnect.onRetry?.({ method: this.#method, attempt: attempts, error: failure });
        this.#reopens += 1;
        try {
          await sleep(backoffMs(this.#reconnect, attempts), signal);
        } catch {
          if (this.#controller.signal.aborted) return;
          throw failure;
        }
      }
    } finally {
      this.#controller.abort();
    }
  }
}

/** Options of RunwireClientBase. */
export interface RunwireClientBaseOptions {
  /** How event streams resume after DRAINING or a lost connection (default: 8 resumes in a row, 100 ms to 3 s apart). */
  readonly reconnect?: ReconnectPolicy;
}

/**
 * A Runwire client over any Connect `Transport`: every RPC of the contract,
 * event streams that resume by themselves, typed errors. RunwireClient (Node,
 * gRPC over HTTP/2) and RunwireWebClient (@runwire/client/web, Connect over
 * fetch) build their transport and extend it; give it your own transport
 * (createGrpcWebTransport, a transport with your interceptors, a test
 * transport) to use it directly.
 *
 * ```ts
 * const client = new RunwireClientBase(createConnectTransport({ baseUrl: "http://127.0.0.1:8081" }));
 * for await (const event of client.streamRun({ agentId, prompt: "Hi" })) { ... }
 * ```
 */
export class RunwireClientBase {
  /** The raw generated clients (they throw ConnectError; see RunwireError.from). */
  readonly agents: Client<typeof AgentService>;
  readonly runs: Client<typeof RunService>;
  readonly approvals: Client<typeof ApprovalService>;
  readonly threads: Client<typeof ThreadService>;
  readonly tools: Client<typeof ToolService>;
  /** The transport every call goes through. */
  readonly transport: Transport;
  /** The reconnect policy of the event streams (a stream's own options win). */
  readonly reconnect: ReconnectPolicy;

  /**
   * @param transport Any Connect transport (gRPC, gRPC-Web or Connect); the
   *   client adds no interceptor of its own, so put the bearer token
   *   (bearerToken(token)) in the transport's interceptors.
   * @param options The reconnect policy of the event streams, watches,
   *   createRun and waitRun.
   */
  constructor(transport: Transport, options: RunwireClientBaseOptions = {}) {
    this.transport = transport;
    this.reconnect = options.reconnect ?? {};
    this.agents = createClient(AgentService, transport);
    this.runs = createClient(RunService, transport);
    this.approvals = createClient(ApprovalService, transport);
    this.threads = createClient(ThreadService, transport);
    this.tools = createClient(ToolService, transport);
  }

  /**
   * Releases what the transport holds. Here: nothing (a fetch-based transport
   * keeps no connection of its own); RunwireClient closes its HTTP/2 connection.
   */
  close(): void {}

  // ---- agents ----------------------------------------------------------------

  /** Creates an agent under a caller-chosen id (ALREADY_EXISTS / AGENT_ALREADY_EXISTS if taken). */
  async createAgent(agentId: string, agent: AgentInit, options?: CallOptions): Promise<Agent> {
    const response = await call(this.agents.createAgent({ agentId, agent }, options));
    return required(response.agent, "CreateAgentResponse.agent");
  }

  async getAgent(agentId: string, options?: CallOptions): Promise<Agent> {
    const response = await call(this.agents.getAgent({ agentId }, options));
    return required(response.agent, "GetAgentResponse.agent");
  }

  async listAgents(
    request: MessageInitShape<typeof ListAgentsRequestSchema> = {},
    options?: CallOptions,
  ): Promise<ListAgentsResponse> {
    return call(this.agents.listAgents(request, options));
  }

  /** Updates the fields named by updateMask (all updatable fields when omitted); agent.agentId names the agent. */
  async updateAgent(
    agent: AgentInit,
    updateMask?: string[] | FieldMask,
    options?: CallOptions,
  ): Promise<Agent> {
    const mask = Array.isArray(updateMask) ? { paths: updateMask } : updateMask;
    const response = await call(this.agents.updateAgent({ agent, updateMask: mask }, options));
    return required(response.agent, "UpdateAgentResponse.agent");
  }

  async deleteAgent(agentId: string, options?: CallOptions): Promise<void> {
    await call(this.agents.deleteAgent({ agentId }, options));
  }

  /**
   * The tools a run of the agent offers its model, in that order
   * (ListAgentTools): server tools (built-in, Python), the tools of its MCP
   * toolsets ("<server>_<tool>") and its sub-agents (source
   * ToolSource.SUB_AGENT, subAgentId set), each with its JSON Schema
   * (parameters) and whether a call needs an approval (requiresApproval).
   * NOT_FOUND (AGENT_NOT_FOUND) if the agent is unknown.
   */
  async listAgentTools(agentId: string, options?: CallOptions): Promise<AgentTool[]> {
    const response = await call(this.agents.listAgentTools({ agentId }, options));
    return response.tools;
  }

  // ---- tools ---------------------------------------------------------------------

  /**
   * The server's tools (built-in, registered Python, and those of each MCP
   * server it reached) and its configured MCP servers with their state, each
   * ordered by name (ToolService.ListTools).
   */
  async listTools(options?: CallOptions): Promise<ListToolsResponse> {
    return call(this.tools.listTools({}, options));
  }

  // ---- runs --------------------------------------------------------------------

  /**
   * Starts a run and returns at once (QUEUED/RUNNING); follow it with
   * resume(run.runId). request.labels tag the run (listRuns and watchRuns
   * filter on them; run.labels); request.overrides change the agent for this
   * run only (more instructions, sampling, tighter limits; run.overrides).
   * A requestId is set when the request has none, so a
   * retry of the same request returns the same run. A call that fails with
   * UNAVAILABLE (DRAINING, or a lost connection, even after the server got
   * it) is retried by itself with that requestId, per the client's reconnect
   * policy (onRetry is told).
   */
  async createRun(request: CreateRunInit, options?: CallOptions): Promise<Run> {
    const withId = { ...request, requestId: request.requestId || newRequestId() };
    const response = await retrying("CreateRun", this.reconnect, options?.signal, () =>
      this.runs.createRun(withId, options),
    );
    return required(response.run, "CreateRunResponse.run");
  }

  /**
   * Starts a run and streams its events from sequence 1 until run_finished or
   * run_error, resuming by itself after DRAINING or a lost connection
   * (options.reconnect, else the client's). A requestId is set when the
   * request has none, so a retry never starts a second run. With
   * request.filter ({ profile } or { eventTypes }) only the matching events
   * come, with the sequences of the run's log (a filtered stream skips
   * numbers); the terminal event always comes, and each resume passes the
   * same filter. request.labels tag the run and request.overrides change the
   * agent for this run only, as in createRun.
   */
  streamRun(request: StreamRunInit, options: StreamOptions = {}): RunEventStream {
    // options.filter is resume()'s: a run started here streams request.filter.
    const { heartbeats = false, signal, reconnect, filter: _resumeOnly, ...callOptions } = options;
    const withId = { ...request, requestId: request.requestId || newRequestId() };
    const filter = request.filter;
    const open: StreamOpener = (s, runId, after) =>
      runId === ""
        ? this.runs.streamRun(withId, { ...callOptions, signal: s })
        : this.runs.streamRunEvents({ runId, afterSequence: after, filter }, { ...callOptions, signal: s });
    return new RunEventStream(open, {
      runId: "",
      afterSequence: 0n,
      heartbeats,
      signal,
      reconnect: reconnect ?? this.reconnect,
    });
  }

  /**
   * Streams a run's events after `afterSequence` (0: from the start): the
   * logged ones first, then live ones until the run ends. Works while the
   * run goes on and after it ended; nothing is lost or doubled, also across
   * the resumes after DRAINING or a lost connection. options.filter chooses
   * the events (as request.filter of streamRun).
   */
  resume(runId: string, afterSequence: bigint | number = 0n, options: StreamOptions = {}): RunEventStream {
    const { heartbeats = false, signal, reconnect, filter, ...callOptions } = options;
    const after = BigInt(afterSequence);
    return new RunEventStream(
      (s, id, last) =>
        this.runs.streamRunEvents({ runId: id, afterSequence: last, filter }, { ...callOptions, signal: s }),
      { runId, afterSequence: after, heartbeats, signal, reconnect: reconnect ?? this.reconnect },
    );
  }

  /**
   * Starts a run and waits until it ends, requires action, is paused, or request.timeout
   * passes (then returns the run as it is). A requestId is set when the
   * request has none, and a call that fails with UNAVAILABLE (DRAINING, or a
   * lost connection) is retried as in createRun: the retry waits for the same
   * run, request.timeout again.
   */
  async waitRun(request: WaitRunInit, options?: CallOptions): Promise<Run> {
    const withId = { ...request, requestId: request.requestId || newRequestId() };
    const response = await retrying("WaitRun", this.reconnect, options?.signal, () =>
      this.runs.waitRun(withId, options),
    );
    return required(response.run, "WaitRunResponse.run");
  }

  async getRun(runId: string, options?: CallOptions): Promise<Run> {
    const response = await call(this.runs.getRun({ runId }, options));
    return required(response.run, "GetRunResponse.run");
  }

  async listRuns(
    request: MessageInitShape<typeof ListRunsRequestSchema> = {},
    options?: CallOptions,
  ): Promise<ListRunsResponse> {
    return call(this.runs.listRuns(request, options));
  }

  async cancelRun(runId: string, reason = "", options?: CallOptions): Promise<Run> {
    const response = await call(this.runs.cancelRun({ runId, reason }, options));
    return required(response.run, "CancelRunResponse.run");
  }

  /**
   * Asks a run to pause at its next safe point (before its next model call, or
   * before the tool calls of the reply in flight); it then logs state_changed
   * PAUSED and waits for resumeRun. Returns the run when the request is
   * recorded (usually still RUNNING); a paused or ended run comes back unchanged.
   */
  async pauseRun(runId: string, reason = "", options?: CallOptions): Promise<Run> {
    const response = await call(this.runs.pauseRun({ runId, reason }, options));
    return required(response.run, "PauseRunResponse.run");
  }

  /**
   * Continues a PAUSED run (or withdraws a pause it has not reached yet);
   * not to be confused with resume(), which streams events.
   */
  async resumeRun(runId: string, options?: CallOptions): Promise<Run> {
    const response = await call(this.runs.resumeRun({ runId }, options));
    return required(response.run, "ResumeRunResponse.run");
  }

  /**
   * Watches the caller's runs that match the request (agentId, threadId,
   * states, labels; they combine with AND): every matching run
   * (CHANGE_TYPE_EXISTING), SYNCED, then each change (CREATED, UPDATED, ENDED;
   * change.run is the run after it); with request.cursor only the changes
   * after it. Reopens itself after the last cursor on DRAINING or a lost
   * connection; throws OUT_OF_RANGE (CURSOR_EXPIRED) and other errors. See WatchStream.
   */
  watchRuns(request: WatchRunsInit = {}, options: WatchOptions = {}): WatchStream<WatchRunsResponse> {
    const { heartbeats = false, signal, reconnect, ...callOptions } = options;
    return new WatchStream<WatchRunsResponse>(
      "WatchRuns",
      (s, cursor) => this.runs.watchRuns({ ...request, cursor }, { ...callOptions, signal: s }),
      { cursor: request.cursor ?? "", heartbeats, signal, reconnect: reconnect ?? this.reconnect },
    );
  }

  /** One page of a run's logged events (no waiting for new ones); request.filter chooses them. */
  async listRunEvents(
    request: MessageInitShape<typeof ListRunEventsRequestSchema>,
    options?: CallOptions,
  ): Promise<ListRunEventsResponse> {
    return call(this.runs.listRunEvents(request, options));
  }

  /** Answers client-executed tool calls (from client_tool_call_requested events); the run resumes. */
  async submitToolOutputs(runId: string, toolOutputs: ToolOutputInit[], options?: CallOptions): Promise<Run> {
    const response = await call(this.runs.submitToolOutputs({ runId, toolOutputs }, options));
    return required(response.run, "SubmitToolOutputsResponse.run");
  }

  // ---- approvals -----------------------------------------------------------------

  /**
   * Approves or rejects a pending tool call (from an approval_requested
   * event). A sub-agent's approval announced in its parent's stream
   * (approvalRequested.runId is the child's run) is resolved the same way, by
   * its approval id.
   */
  async resolveApproval(
    approvalId: string,
    decision: "approve" | "reject" | ApprovalDecision,
    options: ResolveOptions = {},
  ): Promise<Approval> {
    const { reason = "", editedArguments, ...callOptions } = options;
    const value =
      decision === "approve"
        ? ApprovalDecision.APPROVE
        : decision === "reject"
          ? ApprovalDecision.REJECT
          : decision;
    const response = await call(
      this.approvals.resolveApproval({ approvalId, decision: value, reason, editedArguments }, callOptions),
    );
    return required(response.approval, "ResolveApprovalResponse.approval");
  }

  async getApproval(approvalId: string, options?: CallOptions): Promise<Approval> {
    const response = await call(this.approvals.getApproval({ approvalId }, options));
    return required(response.approval, "GetApprovalResponse.approval");
  }

  async listApprovals(
    request: MessageInitShape<typeof ListApprovalsRequestSchema> = {},
    options?: CallOptions,
  ): Promise<ListApprovalsResponse> {
    return call(this.approvals.listApprovals(request, options));
  }

  /**
   * Watches the caller's approvals that match the request (runId, agentId,
   * states) like watchRuns: EXISTING, SYNCED, then CREATED and ENDED
   * (change.approval). An approver's inbox: `watchApprovals({ states:
   * [ApprovalState.PENDING] })`, where each approval arrives (CREATED) and
   * leaves (ENDED). See WatchStream.
   */
  watchApprovals(request: WatchApprovalsInit = {}, options: WatchOptions = {}): WatchStream<WatchApprovalsResponse> {
    const { heartbeats = false, signal, reconnect, ...callOptions } = options;
    return new WatchStream<WatchApprovalsResponse>(
      "WatchApprovals",
      (s, cursor) => this.approvals.watchApprovals({ ...request, cursor }, { ...callOptions, signal: s }),
      { cursor: request.cursor ?? "", heartbeats, signal, reconnect: reconnect ?? this.reconnect },
    );
  }

  // ---- threads -------------------------------------------------------------------

  /** Creates a thread; threadId "" lets the server choose one. */
  async createThread(threadId = "", metadata: Record<string, string> = {}, options?: CallOptions): Promise<Thread> {
    const response = await call(this.threads.createThread({ threadId, metadata }, options));
    return required(response.thread, "CreateThreadResponse.thread");
  }

  async getThread(threadId: string, options?: CallOptions): Promise<Thread> {
    const response = await call(this.threads.getThread({ threadId }, options));
    return required(response.thread, "GetThreadResponse.thread");
  }

  async listThreadMessages(
    request: MessageInitShape<typeof ListThreadMessagesRequestSchema>,
    options?: CallOptions,
  ): Promise<ListThreadMessagesResponse> {
    return call(this.threads.listThreadMessages(request, options));
  }

  async deleteThread(threadId: string, options?: CallOptions): Promise<void> {
    await call(this.threads.deleteThread({ threadId }, options));
  }
}

/** Awaits a unary call, turning its failure into a RunwireError. */
async function call<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    throw RunwireError.from(error);
  }
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new Error(`Runwire server sent no ${field}`);
  }
  return value;
}
