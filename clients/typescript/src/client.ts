// The Node entry point's client: RunwireClient, the core client (core.ts)
// over real gRPC (HTTP/2, @connectrpc/connect-node), with the connection
// settings every Runwire client shares: TLS (a CA file, a client certificate
// for mutual TLS) and a bearer token, by default from the environment
// (RUNWIRE_TOKEN, RUNWIRE_CA_FILE, ...).
// Every RPC of the contract has a method (RunwireClientBase); the raw Connect
// clients are public too (`client.runs.streamRun(...)`) and throw
// ConnectError, which RunwireError.from() converts. The browser entry point
// (@runwire/client/web, web.ts) shares everything but this file.

import { readFileSync } from "node:fs";
import type * as http2 from "node:http2";

import {
  createGrpcTransport,
  Http2SessionManager,
  type GrpcTransportOptions,
} from "@connectrpc/connect-node";

import { bearerToken, RunwireClientBase, type ReconnectPolicy } from "./core.js";

/** The server address used when none is given. */
export const DEFAULT_ADDRESS = "127.0.0.1:50051";

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

export interface RunwireClientOptions extends ConnectionOptions {
  /**
   * Extra gRPC transport options (interceptors, defaultTimeoutMs, HTTP/2
   * nodeOptions, ...). baseUrl comes from the address; the TLS files of the
   * connection options are added to nodeOptions.
   */
  readonly transport?: Partial<Omit<GrpcTransportOptions, "baseUrl" | "sessionManager">>;
  /** How event streams resume after DRAINING or a lost connection (default: 8 resumes in a row, 100 ms to 3 s apart). */
  readonly reconnect?: ReconnectPolicy;
}

/**
 * A Runwire client on one HTTP/2 connection (gRPC), for Node.
 *
 * ```ts
 * const client = new RunwireClient("127.0.0.1:50051");
 * for await (const event of client.streamRun({ agentId, prompt: "Hi" })) { ... }
 * client.close();
 * ```
 */
export class RunwireClient extends RunwireClientBase {
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
    const sessions = new Http2SessionManager(baseUrl, options.transport ?? {}, nodeOptions);
    const transport = createGrpcTransport({
      ...options.transport,
      interceptors,
      baseUrl,
      sessionManager: sessions,
    });
    super(transport, { reconnect: options.reconnect });
    this.#sessions = sessions;
  }

  /** Closes the connection (calls in flight fail). Idle connections never keep Node alive. */
  override close(): void {
    this.#sessions.abort();
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
