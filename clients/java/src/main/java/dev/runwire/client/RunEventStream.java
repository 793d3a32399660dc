package dev.runwire.client;

import dev.runwire.v1.RunEvent;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The events of one run, as a blocking {@link Iterator} (also {@link Iterable}, for a for-each
 * loop): from {@link RunwireClient#streamRun} (sequence 1 on) or {@link RunwireClient#resume}
 * (after a given sequence).
 *
 * <p>Events arrive in sequence order, gap-free; heartbeats (sequence 0) are skipped. Iteration ends
 * right after the terminal event ({@code run_finished} or {@code run_error}). A stream that ends
 * with {@code UNAVAILABLE} ({@code DRAINING}, or a lost connection) is resumed by itself after the
 * last sequence seen, per the {@link ReconnectPolicy}; an event already returned is never returned
 * again. Any other failure, or the last one once the resumes are used up, throws {@link
 * RunwireException} from {@link #hasNext()}.
 *
 * <p>{@link #close()} cancels the stream (the run goes on on the server); continue later with
 * {@code client.resume(stream.runId(), stream.lastSequence())}: nothing is lost or doubled. Use
 * try-with-resources so a stream left early is always cancelled. Not thread-safe (one reader);
 * {@link #close()} may be called from any thread.
 */
public final class RunEventStream implements Iterator<RunEvent>, Iterable<RunEvent>, AutoCloseable {
  /** Opens one server-streaming call: StreamRun while the run's id is empty, else StreamRunEvents. */
  @FunctionalInterface
  interface Opener {
    Iterator<RunEvent> open(String runId, long afterSequence);
  }

  private final Opener opener;
  private final ReconnectPolicy policy;
  private volatile Context.CancellableContext context;
  private Iterator<RunEvent> events;
  private StatusRuntimeException opening;
  private RunEvent next;
  private volatile boolean done;
  private boolean ended;
  private String runId;
  private long lastSequence;
  private long lastSeen;
  private int attempts;
  private int resumes;

  private RunEventStream(Opener opener, ReconnectPolicy policy, String runId, long after) {
    this.opener = opener;
    this.policy = policy;
    this.runId = runId;
    this.lastSequence = after;
    this.lastSeen = after;
  }

  /** Starts the first call at once (its errors surface from {@link #hasNext()}). */
  static RunEventStream open(Opener opener, ReconnectPolicy policy, String runId, long after) {
    RunEventStream stream = new RunEventStream(opener, policy, runId, after);
    stream.connect();
    return stream;
  }

  /** Opens a call after the last sequence seen, inside its own cancellable context. */
  private void connect() {
    Context.CancellableContext call = Context.current().withCancellation();
    context = call;
    try {
      events = call.call(() -> opener.open(runId, lastSeen));
    } catch (StatusRuntimeException e) {
      opening = e;
    } catch (Exception e) {
      call.cancel(e);
      throw new IllegalStateException(e);
    }
  }

  @Override
  public boolean hasNext() {
    while (true) {
      if (next != null) {
        return true;
      }
      if (done || ended) {
        close();
        return false;
      }
      try {
        if (opening != null) {
          StatusRuntimeException e = opening;
          opening = null;
          throw e;
        }
        while (events.hasNext()) {
          RunEvent event = events.next();
          if (event.getSequence() <= lastSeen || event.hasHeartbeat()) {
            continue; // heartbeats (sequence 0), and defensively anything already returned
          }
          lastSeen = event.getSequence();
          runId = event.getRunId();
          attempts = 0;
          ended = event.hasRunFinished() || event.hasRunError();
          next = event;
          return true;
        }
        close();
        return false;
      } catch (StatusRuntimeException e) {
        if (done) {
          return false; // close() cancelled it
        }
        resumeOrThrow(RunwireException.from(e));
      }
    }
  }

  /** After a failed call: waits and reconnects if the policy allows, else throws {@code error}. */
  private void resumeOrThrow(RunwireException error) {
    context.cancel(null);
    if (runId.isEmpty()) {
      runId = error.metadata().getOrDefault("run_id", "");
    }
    attempts++;
    if (!ReconnectPolicy.isResumable(error) || attempts > policy.maxResumes()) {
      close();
      throw error;
    }
    if (policy.listener() != null) {
      policy.listener().onResume(runId, lastSeen, attempts, error);
    }
    resumes++;
    try {
      Thread.sleep(policy.backoff(attempts).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw error;
    }
    if (!done) {
      connect();
    }
  }

  @Override
  public RunEvent next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the run's event stream has ended");
    }
    RunEvent event = next;
    next = null;
    lastSequence = event.getSequence();
    return event;
  }

  /** This stream itself, so it can be used in a for-each loop (once). */
  @Override
  public Iterator<RunEvent> iterator() {
    return this;
  }

  /** The run's id: known from the first event on (or from the start, for a resumed stream). */
  public String runId() {
    return runId;
  }

  /**
   * The sequence of the last event returned by {@link #next()} (the {@code after_sequence} given,
   * before the first). Pass it to {@link RunwireClient#resume} to continue without a gap.
   */
  public long lastSequence() {
    return lastSequence;
  }

  /** How many times this stream resumed by itself so far. */
  public int resumes() {
    return resumes;
  }

  /** True once the stream has ended, failed, or been closed. */
  public boolean isDone() {
    return (done || ended) && next == null;
  }

  /** Cancels the stream (a no-op once it has ended). The run itself goes on. */
  @Override
  public void close() {
    done = true;
    next = null;
    Context.CancellableContext call = context;
    if (call != null) {
      call.cancel(null);
    }
  }
}
