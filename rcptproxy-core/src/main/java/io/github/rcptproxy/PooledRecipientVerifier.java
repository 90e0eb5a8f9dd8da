package io.github.rcptproxy;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@link RecipientVerifier}: a {@link Backend} per configuration, swapped atomically. */
final class PooledRecipientVerifier implements RecipientVerifier {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();

  private final Counters counters = new Counters();
  private final ExecutorService asyncExecutor;
  private final Object lifecycle = new Object();
  private volatile Backend backend;
  private volatile boolean closed;

  PooledRecipientVerifier(VerifierConfig config) {
    Objects.requireNonNull(config, "config");
    backend = Backend.start(config, counters);
    // Threads are reused; a verification blocks on I/O, so it must not run in a shared pool.
    asyncExecutor =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            60,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            task -> {
              Thread thread = new Thread(task, "rcptproxy-verify-" + THREAD_NUMBER.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
  }

  @Override
  public Verdict verify(String address) {
    Objects.requireNonNull(address, "address");
    return verifyAll(List.of(address)).get(0);
  }

  @Override
  public CompletableFuture<Verdict> verifyAsync(String address) {
    Objects.requireNonNull(address, "address");
    openBackend();
    return CompletableFuture.supplyAsync(() -> verify(address), asyncExecutor);
  }

  @Override
  public List<Verdict> verifyAll(List<String> addresses) {
    List<String> copy = List.copyOf(addresses); // also refuses null elements
    Backend current = openBackend();
    Deadline deadline = Deadline.after(current.config().deadline());
    Optional<List<Verdict>> verdicts = current.verifyAll(copy, deadline);
    while (verdicts.isEmpty()) {
      // Reconfigured while we waited for a session: ask the new backend within the same deadline.
      current = openBackend();
      verdicts = current.verifyAll(copy, deadline);
    }
    for (int i = 0; i < copy.size(); i++) {
      Verdict verdict = verdicts.get().get(i);
      counters.count(verdict);
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} {} in {} ms", ReplyReader.sanitise(copy.get(i)), verdict, verdict.latency().toMillis());
      }
    }
    return verdicts.get();
  }

  @Override
  public CompletableFuture<List<Verdict>> verifyAllAsync(List<String> addresses) {
    List<String> copy = List.copyOf(addresses);
    openBackend();
    return CompletableFuture.supplyAsync(() -> verifyAll(copy), asyncExecutor);
  }

  @Override
  public void reconfigure(VerifierConfig config) {
    Objects.requireNonNull(config, "config");
    Backend old;
    synchronized (lifecycle) {
      openBackend();
      old = backend;
      backend = Backend.start(config, counters);
    }
    old.close();
  }

  @Override
  public VerifierConfig config() {
    return backend.config();
  }

  @Override
  public VerifierStats stats() {
    Backend current = backend;
    return counters.snapshot(current.activeSessions(), current.idleSessions());
  }

  @Override
  public void close() {
    synchronized (lifecycle) {
      if (closed) {
        return;
      }
      closed = true;
    }
    backend.close();
    asyncExecutor.shutdown();
  }

  private Backend openBackend() {
    if (closed) {
      throw new IllegalStateException("verifier is closed");
    }
    return backend;
  }
}
