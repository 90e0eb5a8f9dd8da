package io.github.rcptproxy.internal;

import io.github.rcptproxy.VerifierConfig;
import java.io.IOException;
import java.time.Instant;

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

  @Override
  public BackendSession open(Deadline deadline) throws IOException {
    return new BackendSession(
        connector, config, limits, probeSender, deadline, counters.transactionsOpened::increment);
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
