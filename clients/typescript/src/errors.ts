// Typed errors of the Runwire client.
//
// Every Runwire RPC error is a google.rpc.Status whose details carry a
// google.rpc.ErrorInfo (domain "runwire.dev", a reason such as
// "AGENT_NOT_FOUND", metadata with the ids involved) and, for
// INVALID_ARGUMENT, a google.rpc.BadRequest with field violations.
// RunwireError exposes all of it; the original ConnectError stays available
// as `cause` (headers/trailers, raw details, findDetails()).

import { Code, ConnectError } from "@connectrpc/connect";

import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { ErrorReason, ErrorReasonSchema } from "./gen/runwire/v1/error_reason_pb.js";

// The reason enum, for `error.reasonValue === ErrorReason.AGENT_NOT_FOUND`.
export { ErrorReason, ErrorReasonSchema } from "./gen/runwire/v1/error_reason_pb.js";

/** The error domain of every ErrorInfo the Runwire service sends. */
export const RUNWIRE_ERROR_DOMAIN = "runwire.dev";

/** gRPC's canonical status code names, indexed by code number. */
const GRPC_CODE_NAMES: Readonly<Record<number, string>> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

/** The canonical gRPC name of a status code, for example "NOT_FOUND". */
export function grpcCodeName(code: Code): string {
  return GRPC_CODE_NAMES[code] ?? `CODE_${code}`;
}

/** One google.rpc.BadRequest field violation. */
export interface FieldViolation {
  /** The field path, for example "agent_id" or "agent.model". */
  readonly field: string;
  /** Why the value is invalid. */
  readonly description: string;
  /** A machine-readable reason, when the server gives one. */
  readonly reason: string;
}

/**
 * A failed Runwire call.
 *
 * - `code`: the gRPC status code (Connect's `Code` enum has gRPC's numbers);
 *   `codeName` is its canonical gRPC name ("NOT_FOUND").
 * - `reason`, `domain`, `metadata`: the google.rpc.ErrorInfo ("" / {} when the
 *   error carries none, e.g. a transport failure).
 * - `fieldViolations`: the google.rpc.BadRequest violations (INVALID_ARGUMENT).
 * - `cause`: the ConnectError the transport raised.
 */
export class RunwireError extends Error {
  readonly code: Code;
  readonly codeName: string;
  readonly rawMessage: string;
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  declare readonly cause: ConnectError;

  constructor(cause: ConnectError) {
    const info = cause.findDetails(ErrorInfoSchema)[0];
    const codeName = grpcCodeName(cause.code);
    const reason = info?.reason ?? "";
    super(`${codeName}${reason ? ` (${reason})` : ""}: ${cause.rawMessage}`, { cause });
    this.name = "RunwireError";
    this.code = cause.code;
    this.codeName = codeName;
    this.rawMessage = cause.rawMessage;
    this.reason = reason;
    this.domain = info?.domain ?? "";
    this.metadata = { ...(info?.metadata ?? {}) };
    this.fieldViolations = cause
      .findDetails(BadRequestSchema)
      .flatMap((bad) => bad.fieldViolations)
      .map((v) => ({ field: v.field, description: v.description, reason: v.reason }));
  }

  /**
   * `reason` as its `ErrorReason` value (`ErrorReason.AGENT_NOT_FOUND` ...);
   * `ErrorReason.ERROR_REASON_UNSPECIFIED` when there is none or this client
   * does not know it (`reason` still has the string).
   */
  get reasonValue(): ErrorReason {
    return errorReasonValue(this.reason, this.domain);
  }

  /** Converts anything a call threw (usually a ConnectError) into a RunwireError. */
  static from(error: unknown): RunwireError {
    return error instanceof RunwireError ? error : new RunwireError(ConnectError.from(error));
  }
}

/** True when `error` is a RunwireError, optionally with the given ErrorInfo reason. */
export function isRunwireError(error: unknown, reason?: string): error is RunwireError {
  return error instanceof RunwireError && (reason === undefined || error.reason === reason);
}

/** The name of every ErrorReason value the server sends (all but the zero value). */
export type KnownErrorReason = Exclude<keyof typeof ErrorReason, "ERROR_REASON_UNSPECIFIED">;

/**
 * The reasons the server puts in google.rpc.ErrorInfo.reason, as strings: one
 * entry per value of the generated `ErrorReason` enum
 * (proto/runwire/v1/error_reason.proto, where each value says when it is
 * sent), name = value (`ErrorReasons.AGENT_NOT_FOUND === "AGENT_NOT_FOUND"`).
 * Compare with `isRunwireError(error, ErrorReasons.AGENT_NOT_FOUND)`, or use
 * `error.reasonValue === ErrorReason.AGENT_NOT_FOUND`.
 */
export const ErrorReasons: { readonly [K in KnownErrorReason]: K } = Object.freeze(
  Object.fromEntries(
    ErrorReasonSchema.values
      .filter((v) => v.number !== ErrorReason.ERROR_REASON_UNSPECIFIED)
      .map((v) => [v.name, v.name]),
  ) as { [K in KnownErrorReason]: K },
);

/**
 * A google.rpc.ErrorInfo reason as its `ErrorReason` value
 * (`ErrorReason.AGENT_NOT_FOUND` for "AGENT_NOT_FOUND");
 * `ErrorReason.ERROR_REASON_UNSPECIFIED` for "", for another domain's reason
 * and for a reason this client does not know (a newer server's).
 */
export function errorReasonValue(reason: string, domain: string = RUNWIRE_ERROR_DOMAIN): ErrorReason {
  if (domain !== "" && domain !== RUNWIRE_ERROR_DOMAIN) {
    return ErrorReason.ERROR_REASON_UNSPECIFIED;
  }
  return ErrorReasonSchema.values.find((v) => v.name === reason)?.number ?? ErrorReason.ERROR_REASON_UNSPECIFIED;
}
