// A thin, idiomatic TypeScript client for Runwire.
//
// It calls the generated service descriptors (src/gen, protoc-gen-es) over
// real gRPC (HTTP/2, @connectrpc/connect-node) and adds only what the raw
// stubs make awkward: plain async functions, run events as async iterables
// (heartbeats skipped, breaking out of the loop disconnects), resuming after a
// sequence, RunwireError with the gRPC code and the ErrorInfo reason, and the
// connection settings every Runwire client shares: TLS (a CA file, a client
// certificate for mutual TLS) and a bearer token, by default from the
// environment (RUNWIRE_TOKEN, RUNWIRE_CA_FILE, ...).
// Every RPC of the contract has a method here; the raw Connect clients are
// public too (`client.runs.streamRun(...)`) and throw ConnectError, which
// RunwireError.from() converts.

import { readFileSync } from "node:fs";
import type * as http2 from "node:http2";

import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import {
  createClient,
  type CallOptions,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createGrpcTransport,
  Http2SessionManager,
  type GrpcTransportOptions,
} from "@connectrpc/connect-node";

import { RunwireError } from "./errors.js";
import {
  AgentService,
  type Agent,
  type AgentSchema,
  type ListAgentsRequestSchema,
  type ListAgentsResponse,
} from "./gen/runwire/v1/agent_pb.js";
import {
  ApprovalDecision,
  ApprovalService,
  type Approval,
  type ListApprovalsRequestSchema,
  type ListApprovalsResponse,
} from "./gen/runwire/v1/approval_pb.js";
import type { RunEvent } from "./gen/runwire/v1/event_pb.js";
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
} from "./gen/runwire/v1/run_service_pb.js";
import {
  ThreadService,
  type ListThreadMessagesRequestSchema,
  type ListThreadMessagesResponse,
  type Thread,
} from "./gen/runwire/v1/thread_pb.js";

/** The server address used when none is given. */
export const DEFAULT_ADDRESS = "127.0.0.1:50051";

/** An agent definition as accepted by createAgent (plain object, enums from the generated code). */
export type AgentInit = MessageInitShape<typeof AgentSchema>;
/** StreamRun / CreateRun / WaitRun request fields (agentId, prompt, clientTools, threadId, ...). */
export type StreamRunInit = MessageInitShape<typeof StreamRunRequestSchema>;
export type CreateRunInit = MessageInitShape<typeof CreateRunRequestSchema>;
export type WaitRunInit = MessageInitShape<typeof WaitRunRequestSchema>;
/** One answer to a client-executed tool call: { toolCallId, output, isError? }. */
export type ToolOutputInit = MessageInitShape<typeof ToolOutputSchema>;

/** The environment variables every Runwire client reads for its connection settings. */
export const ENV = {
  token: "RUNWIRE_TOKEN",
  caFile: "RUNWIRE_CA_FILE",
  clientCertFile: "RUNWIRE_CLIENT_CERT_FILE",
  clientKeyFile: "RUNWIRE_CLIENT_KEY_FILE",
  serverName: "RUNWIRE_TLS_SERVER_NAME",
} as const;

/**
 * How to reach a server: TLS and a bearer token. Each field left undefined
 * comes from its environment variable (ENV); "" means none.
 */
export interface ConnectionOptions {
  /**
   * Sent as "authorization: Bearer <token>" on every call, unary and
   * streaming (RUNWIRE_TOKEN). Without TLS it travels in clear: use one
   * without TLS only on loopback.
   */
  readonly token?: string;
  /** PEM CA bundle the server's certificate must chain to; turns TLS on (RUNWIRE_CA_FILE). */
  readonly caFile?: string;
  /** PEM client certificate for mutual TLS; turns TLS on (RUNWIRE_CLIENT_CERT_FILE). */
  readonly clientCertFile?: string;
  /** PEM private key of clientCertFile (RUNWIRE_CLIENT_KEY_FILE). */
  readonly clientKeyFile?: string;
  /** Name the server's certificate must carry, instead of the address's host (RUNWIRE_TLS_SERVER_NAME). */
  readonly serverName?: string;
  /**
   * TLS on or off. Default: on when a CA file or a client certificate is set,
   * or the address is an https:// URL; with TLS and no CA file, Node's
   * default roots are trusted.
   */
  readonly tls?: boolean;
}

/** ConnectionOptions with every default applied (see resolveConnection). */
export interface ResolvedConnection {
  readonly token: string;
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  readonly serverName: string;
  readonly tls: boolean;
}

