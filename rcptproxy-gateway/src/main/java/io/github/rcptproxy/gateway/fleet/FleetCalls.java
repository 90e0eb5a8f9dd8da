package io.github.rcptproxy.gateway.fleet;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls to the cluster, kept from holding up an SMTP thread: each runs on a small pool of its own
 * and is waited for at most {@link #WAIT}; one that takes longer, throws, or finds the pool full
 * answers empty, and the caller decides with its local state. The first such failure after a
 * success is logged as a warning (and the next success as the end of it), and every one is counted,
 * so that falling back is never silent.
 */
final class FleetCalls implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Fleet.class);

  /**
   * Longest an SMTP thread waits for the cluster: a round trip on a LAN is well under a
   * millisecond, so this only bounds a member that is gone or a partition that is migrating.
   */
  static final Duration WAIT = Duration.ofMillis(200);

  private static final int THREADS = 16;
  private static final int MAX_QUEUED = 1_000;

  private final ExecutorService executor =
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

  FleetCalls() {
    ((ThreadPoolExecutor) executor).allowCoreThreadTimeOut(true);
  }

  /** The call's answer, or empty if the cluster did not give one within {@link #WAIT}. */
  <T> Optional<T> ask(Supplier<T> call) {
    Future<T> answer;
    try {
      answer = executor.submit(call::get);
    } catch (RejectedExecutionException e) {
      failed("too many calls waiting", null);
      return Optional.empty();
    }
    try {
      T value = answer.get(WAIT.toNanos(), TimeUnit.NANOSECONDS);
      answered();
      return Optional.ofNullable(value);
    } catch (TimeoutException e) {
      answer.cancel(true);
      failed("no answer within " + WAIT.toMillis() + " ms", null);
    } catch (ExecutionException e) {
      failed("a call failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return Optional.empty();
  }

  /** Whether the last call to the cluster failed: this gateway decides with its own state. */
  boolean local() {
    return local.get();
  }

  /** Calls that failed and were decided with local state instead. */
  long fallbacks() {
    return fallbacks.get();
  }

  private void answered() {
    if (local.compareAndSet(true, false)) {
      LOG.info("fleet answering again: per-client limits are the fleet's again");
    }
  }

  private void failed(String what, Throwable cause) {
    fallbacks.incrementAndGet();
    if (local.compareAndSet(false, true)) {
      LOG.warn(
          "fleet unreachable ({}{}): per-client limits fall back to this gateway's own counts"
              + " until it answers again",
          what,
          cause == null ? "" : ": " + cause);
    }
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
