package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerificationListener;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands verdicts to the configured {@link VerificationListener} on a thread of its own, in order,
 * so a slow or throwing listener never delays or breaks a verification. Past {@value #MAX_QUEUED}
 * waiting events, new ones are dropped (logged once).
 */
public final class ListenerDispatch implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final int MAX_QUEUED = 100_000;

  private final ExecutorService executor =
      new ThreadPoolExecutor(
          1,
          1,
          0,
          TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(MAX_QUEUED),
          task -> {
            Thread thread = new Thread(task, "rcptproxy-listener");
            thread.setDaemon(true);
            return thread;
          });
  private final AtomicBoolean failureLogged = new AtomicBoolean();
  private final AtomicBoolean dropLogged = new AtomicBoolean();

  public void verified(
      VerificationListener listener, String address, Verdict verdict, boolean cached) {
    if (listener == VerificationListener.NONE) {
      return;
    }
    try {
      executor.execute(
          () -> {
            try {
              listener.verified(address, verdict, cached);
            } catch (RuntimeException e) {
              if (failureLogged.compareAndSet(false, true)) {
                LOG.warn("verification listener threw (logged once)", e);
              }
            }
          });
    } catch (RejectedExecutionException e) {
      if (dropLogged.compareAndSet(false, true)) {
        LOG.warn(
            "verification listener is {} events behind; events are dropped (logged once)",
            MAX_QUEUED);
      }
    }
  }

  /** Delivers what is queued, then stops. */
  @Override
  public void close() {
    executor.shutdown();
  }
}
