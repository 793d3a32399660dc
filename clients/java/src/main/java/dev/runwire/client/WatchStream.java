package dev.runwire.client;

import dev.runwire.v1.ChangeType;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * A watch ({@link RunwireClient#watchRuns}, {@link RunwireClient#watchApprovals}) as a blocking
 * {@link Iterator} of changes (also {@link Iterable}, for a for-each loop).
 *
 * <p>Without a starting cursor it returns every matching resource ({@code CHANGE_TYPE_EXISTING}),
 * then one {@code CHANGE_TYPE_SYNCED} (no resource), then each change as it happens ({@code
 * CREATED}, {@code UPDATED}, {@code ENDED}); heartbeats are skipped (their cursor is kept). A watch
 * that ends with {@code UNAVAILABLE} ({@code DRAINING}, or a lost connection), or that the server
 * ends, is reopened by itself per the {@link ReconnectPolicy} (its retry listener is told): after
 * the cursor of the last message received once {@code SYNCED} was seen (or when it began at a
 * cursor); before that it lists again and leaves out the resources it already returned as {@code
 * EXISTING}. Nothing is missed or returned twice. {@code OUT_OF_RANGE} with reason {@code
 * CURSOR_EXPIRED} (the cursor is older than the changes the server keeps: watch again without one)
 * and any other failure, or the last one once the retries in a row are used up, throw {@link
 * RunwireException} from {@link #hasNext()}. {@link #hasNext()} blocks until the next change; {@link #close()} (from any thread) ends it, and {@link #cursor()}
 * is where a later watch can resume. Not thread-safe (one reader).
 *
 * @param <T> WatchRunsResponse or WatchApprovalsResponse
 */
public final class WatchStream<T> implements Iterator<T>, Iterable<T>, AutoCloseable {
  /** Opens one server-streaming call after a cursor (empty: list, then watch). */
  @FunctionalInterface
  interface Opener<T> {
    Iterator<T> open(String cursor);
  }

  private final String method;
  private final Opener<T> opener;
  private final Function<T, ChangeType> typeOf;
  private final Function<T, String> cursorOf;
  private final Function<T, String> keyOf;
  private final ReconnectPolicy policy;
  private final java.util.Set<String> listed = new java.util.HashSet<>();
  private volatile Context.CancellableContext context;
  private Iterator<T> messages;
  private StatusRuntimeException opening;
  private T next;
  private volatile boolean done;
  private String cursor;
  private boolean synced;
  private int attempts;
  private int reopens;

  private WatchStream(
      String method,
      Opener<T> opener,
      Function<T, ChangeType> typeOf,
      Function<T, String> cursorOf,
      Function<T, String> keyOf,
      ReconnectPolicy policy,
      String cursor) {
    this.method = method;
    this.opener = opener;
    this.typeOf = typeOf;
    this.cursorOf = cursorOf;
    this.keyOf = keyOf;
    this.policy = policy;
    this.cursor = cursor;
    this.synced = !cursor.isEmpty();
  }

  /** Starts the first call at once (its errors surface from {@link #hasNext()}). */
  static <T> WatchStream<T> open(
      String method,
      Opener<T> opener,
      Function<T, ChangeType> typeOf,
      Function<T, String> cursorOf,
      Function<T, String> keyOf,
      ReconnectPolicy policy,
      String cursor) {
    WatchStream<T> stream =
        new WatchStream<>(method, opener, typeOf, cursorOf, keyOf, policy, cursor);
    stream.connect();
    return stream;
  }

  private void connect() {
    Context.CancellableContext call = Context.current().withCancellation();
    context = call;
    try {
      String from = synced ? cursor : "";
      messages = call.call(() -> opener.open(from));
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
      if (done) {
        return false;
      }
      try {
        if (opening != null) {
          StatusRuntimeException e = opening;
          opening = null;
          throw e;
        }
        while (messages.hasNext()) {
          T message = messages.next();
          attempts = 0;
          if (!cursorOf.apply(message).isEmpty()) {
            cursor = cursorOf.apply(message);
          }
          ChangeType type = typeOf.apply(message);
          if (type == ChangeType.CHANGE_TYPE_HEARTBEAT) {
            continue;
          }
          if (!synced && type == ChangeType.CHANGE_TYPE_EXISTING && !listed.add(keyOf.apply(message))) {
            continue; // returned before this listing
          }
          if (type == ChangeType.CHANGE_TYPE_SYNCED) {
            synced = true;
            listed.clear();
          }
          next = message;
          return true;
        }
        throw io.grpc.Status.UNAVAILABLE
            .withDescription("the server ended the watch")
            .asRuntimeException();
      } catch (StatusRuntimeException e) {
        if (done) {
          return false; // close() cancelled it
        }
        reopenOrThrow(RunwireException.from(e));
      }
    }
  }

  private void reopenOrThrow(RunwireException error) {
    context.cancel(null);
    attempts++;
    if (!ReconnectPolicy.isResumable(error) || attempts > policy.maxResumes()) {
      close();
      throw error;
    }
    if (policy.retryListener() != null) {
      policy.retryListener().onRetry(method, attempts, error);
    }
    reopens++;
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
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the watch has ended");
    }
    T message = next;
    next = null;
    return message;
  }

  /** This watch itself, so it can be used in a for-each loop (once). */
  @Override
  public Iterator<T> iterator() {
    return this;
  }

  /**
   * The cursor of the last message received (heartbeats included; the starting cursor before the
   * first): pass it as the request's {@code cursor} to watch on from here later.
   */
  public String cursor() {
    return cursor;
  }

  /** Whether {@code SYNCED} was seen (or the watch began at a cursor). */
  public boolean synced() {
    return synced;
  }

  /** How many times this watch reopened by itself so far. */
  public int reopens() {
    return reopens;
  }

  /** Ends the watch (a no-op once it has ended). */
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
