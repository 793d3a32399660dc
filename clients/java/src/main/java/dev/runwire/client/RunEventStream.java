package dev.runwire.client;

import dev.runwire.v1.RunEvent;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The events of one run, as a blocking {@link Iterator} (also {@link Iterable}, for a for-each
 * loop): from {@link RunwireClient#streamRun} (sequence 1 on) or {@link RunwireClient#resume}
 * (after a given sequence).
 *
 * <p>Events arrive in sequence order, gap-free; heartbeats (sequence 0) are skipped. Iteration ends
 * right after the terminal event ({@code run_finished} or {@code run_error}). A failed stream
 * throws {@link RunwireException} from {@link #hasNext()}.
 *
 * <p>{@link #close()} cancels the stream (the run goes on on the server); continue later with
 * {@code client.resume(stream.runId(), stream.lastSequence())}: nothing is lost or doubled. Use
 * try-with-resources so a stream left early is always cancelled.
 */
public final class RunEventStream implements Iterator<RunEvent>, Iterable<RunEvent>, AutoCloseable {
  private final Context.CancellableContext context;
  private final Iterator<RunEvent> events;
  private RunEvent next;
  private volatile boolean done;
  private String runId;
  private long lastSequence;

  private RunEventStream(
      Context.CancellableContext context, Iterator<RunEvent> events, String runId, long after) {
    this.context = context;
    this.events = events;
    this.runId = runId;
    this.lastSequence = after;
  }

  /**
   * Starts a server-streaming call inside its own cancellable context.
   *
   * @param start starts the call (a blocking stub's streaming method)
   * @param eventOf extracts the event of one response message
   */
  static <T> RunEventStream open(
      Supplier<Iterator<T>> start, Function<T, RunEvent> eventOf, String runId, long after) {
    Context.CancellableContext context = Context.current().withCancellation();
    Iterator<T> responses;
    try {
      responses = context.call(start::get);
    } catch (StatusRuntimeException e) {
      context.cancel(e);
      throw RunwireException.from(e);
    } catch (Exception e) {
      context.cancel(e);
      throw new IllegalStateException(e);
    }
    Iterator<RunEvent> events =
        new Iterator<>() {
          @Override
          public boolean hasNext() {
            return responses.hasNext();
          }

          @Override
          public RunEvent next() {
            return eventOf.apply(responses.next());
          }
        };
    return new RunEventStream(context, events, runId, after);
  }

  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    if (done) {
      return false;
    }
    try {
      while (events.hasNext()) {
        RunEvent event = events.next();
        if (event.getSequence() == 0 || event.hasHeartbeat()) {
          continue;
        }
        next = event;
        return true;
      }
    } catch (StatusRuntimeException e) {
      boolean cancelledByUs = done;
      close();
      if (cancelledByUs) {
        return false;
      }
      throw RunwireException.from(e);
    }
    close();
    return false;
  }

  @Override
  public RunEvent next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the run's event stream has ended");
    }
    RunEvent event = next;
    next = null;
    lastSequence = event.getSequence();
    runId = event.getRunId();
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

  /** True once the stream has ended, failed, or been closed. */
  public boolean isDone() {
    return done && next == null;
  }

  /** Cancels the stream (a no-op once it has ended). The run itself goes on. */
  @Override
  public void close() {
    done = true;
    next = null;
    context.cancel(null);
  }
}
