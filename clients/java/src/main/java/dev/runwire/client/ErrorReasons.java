package dev.runwire.client;

import dev.runwire.v1.ErrorReason;

/**
 * The reasons the server puts in {@code google.rpc.ErrorInfo.reason}, as strings: one constant per
 * value of the generated enum {@link ErrorReason} ({@code proto/runwire/v1/error_reason.proto}
 * says when each is sent, with which code and metadata), named as the value: the wire reason is
 * the enum value's name ({@code ErrorReason.AGENT_NOT_FOUND.name()}). Compare with {@link
 * RunwireException#reason()} or {@link RunwireException#is}, or convert with {@link #toEnum}.
 */
public final class ErrorReasons {
  private ErrorReasons() {}

  /**
   * The enum value of a reason string.
   *
   * @param reason an {@code ErrorInfo.reason}, for example {@code "AGENT_NOT_FOUND"}
   * @return its {@link ErrorReason} ({@code ErrorReason.AGENT_NOT_FOUND}); {@code
   *     ERROR_REASON_UNSPECIFIED} for null, "" and a reason this client does not know (a newer
   *     server's)
   */
  public static ErrorReason toEnum(String reason) {
    if (reason == null || reason.isEmpty()) {
      return ErrorReason.ERROR_REASON_UNSPECIFIED;
    }
    for (ErrorReason value : ErrorReason.values()) {
      if (value != ErrorReason.UNRECOGNIZED && value.name().equals(reason)) {
        return value;
      }
    }
    return ErrorReason.ERROR_REASON_UNSPECIFIED;
  }

  // RPC errors.
  public static final String INVALID_ARGUMENT = "INVALID_ARGUMENT";
  public static final String MALFORMED_REQUEST = "MALFORMED_REQUEST";
  public static final String INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN";
  public static final String UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER";
  public static final String TOOL_MODULE_INVALID = "TOOL_MODULE_INVALID";
  public static final String REQUEST_ID_REUSED = "REQUEST_ID_REUSED";
  public static final String AGENT_NOT_FOUND = "AGENT_NOT_FOUND";
  public static final String RUN_NOT_FOUND = "RUN_NOT_FOUND";
  public static final String APPROVAL_NOT_FOUND = "APPROVAL_NOT_FOUND";
  public static final String THREAD_NOT_FOUND = "THREAD_NOT_FOUND";
  public static final String AGENT_ALREADY_EXISTS = "AGENT_ALREADY_EXISTS";
  public static final String THREAD_ALREADY_EXISTS = "THREAD_ALREADY_EXISTS";
  public static final String APPROVAL_ALREADY_RESOLVED = "APPROVAL_ALREADY_RESOLVED";
  public static final String APPROVAL_NOT_PENDING = "APPROVAL_NOT_PENDING";
  public static final String TOOL_CALL_NOT_PENDING = "TOOL_CALL_NOT_PENDING";
  public static final String TOOL_CALL_ALREADY_ANSWERED = "TOOL_CALL_ALREADY_ANSWERED";
  public static final String TOOL_NOT_FOUND = "TOOL_NOT_FOUND";
  public static final String RUNTIME_UNAVAILABLE = "RUNTIME_UNAVAILABLE";
  public static final String THREAD_BUSY = "THREAD_BUSY";
  public static final String ETAG_MISMATCH = "ETAG_MISMATCH";
  public static final String SEQUENCE_OUT_OF_RANGE = "SEQUENCE_OUT_OF_RANGE";
  public static final String CURSOR_EXPIRED = "CURSOR_EXPIRED";
  public static final String DRAINING = "DRAINING";
  public static final String QUOTA_EXCEEDED = "QUOTA_EXCEEDED";
  public static final String CLAIM_NOT_FOUND = "CLAIM_NOT_FOUND";
  public static final String INTERNAL = "INTERNAL";

  // Authentication and authorization (PERMISSION_DENIED: metadata "permission").
  public static final String UNAUTHENTICATED = "UNAUTHENTICATED";
  public static final String TOKEN_EXPIRED = "TOKEN_EXPIRED";
  public static final String TOKEN_INVALID = "TOKEN_INVALID";
  public static final String PERMISSION_DENIED = "PERMISSION_DENIED";
  public static final String NOT_AN_APPROVER = "NOT_AN_APPROVER";

  // A failed run's error (Run.error, the run_error event): data, not an RPC error.
  public static final String RUN_TIMEOUT = "RUN_TIMEOUT";
  public static final String MODEL_ERROR = "MODEL_ERROR";
  public static final String PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE";
  public static final String RUN_FAILED = "RUN_FAILED";
  public static final String TOKEN_BUDGET_EXCEEDED = "TOKEN_BUDGET_EXCEEDED";
  public static final String OUTPUT_SCHEMA_MISMATCH = "OUTPUT_SCHEMA_MISMATCH";
  public static final String REPLICA_LOST = "REPLICA_LOST";
  public static final String EVENT_LIMIT_EXCEEDED = "EVENT_LIMIT_EXCEEDED";
  public static final String TOOL_FAILURES_EXCEEDED = "TOOL_FAILURES_EXCEEDED";

  // Generic: the default of a status code when the server gives no more specific reason.
  public static final String NOT_FOUND = "NOT_FOUND";
  public static final String ALREADY_EXISTS = "ALREADY_EXISTS";
  public static final String FAILED_PRECONDITION = "FAILED_PRECONDITION";
  public static final String ABORTED = "ABORTED";
  public static final String OUT_OF_RANGE = "OUT_OF_RANGE";
  public static final String UNAVAILABLE = "UNAVAILABLE";
  public static final String TIMEOUT = "TIMEOUT";
}