/**
 * The connection settings: each option left undefined taken from `env`
 * (default process.env). Throws an Error for a client certificate without
 * its key (or the reverse), or a client certificate with `tls: false`.
 */
export function resolveConnection(
  options: ConnectionOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedConnection {
  const pick = (value: string | undefined, name: string): string => value ?? env[name] ?? "";
  const caFile = pick(options.caFile, ENV.caFile);
  const clientCertFile = pick(options.clientCertFile, ENV.clientCertFile);
  const clientKeyFile = pick(options.clientKeyFile, ENV.clientKeyFile);
  if ((clientCertFile === "") !== (clientKeyFile === "")) {
    throw new Error("a client certificate needs both its certificate and its key file");
  }
  const tls = options.tls ?? (caFile !== "" || clientCertFile !== "");
  if (clientCertFile !== "" && !tls) {
    throw new Error("a client certificate needs TLS");
  }
  return {
    token: pick(options.token, ENV.token).trim(),
    caFile,
    clientCertFile,
    clientKeyFile,
    serverName: pick(options.serverName, ENV.serverName),
    tls,
  };
}

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

export interface RunwireClientOptions extends ConnectionOptions {
  /**
   * Extra gRPC transport options (interceptors, defaultTimeoutMs, HTTP/2
   * nodeOptions, ...). baseUrl comes from the address; the TLS files of the
   * connection options are added to nodeOptions.
   */
  readonly transport?: Partial<Omit<GrpcTransportOptions, "baseUrl" | "sessionManager">>;
}

/** Options of the event streams (streamRun, resume). */
export interface StreamOptions extends Omit<CallOptions, "signal"> {
  /** Aborting it ends the stream with a RunwireError (code CANCELLED). */
  readonly signal?: AbortSignal;
  /** Also yield heartbeat events (sequence 0). Default: false. */
  readonly heartbeats?: boolean;
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
 * The events of one run, in sequence order, as an async iterable (iterate it
 * once). Heartbeats are skipped unless asked for. Breaking out of the
 * `for await` loop, or calling cancel(), disconnects: the run goes on on the
 * server, and `client.resume(stream.runId, stream.lastSequence)` picks up
 * exactly where this stream stopped. The stream ends after the terminal event
 * (run_finished or run_error). Errors are thrown as RunwireError.
 */
export class RunEventStream implements AsyncIterable<RunEvent> {
  readonly #open: (signal: AbortSignal) => AsyncIterable<EventResponse>;
  readonly #controller = new AbortController();
  readonly #userSignal: AbortSignal | undefined;
  readonly #heartbeats: boolean;
  #runId: string;
  #lastSequence: bigint;
  #iterated = false;

  /** @internal Use RunwireClient.streamRun / RunwireClient.resume. */
  constructor(
    open: (signal: AbortSignal) => AsyncIterable<EventResponse>,
    options: { runId: string; afterSequence: bigint; heartbeats: boolean; signal?: AbortSignal | undefined },
  ) {
    this.#open = open;
    this.#runId = options.runId;
    this.#lastSequence = options.afterSequence;
    this.#heartbeats = options.heartbeats;
    this.#userSignal = options.signal;
  }

  /** The run's id (for streamRun: known once the first event arrived). */
  get runId(): string {
    return this.#runId;
  }

  /** The sequence of the last event yielded (0n before the first); pass it to resume(). */
  get lastSequence(): bigint {
    return this.#lastSequence;
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
    try {
      for await (const response of this.#open(signal)) {
        const event = response.event;
        if (event === undefined) continue;
        if (event.payload.case === "heartbeat") {
          if (this.#heartbeats) yield event;
          continue;
        }
        this.#runId = event.runId;
        this.#lastSequence = event.sequence;
        yield event;
      }
    } catch (error) {
      if (this.#controller.signal.aborted) return; // cancel(): a deliberate disconnect
      throw RunwireError.from(error);
    } finally {
      // Ends the HTTP/2 stream when the consumer stops early (break/return/throw);
      // a no-op after the server ended the call.
      this.#controller.abort();
    }
  }
}

/**
 * A Runwire client on one HTTP/2 connection.
 *
 * ```ts
 * const client = new RunwireClient("127.0.0.1:50051");
 * for await (const event of client.streamRun({ agentId, prompt: "Hi" })) { ... }
 * client.close();
 * ```
 */
export class RunwireClient {
  /** The raw generated clients (they throw ConnectError; see RunwireError.from). */
  readonly agents: Client<typeof AgentService>;
  readonly runs: Client<typeof RunService>;
  readonly approvals: Client<typeof ApprovalService>;
  readonly threads: Client<typeof ThreadService>;
  readonly transport: Transport;
  readonly #sessions: Http2SessionManager;

  /**
   * @param address "host:port" or a URL ("http://host:port" for plaintext,
   *   "https://host:port" for TLS). Default 127.0.0.1:50051.
   * @param options TLS, the bearer token and transport options; each
   *   connection option left undefined comes from the environment
   *   (RUNWIRE_TOKEN, RUNWIRE_CA_FILE, RUNWIRE_CLIENT_CERT_FILE,
   *   RUNWIRE_CLIENT_KEY_FILE, RUNWIRE_TLS_SERVER_NAME). Without a CA file,
   *   a client certificate, `tls: true` or an https:// address the
   *   connection is plaintext. The files are read here; an unreadable file
   *   or a plaintext http:// address with TLS options throws.
   */
  constructor(address: string = DEFAULT_ADDRESS, options: RunwireClientOptions = {}) {
    const https = address.startsWith("https://");
    const connection = resolveConnection(https ? { tls: true, ...options } : options);
    if (address.startsWith("http://") && connection.tls) {
      throw new Error(`${address} is plaintext, but TLS options are set: use https://`);
    }
    const baseUrl = address.includes("://") ? address : `${connection.tls ? "https" : "http"}://${address}`;
    const nodeOptions = connection.tls
      ? secureSessionOptions(connection, options.transport?.nodeOptions)
      : options.transport?.nodeOptions;
    const interceptors = [
      ...(connection.token ? [bearerToken(connection.token)] : []),
      ...(options.transport?.interceptors ?? []),
    ];
    this.#sessions = new Http2SessionManager(baseUrl, options.transport ?? {}, nodeOptions);
    this.transport = createGrpcTransport({
      ...options.transport,
      interceptors,
      baseUrl,
      sessionManager: this.#sessions,
    });
    this.agents = createClient(AgentService, this.transport);
    this.runs = createClient(RunService, this.transport);
    this.approvals = createClient(ApprovalService, this.transport);
    this.threads = createClient(ThreadService, this.transport);
  }

  /** Closes the connection (calls in flight fail). Idle connections never keep Node alive. */
  close(): void {
    this.#sessions.abort();
  }

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

  // ---- runs --------------------------------------------------------------------

  /** Starts a run and returns at once (QUEUED/RUNNING); follow it with resume(run.runId). */
  async createRun(request: CreateRunInit, options?: CallOptions): Promise<Run> {
    const response = await call(this.runs.createRun(request, options));
    return required(response.run, "CreateRunResponse.run");
  }

  /** Starts a run and streams its events from sequence 1 until run_finished or run_error. */
  streamRun(request: StreamRunInit, options: StreamOptions = {}): RunEventStream {
    const { heartbeats = false, signal, ...callOptions } = options;
    return new RunEventStream((s) => this.runs.streamRun(request, { ...callOptions, signal: s }), {
      runId: "",
      afterSequence: 0n,
      heartbeats,
      signal,
    });
  }

  /**
   * Streams a run's events after `afterSequence` (0: from the start): the
   * logged ones first, then live ones until the run ends. Works while the
   * run goes on and after it ended; nothing is lost or doubled.
   */
  resume(runId: string, afterSequence: bigint | number = 0n, options: StreamOptions = {}): RunEventStream {
    const { heartbeats = false, signal, ...callOptions } = options;
    const after = BigInt(afterSequence);
    return new RunEventStream(
      (s) => this.runs.streamRunEvents({ runId, afterSequence: after }, { ...callOptions, signal: s }),
      { runId, afterSequence: after, heartbeats, signal },
    );
  }

  /** Starts a run and waits until it ends, or until request.timeout (then returns the run as it is). */
  async waitRun(request: WaitRunInit, options?: CallOptions): Promise<Run> {
    const response = await call(this.runs.waitRun(request, options));
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

  /** One page of a run's logged events (no waiting for new ones). */
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

  /** Approves or rejects a pending tool call (from an approval_requested event). */
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

/** HTTP/2 session options with the TLS settings of `connection` added to `base`. */
function secureSessionOptions(
  connection: ResolvedConnection,
  base: http2.ClientSessionOptions | http2.SecureClientSessionOptions | undefined,
): http2.SecureClientSessionOptions {
  const options: http2.SecureClientSessionOptions = { ...base };
  if (connection.caFile) options.ca = readFileSync(connection.caFile);
  if (connection.clientCertFile) {
    options.cert = readFileSync(connection.clientCertFile);
    options.key = readFileSync(connection.clientKeyFile);
  }
  if (connection.serverName) options.servername = connection.serverName;
  return options;
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
