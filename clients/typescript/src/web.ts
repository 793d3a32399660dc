// Runwire's TypeScript client for browsers (@runwire/client/web): the client
// core (core.ts) over the Connect protocol on fetch (@connectrpc/connect-web),
// against the server's HTTP listener (`runwire serve --http-listen`, setting
// http_listen), JSON or binary. It imports nothing from node:* and reads no
// environment: the token is given. A page served from another origin than the
// listener needs that origin in the server's http_cors_allowed_origins.
//
// Everything else is the same as in @runwire/client: the methods, the event
// streams and their resumes, RunwireError, the generated messages and enums.
// fetch reports a lost connection (before the answer or mid-stream) as a
// TypeError, which Connect would turn into UNKNOWN; the transport reports it as
// UNAVAILABLE instead (lostConnectionsUnavailable), so event streams resume
// after it by themselves, as after DRAINING and as in Node.

import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, type ConnectTransportOptions } from "@connectrpc/connect-web";

import { bearerToken, RunwireClientBase, type ReconnectPolicy } from "./core.js";

export * from "./exports.js";

/** Options of RunwireWebClient and createWebTransport. */
export interface RunwireWebClientOptions {
  /**
   * Sent as "authorization: Bearer <token>" on every call; "" or undefined:
   * none. A page holds it in clear: give a browser a token of its own, with
   * the least roles it needs, and use https:// beyond loopback.
   */
  readonly token?: string;
  /** Protobuf binary instead of JSON on the wire. Default: false (JSON, readable in the network panel). */
  readonly useBinaryFormat?: boolean;
  /**
   * Extra Connect transport options (interceptors, defaultTimeoutMs, fetch,
   * jsonOptions, ...). The token's interceptor runs first.
   */
  readonly transport?: Partial<Omit<ConnectTransportOptions, "baseUrl" | "useBinaryFormat">>;
  /** How event streams resume after DRAINING (default: 8 resumes in a row, 100 ms to 3 s apart). */
  readonly reconnect?: ReconnectPolicy;
}

/**
 * A Connect transport (fetch) to a Runwire HTTP listener.
 *
 * @param baseUrl The listener's URL, for example "http://127.0.0.1:8081"
 *   (calls go to `${baseUrl}/runwire.v1.RunService/StreamRun`, ...); "/" or a
 *   path on the page's own origin works too.
 * @param options The token, the wire format and further transport options.
 */
export function createWebTransport(baseUrl: string, options: RunwireWebClientOptions = {}): Transport {
  const interceptors: Interceptor[] = [
    ...(options.token ? [bearerToken(options.token.trim())] : []),
    ...(options.transport?.interceptors ?? []),
  ];
  return createConnectTransport({
    ...options.transport,
    baseUrl,
    useBinaryFormat: options.useBinaryFormat ?? false,
    interceptors,
    fetch: lostConnectionsUnavailable(options.transport?.fetch ?? ((input, init) => globalThis.fetch(input, init))),
  });
}

/**
 * `fetch` with a lost connection reported as ConnectError UNAVAILABLE (no
 * details), the code the client's resume logic treats as a lost connection:
 * fetch rejects with a TypeError when the connection fails before the answer,
 * and the answer's body rejects reads with one when it drops mid-stream.
 * Aborts (the caller's signal) and every other error pass through unchanged.
 *
 * @param fetch The fetch to wrap (globalThis.fetch, or the transport option's).
 */
export function lostConnectionsUnavailable(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  return async (input, init) => {
    const signal = init?.signal ?? undefined;
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      throw asUnavailable(error, signal);
    }
    const body = response.body;
    if (body === null) return response;
    const reader = body.getReader();
    const guarded = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const chunk = await reader.read();
          if (chunk.done) controller.close();
          else controller.enqueue(chunk.value);
        } catch (error) {
          controller.error(asUnavailable(error, signal));
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return new Response(guarded, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** `error` as UNAVAILABLE when it is fetch's network TypeError and `signal` did not abort. */
function asUnavailable(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted === true || !(error instanceof TypeError)) return error;
  return new ConnectError(`the connection to the server was lost: ${error.message}`, Code.Unavailable);
}

/**
 * A Runwire client for browsers: the Connect protocol over fetch to the
 * server's HTTP listener.
 *
 * ```ts
 * import { RunwireWebClient } from "@runwire/client/web";
 * const client = new RunwireWebClient("http://127.0.0.1:8081", { token });
 * for await (const event of client.streamRun({ agentId, prompt: "Hi" })) { ... }
 * ```
 */
export class RunwireWebClient extends RunwireClientBase {
  /** The listener's URL the calls go to. */
  readonly baseUrl: string;

  /**
   * @param baseUrl The HTTP listener's URL ("http://host:port", "https://host:port",
   *   or a path on the page's origin).
   * @param options The bearer token, JSON (default) or binary, transport
   *   options and the reconnect policy.
   */
  constructor(baseUrl: string, options: RunwireWebClientOptions = {}) {
    super(createWebTransport(baseUrl, options), { reconnect: options.reconnect });
    this.baseUrl = baseUrl;
  }
}
