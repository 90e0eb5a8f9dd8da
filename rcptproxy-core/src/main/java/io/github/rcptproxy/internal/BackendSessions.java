package io.github.rcptproxy.internal;

import io.github.rcptproxy.VerifierConfig;
import java.io.IOException;
import java.time.Instant;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/** The pool's view of the backend's sessions: each opened within the borrower's deadline. */
final class BackendSessions implements SessionPool.Sessions<BackendSession> {
  private final Connector connector;
  private final VerifierConfig config;
  private final SessionLimits limits;
  private final ProbeSender probeSender;
  private final Counters counters;

  BackendSessions(
      Connector connector,
      VerifierConfig config,
      SessionLimits limits,
      ProbeSender probeSender,
      Counters counters) {
    this.connector = connector;
    this.config = config;
    this.limits = limits;
    this.probeSender = probeSender;
    this.counters = counters;
  }

  /** Sessions whose late replies came after their verification's deadline, ready to serve. */
  private final Queue<BackendSession> servableAgain = new ConcurrentLinkedQueue<>();

  private volatile boolean closed;

  /** A session that served again after its late replies came, else a new one. */
  @Override
  public BackendSession open(Deadline deadline) throws IOException {
    BackendSession ready;
    while ((ready = servableAgain.poll()) != null) {
      if (ready.reusable(config.clock().instant())) {
        return ready;
      }
      ready.close();
    }
    limits.refresh(); // what the verifiers sharing findings learnt, before this session counts
    return new BackendSession(
        connector,
        config,
        limits,
        probeSender,
        deadline,
        counters.transactionsOpened::increment,
        this::servableAgain);
  }

  private void servableAgain(BackendSession session) {
    servableAgain.add(session);
    if (closed) {
      closeServableAgain();
    }
  }

  /**
   * Closes the sessions waiting to serve again and the connections greeted late, and from now on
   * each one that comes.
   */
  void closeServableAgain() {
    closed = true;
    connector.close();
    BackendSession ready;
    while ((ready = servableAgain.poll()) != null) {
      ready.close();
    }
  }

  @Override
  public boolean reusable(BackendSession session, Instant now) {
    return session.reusable(now);
  }

  @Override
  public boolean withinLimits(BackendSession session, Instant now) {
    return session.withinLimits(now);
  }

  @Override
  public void idleFrom(BackendSession session, Instant now) {
    session.idleFrom(now);
  }

  @Override
  public void close(BackendSession session) {
    session.close();
  }
}
