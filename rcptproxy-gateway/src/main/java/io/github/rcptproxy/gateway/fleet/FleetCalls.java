package io.github.rcptproxy.gateway.fleet;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls to the cluster, kept off the SMTP threads: each runs on a small pool of its own (past
 * {@value #MAX_QUEUED} waiting, a call is dropped), and its answer is handed on when it comes. A
 * call that throws or is dropped leaves the gateway with its local state. The first such failure
 * after a success is logged as a warning (and the next success as the end of it), and every one is
 * counted, so that falling back is never silent. A call that hangs counts as failed after {@link
 * #TIMEOUT}, and holds its thread until Hazelcast's own call timeout ends it; once all hang, the
 * next calls are dropped and counted.
 */
final class FleetCalls implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Fleet.class);

  /** A round trip on a LAN takes well under a millisecond; longer than this, something is wrong. */
  static final Duration TIMEOUT = Duration.ofSeconds(1);

  private static final int THREADS = 16;
  private static final int MAX_QUEUED = 1_000;

  private final ThreadPoolExecutor executor =
      new ThreadPoolExecutor(
          THREADS,
          THREADS,
          30,
          TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(MAX_QUEUED),
          task -> {
            Thread thread = new Thread(task, "rcptproxy-fleet");
            thread.setDaemon(true);
            return thread;
          });
  private final AtomicBoolean local = new AtomicBoolean();
  private final AtomicLong fallbacks = new AtomicLong();

  /** When the last call failed ({@link System#nanoTime}): only a call begun after it is news. */
  private volatile long lastFailure = System.nanoTime();

  FleetCalls() {
    executor.allowCoreThreadTimeOut(true);
  }

  /**
   * Runs the call in the background and hands its answer to {@code then}; false if it was dropped
   * (then neither runs). A call that has not answered within {@link #TIMEOUT} counts as failed (and
   * its answer, if it comes, is not handed on).
   */
  <T> boolean later(Supplier<T> call, Consumer<T> then) {
    long started = System.nanoTime();
    CompletableFuture<T> answer;
    try {
      answer = CompletableFuture.supplyAsync(call, executor);
    } catch (RejectedExecutionException e) {
      failed("too many calls waiting", null);
      return false;
    }
    answer
        .orTimeout(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .whenComplete(
            (value, error) -> {
              if (error == null) {
                answered(started);
                then.accept(value);
              } else if (error instanceof TimeoutException) {
                failed("no answer within " + TIMEOUT.toMillis() + " ms", null);
              } else {
                failed(
                    "a call failed",
                    error instanceof CompletionException ? error.getCause() : error);
              }
            });
    return true;
  }

  /** Whether the last call to the cluster failed: this gateway decides with its own state. */
  boolean local() {
    return local.get();
  }

  /** Calls that failed, or were dropped, and were decided with local state instead. */
  long fallbacks() {
    return fallbacks.get();
  }

  private void answered(long started) {
    // A slow call begun before the last failure says nothing about the cluster now.
    if (started - lastFailure > 0 && local.compareAndSet(true, false)) {
      LOG.info(
          "fleet answering again: per-client limits and what the relays learn of the backend are"
              + " the fleet's again");
    }
  }

  private void failed(String what, Throwable cause) {
    lastFailure = System.nanoTime();
    fallbacks.incrementAndGet();
    if (local.compareAndSet(false, true)) {
      LOG.warn(
          "fleet unreachable ({}{}): per-client limits fall back to this gateway's own counts,"
              + " and what the relay learns of the backend here (recipient limits, refused pairs,"
              + " addresses that did not answer) stays this gateway's, until it answers again",
          what,
          cause == null ? "" : ": " + cause);
    }
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
