package dev.runwire.client;

import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How event streams ({@link RunwireClient#streamRun}, {@link RunwireClient#resume} and their
 * async forms) resume by themselves after they end with {@code UNAVAILABLE} and reason {@code
 * DRAINING} (the server shuts down gracefully) or {@code UNAVAILABLE} without {@code ErrorInfo}
 * (the connection was lost): {@code StreamRunEvents} is reopened after the last sequence seen, so
 * every event is delivered once, in order, with no gap. The run-creating calls ({@link
 * RunwireClient#createRun}, {@link RunwireClient#waitRun} and their async forms) retry such a
 * failure under the same bounds, with the same {@code request_id} (the server returns the run the
 * first attempt started, if it did). Immutable; {@link #DEFAULT} allows 8 resumes in a row, 100 ms
 * to 3 s apart.
 *
 * @param maxResumes resumes in a row that bring no new event (a new event resets the count);
 *     then the error is thrown. It bounds the retries of one run-creating call alike. 0: never
 *     resume or retry.
 * @param initialBackoff the wait before the first resume; doubles for each further one in a row
 * @param maxBackoff the longest wait; each wait is 50 to 100 % of the nominal one (jitter)
 * @param listener called before each resume (may be null)
 * @param retryListener called before each retry of a run-creating call or a watch (may be null)
 */
public record ReconnectPolicy(
    int maxResumes,
    Duration initialBackoff,
    Duration maxBackoff,
    ResumeListener listener,
    RetryListener retryListener) {

  /** 8 resumes in a row, 100 ms to 3 s apart, no listener. */
  public static final ReconnectPolicy DEFAULT =
      new ReconnectPolicy(8, Duration.ofMillis(100), Duration.ofSeconds(3), null, null);

  /** Never resume: the first error of a stream is thrown. */
  public static final ReconnectPolicy NEVER = DEFAULT.withMaxResumes(0);

  /** Validates the values. */
  public ReconnectPolicy {
    if (maxResumes < 0 || initialBackoff.isNegative() || maxBackoff.isNegative()) {
      throw new IllegalArgumentException("maxResumes and the backoffs must not be negative");
    }
  }

  /** A policy without a retry listener. */
  public ReconnectPolicy(
      int maxResumes, Duration initialBackoff, Duration maxBackoff, ResumeListener listener) {
    this(maxResumes, initialBackoff, maxBackoff, listener, null);
  }

  /** Called before each retry of a run-creating call or a reopened watch. */
  @FunctionalInterface
  public interface RetryListener {
    /**
     * @param method the RPC's name: {@code CreateRun}, {@code WaitRun}, {@code WatchRuns} or
     *     {@code WatchApprovals}
     * @param attempt the retry's number, from 1
     * @param cause the error that failed the call
     */
    void onRetry(String method, int attempt, RunwireException cause);
  }

  /** Called before each resume of a stream. */
  @FunctionalInterface
  public interface ResumeListener {
    /**
     * @param runId the run's id (empty while {@code streamRun} has seen no event: StreamRun is then
     *     retried with the same {@code request_id})
     * @param afterSequence the sequence the stream resumes after
     * @param attempt the resume's number in a row, from 1
     * @param cause the error that ended the stream
     */
    void onResume(String runId, long afterSequence, int attempt, RunwireException cause);
  }

  /** This policy with another {@code maxResumes}. */
  public ReconnectPolicy withMaxResumes(int value) {
    return new ReconnectPolicy(value, initialBackoff, maxBackoff, listener, retryListener);
  }

  /** This policy with other backoff bounds. */
  public ReconnectPolicy withBackoff(Duration initial, Duration max) {
    return new ReconnectPolicy(maxResumes, initial, max, listener, retryListener);
  }

  /** This policy with a listener called before each resume. */
  public ReconnectPolicy withListener(ResumeListener value) {
    return new ReconnectPolicy(maxResumes, initialBackoff, maxBackoff, value, retryListener);
  }

  /** This policy with a listener called before each retry of a run-creating call. */
  public ReconnectPolicy withRetryListener(RetryListener value) {
    return new ReconnectPolicy(maxResumes, initialBackoff, maxBackoff, listener, value);
  }

  /**
   * True when {@code error} ends an event stream in a way a resume fixes: {@code UNAVAILABLE} with
   * reason {@code DRAINING}, or {@code UNAVAILABLE} without {@code ErrorInfo} (a lost connection).
   * {@code UNAVAILABLE} with another reason ({@code RUNTIME_UNAVAILABLE}) is not.
   */
  public static boolean isResumable(RunwireException error) {
    return error.code() == Status.Code.UNAVAILABLE
        && (error.reason().isEmpty() || error.reason().equals(ErrorReasons.DRAINING));
  }

  /** The wait before resume number {@code attempt} (from 1), with jitter. */
  Duration backoff(int attempt) {
    long nominal = initialBackoff.toMillis();
    for (int i = 1; i < attempt && nominal < maxBackoff.toMillis(); i++) {
      nominal *= 2;
    }
    nominal = Math.min(nominal, maxBackoff.toMillis());
    return Duration.ofMillis(nominal / 2 + ThreadLocalRandom.current().nextLong(nominal / 2 + 1));
  }
}
