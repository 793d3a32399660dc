package dev.runwire.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Map;

/**
 * A failed Runwire call: the gRPC status code plus the {@code google.rpc.Status} details every
 * Runwire error carries ({@link ErrorInfo} with a {@link #reason() reason} such as {@code
 * AGENT_NOT_FOUND} and domain {@code runwire.dev}; {@link BadRequest} field violations for {@code
 * INVALID_ARGUMENT}).
 *
 * <p>Every method of {@link RunwireClient} and {@link RunEventStream} throws this instead of
 * grpc-java's {@code StatusRuntimeException}; wrap errors of the raw generated stubs with {@link
 * #from(Throwable)}.
 *
 * <pre>{@code
 * try {
 *   client.getAgent("nope");
 * } catch (RunwireException e) {
 *   if (e.code() == Status.Code.NOT_FOUND && e.reason().equals("AGENT_NOT_FOUND")) { ... }
 * }
 * }</pre>
 */
public class RunwireException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Status status;
  private final transient com.google.rpc.Status details;
  private final transient Metadata trailers;
  private final transient ErrorInfo errorInfo;
  private final transient BadRequest badRequest;

  /** Builds the exception from a gRPC status and its trailers (which may be null). */
  public RunwireException(Status status, Metadata trailers, Throwable cause) {
    super(describe(status, trailers), cause);
    this.status = status;
    this.trailers = trailers;
    com.google.rpc.Status rich = StatusProto.fromStatusAndTrailers(status, trailers);
    this.details = rich;
    ErrorInfo info = ErrorInfo.getDefaultInstance();
    BadRequest bad = BadRequest.getDefaultInstance();
    if (rich != null) {
      for (Any detail : rich.getDetailsList()) {
        try {
          if (detail.is(ErrorInfo.class)) {
            info = detail.unpack(ErrorInfo.class);
          } else if (detail.is(BadRequest.class)) {
            bad = detail.unpack(BadRequest.class);
          }
        } catch (InvalidProtocolBufferException ignored) {
          // A malformed detail leaves the defaults; code and message still apply.
        }
      }
    }
    this.errorInfo = info;
    this.badRequest = bad;
  }

  /**
   * Converts an error of a gRPC call ({@code StatusRuntimeException}, {@code StatusException}, or
   * anything with such a cause) to a RunwireException; returns it unchanged if it already is one.
   */
  public static RunwireException from(Throwable error) {
    if (error instanceof RunwireException) {
      return (RunwireException) error;
    }
    return new RunwireException(Status.fromThrowable(error), Status.trailersFromThrowable(error), error);
  }

  /** The gRPC status code, for example {@code NOT_FOUND}. */
  public Status.Code code() {
    return status.getCode();
  }

  /** The gRPC status (code, description, cause). */
  public Status status() {
    return status;
  }

  /** The status message the server sent. */
  public String description() {
    return status.getDescription() == null ? "" : status.getDescription();
  }

  /** {@code ErrorInfo.reason}, for example {@code AGENT_NOT_FOUND}; empty if the server sent none. */
  public String reason() {
    return errorInfo.getReason();
  }

  /** {@code ErrorInfo.domain}: {@code runwire.dev} for Runwire's errors. */
  public String domain() {
    return errorInfo.getDomain();
  }

  /** {@code ErrorInfo.metadata}: the ids involved (agent_id, run_id, ...). */
  public Map<String, String> metadata() {
    return errorInfo.getMetadataMap();
  }

  /** The whole {@link ErrorInfo} (default instance if absent). */
  public ErrorInfo errorInfo() {
    return errorInfo;
  }

  /** {@code BadRequest} field violations of an {@code INVALID_ARGUMENT} error (empty otherwise). */
  public List<BadRequest.FieldViolation> fieldViolations() {
    return badRequest.getFieldViolationsList();
  }

  /** The {@code google.rpc.Status} from the {@code grpc-status-details-bin} trailer, or null. */
  public com.google.rpc.Status details() {
    return details;
  }

  /** The response trailers, or null. */
  public Metadata trailers() {
    return trailers;
  }

  /** True when this error has the given code and {@code ErrorInfo.reason}. */
  public boolean is(Status.Code code, String reason) {
    return code() == code && reason().equals(reason);
  }

  private static String describe(Status status, Metadata trailers) {
    com.google.rpc.Status rich = StatusProto.fromStatusAndTrailers(status, trailers);
    String reason = "";
    if (rich != null) {
      for (Any detail : rich.getDetailsList()) {
        if (detail.is(ErrorInfo.class)) {
          try {
            reason = " (" + detail.unpack(ErrorInfo.class).getReason() + ")";
          } catch (InvalidProtocolBufferException ignored) {
            // keep the message without a reason
          }
        }
      }
    }
    String description = status.getDescription() == null ? "" : ": " + status.getDescription();
    return status.getCode() + reason + description;
  }
}
