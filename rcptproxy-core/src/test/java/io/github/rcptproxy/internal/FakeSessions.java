package io.github.rcptproxy.internal;

import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.MutableClock;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sessions without sockets for {@link SessionPool} and {@link BatchRun}, with switches to make them
 * fail the way backend sessions do: opening fails, a session goes stale while idle, or wears out in
 * use (as Commons Pool tests its pool with a factory that fails on demand).
 */
final class FakeSessions implements SessionPool.Sessions<FakeSessions.Session> {

  /** One fake session: its number in opening order, and what the pool did with it. */
  static final class Session {
    final int number;
    volatile boolean stale;
    volatile boolean wornOut;
    volatile boolean closed;
    volatile Instant idleFrom;

    Session(int number) {
      this.number = number;
    }

    @Override
    public String toString() {
      return "fake session " + number;
    }
  }

  /** A pool of these sessions and a batch run over it; the test closes the pool. */
  record Run(SessionPool<Session> pool, BatchRun<Session> batchRun) {}

  /**
   * A pool of these sessions and a batch run over it with {@code dialogue}, as the verifier builds
   * them: at most {@code maxSessions}, {@code rejectionsPerSession} rejections a session, a test's
   * clock.
   */
  Run batchRun(
      int maxSessions,
      int rejectionsPerSession,
      BatchRun.Answerer<Session> dialogue,
      ExecutorService batchThreads) {
    VerifierConfig config =
        VerifierConfig.builder()
            .maxSessions(maxSessions)
            .maxRejectionsPerSession(rejectionsPerSession)
            .clock(new MutableClock())
            .build();
    SessionPool<Session> pool = new SessionPool<>(this, config, new Counters());
    return new Run(
        pool,
        new BatchRun<>(
            maxSessions,
            new SessionLimits(config),
            pool,
            dialogue,
            new FailureVerdicts(config, new MisconfigurationWarnings("")),
            batchThreads));
  }

  final List<Session> opened = new CopyOnWriteArrayList<>();
  private final AtomicInteger numbers = new AtomicInteger();

  /** Every open() throws this while set. */
  volatile IOException openFails;

  @Override
  public Session open(Deadline deadline) throws IOException {
    IOException failure = openFails;
    if (failure != null) {
      throw failure;
    }
    Session session = new Session(numbers.incrementAndGet());
    opened.add(session);
    return session;
  }

  /** As a backend session: one found stale is worn out from then on, and closed when returned. */
  @Override
  public boolean reusable(Session session, Instant now) {
    if (session.stale) {
      session.wornOut = true;
    }
    return withinLimits(session, now);
  }

  @Override
  public boolean withinLimits(Session session, Instant now) {
    return !session.wornOut && !session.closed;
  }

  @Override
  public void idleFrom(Session session, Instant now) {
    session.idleFrom = now;
  }

  @Override
  public void close(Session session) {
    session.closed = true;
  }

  long closed() {
    return opened.stream().filter(session -> session.closed).count();
  }

  static IOException connectionRefused() {
    return new ConnectException("Connection refused");
  }
}
