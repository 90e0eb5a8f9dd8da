package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerdictCache;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A user's shared {@link VerdictCache} (a network cache, typically), kept from holding up a
 * verification: a lookup is waited for at most a tenth of the deadline and counts as a miss if it
 * takes longer or throws (or is done in the background: {@link #getLater}); stores and removals are
 * done in the background and dropped if they pile up. Failures are logged once.
 */
public final class GuardedCache implements VerdictCache, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final int MAX_QUEUED = 10_000;

  private final VerdictCache cache;
  private final Duration lookupTimeout;
  private final ExecutorService executor;
  private final AtomicBoolean failureLogged = new AtomicBoolean();

  public GuardedCache(VerdictCache cache, Duration deadline) {
    this.cache = cache;
    this.lookupTimeout = deadline.dividedBy(10);
    this.executor =
        new ThreadPoolExecutor(
            1,
            4,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(MAX_QUEUED),
            task -> {
              Thread thread = new Thread(task, "rcptproxy-shared-cache");
              thread.setDaemon(true);
              return thread;
            });
  }

  @Override
  public Optional<CachedVerdict> get(String key) {
    try {
      return CompletableFuture.supplyAsync(() -> cache.get(key), executor)
          .get(lookupTimeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      failed("a lookup took longer than " + lookupTimeout.toMillis() + " ms", null);
    } catch (ExecutionException e) {
      failed("a lookup failed", e.getCause());
    } catch (RejectedExecutionException e) {
      failed("too many operations queued", null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return Optional.empty();
  }

  /**
   * Looks {@code key} up in the background and gives {@code then} what was found (nothing where the
   * lookup throws); a lookup that cannot be queued is dropped. Nobody waits for it.
   */
  public void getLater(String key, Consumer<Optional<CachedVerdict>> then) {
    inBackground(
        () -> {
          Optional<CachedVerdict> found = Optional.empty();
          try {
            found = cache.get(key);
          } catch (RuntimeException e) {
            failed("a lookup failed", e);
          }
          then.accept(found);
        });
  }

  @Override
  public void put(String key, CachedVerdict verdict) {
    inBackground(() -> cache.put(key, verdict));
  }

  @Override
  public void invalidate(String key) {
    inBackground(() -> cache.invalidate(key));
  }

  @Override
  public void invalidateAll() {
    inBackground(cache::invalidateAll);
  }

  private void inBackground(Runnable operation) {
    try {
      executor.execute(
          () -> {
            try {
              operation.run();
            } catch (RuntimeException e) {
              failed("an update failed", e);
            }
          });
    } catch (RejectedExecutionException e) {
      failed("too many operations queued; an update was dropped", null);
    }
  }

  private void failed(String what, Throwable cause) {
    if (failureLogged.compareAndSet(false, true)) {
      LOG.warn("shared verdict cache: {}; answered as a miss (logged once)", what, cause);
    }
  }

  @Override
  public void close() {
    executor.shutdown();
  }
}
