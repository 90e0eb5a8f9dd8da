package io.github.rcptproxy.internal;

import io.github.rcptproxy.VerifierConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.NoSuchElementException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.commons.pool2.BasePooledObjectFactory;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import org.apache.commons.pool2.impl.GenericObjectPool;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;

/**
 * The cached sessions to one backend, in a Commons Pool 2 pool. Idle timeout and maximum age are
 * enforced both by the pool's evictor and at borrow, by looking at the session's clocks (no round
 * trip). A session is created in the borrowing thread within that verification's deadline.
 *
 * <p>Waiting for a free session is a wait for one of {@code maxSessions} places (a fair semaphore),
 * not for the pool: a place is given back when its session is returned or destroyed, and closing
 * the pool wakes every waiter (no interrupts, no polling). The pool itself never blocks.
 *
 * @param <S> the sessions: {@link BackendSession}, or a test's fake
 */
final class SessionPool<S> implements AutoCloseable {
  private static final Duration MIN_EVICTION_INTERVAL = Duration.ofMillis(10);
  private static final Duration MAX_EVICTION_INTERVAL = Duration.ofSeconds(30);
  private static final int WAKE_ALL = 1_000_000;

  /** The deadline of the verification that is borrowing, for a session created on the way. */
  private static final ThreadLocal<Deadline> BORROW_DEADLINE = new ThreadLocal<>();

  /** What the pool needs of its sessions; {@link BackendSessions} for the backend's. */
  interface Sessions<S> {
    /** A new session, opened within the borrowing verification's deadline. */
    S open(Deadline deadline) throws Exception;

    /**
     * Whether the session may serve the borrower: {@link #withinLimits}, and nothing unasked. One
     * found not reusable must not be {@link #withinLimits} any more, so that giving it back closes
     * it.
     */
    boolean reusable(S session, Instant now);

    /** Whether the session may go back to the pool: not broken, not worn out, not expired. */
    boolean withinLimits(S session, Instant now);

    /** The session went back to the pool now, for its idle timeout. */
    void idleFrom(S session, Instant now);

    void close(S session);
  }

  private final GenericObjectPool<S> pool;
  private final Sessions<S> sessions;
  private final Clock clock;
  private final Semaphore places;
  private volatile boolean closed;

  SessionPool(Sessions<S> sessions, VerifierConfig config, Counters counters) {
    this.sessions = sessions;
    this.clock = config.clock();
    this.places = new Semaphore(config.maxSessions(), true);
    GenericObjectPoolConfig<S> poolConfig = new GenericObjectPoolConfig<>();
    poolConfig.setMaxTotal(config.maxSessions());
    poolConfig.setMaxIdle(config.maxSessions());
    poolConfig.setMinIdle(0);
    poolConfig.setBlockWhenExhausted(false); // a place is held before borrowing
    poolConfig.setLifo(true); // reuse the warmest session; the rest expire when load drops
    poolConfig.setTestOnBorrow(false); // borrow() checks, and loops on a stale session
    poolConfig.setTestOnReturn(true); // a broken or worn-out session is destroyed on return
    poolConfig.setJmxEnabled(false);
    poolConfig.setNumTestsPerEvictionRun(config.maxSessions());
    poolConfig.setTimeBetweenEvictionRuns(evictionInterval(config));
    pool = new GenericObjectPool<>(new Factory<>(sessions, clock, counters), poolConfig);
    pool.setEvictionPolicy(
        (evictionConfig, session, idleCount) ->
            !sessions.reusable(session.getObject(), clock.instant()));
  }

  private static Duration evictionInterval(VerifierConfig config) {
    Duration shortest =
        config.idleTimeout().compareTo(config.maxSessionAge()) < 0
            ? config.idleTimeout()
            : config.maxSessionAge();
    Duration interval = shortest.dividedBy(4);
    if (interval.compareTo(MIN_EVICTION_INTERVAL) < 0) {
      return MIN_EVICTION_INTERVAL;
    }
    return interval.compareTo(MAX_EVICTION_INTERVAL) > 0 ? MAX_EVICTION_INTERVAL : interval;
  }

  /**
   * A session for one verification: an idle one, or a new one, waiting at most until the deadline
   * for a free place.
   *
   * @throws NoSuchElementException if every session stayed busy until the deadline (or until less
   *     than a tenth of it was left)
   * @throws IllegalStateException if the pool was closed (by reconfiguration)
   * @throws Exception what connecting to the backend threw
   */
  S borrow(Deadline deadline) throws Exception {
    if (!places.tryAcquire(deadline.remaining().toNanos(), TimeUnit.NANOSECONDS)) {
      throw new NoSuchElementException("no session free within the deadline");
    }
    if (deadline.nearlySpent()) {
      // The wait took the deadline: the pool was saturated (BUSY), not the backend slow.
      places.release();
      throw new NoSuchElementException("no session free until the deadline was nearly spent");
    }
    boolean lent = false;
    BORROW_DEADLINE.set(deadline);
    try {
      while (true) {
        if (closed) {
          throw new IllegalStateException("pool closed");
        }
        S session = pool.borrowObject();
        if (sessions.reusable(session, clock.instant())) {
          lent = true;
          return session;
        }
        pool.returnObject(session); // destroyed there: expired, or the backend spoke unasked
      }
    } finally {
      BORROW_DEADLINE.remove();
      if (!lent) {
        places.release();
      }
    }
  }

  /**
   * Gives the session back; the pool keeps it only if {@link Sessions#withinLimits} (checked on
   * return). Not {@code invalidateObject}: since Commons Pool 2.13 that opens a replacement at
   * once, in the caller's thread, even when nobody needs one.
   */
  void release(S session) {
    try {
      pool.returnObject(session);
    } catch (IllegalStateException e) {
      sessions.close(session); // the pool no longer knows it; do not leak the socket
    } finally {
      places.release();
    }
  }

  /** Whether verifications are waiting for a free session now. */
  boolean othersWaiting() {
    return places.hasQueuedThreads();
  }

  /** Closes every idle session: after one died under us, the others likely did too. */
  void discardIdle() {
    pool.clear();
  }

  int active() {
    return pool.getNumActive();
  }

  int idle() {
    return pool.getNumIdle();
  }

  /**
   * Closes idle sessions now; busy ones are closed when released. Verifications waiting for a place
   * wake at once and learn that the pool is closed.
   */
  @Override
  public void close() {
    closed = true;
    pool.close();
    places.release(WAKE_ALL);
  }

  private static final class Factory<S> extends BasePooledObjectFactory<S> {
    private final Sessions<S> sessions;
    private final Clock clock;
    private final Counters counters;

    Factory(Sessions<S> sessions, Clock clock, Counters counters) {
      this.sessions = sessions;
      this.clock = clock;
      this.counters = counters;
    }

    @Override
    public S create() throws Exception {
      Deadline deadline = BORROW_DEADLINE.get();
      if (deadline == null) {
        // The pool wants a session outside borrow() (a replacement, in a releasing caller's thread,
        // past that caller's deadline). Refused (the pool swallows this): borrowers open their own.
        throw new IllegalStateException("sessions are opened only by a borrowing verification");
      }
      S session = sessions.open(deadline);
      counters.sessionsOpened.increment();
      return session;
    }

    @Override
    public PooledObject<S> wrap(S session) {
      return new DefaultPooledObject<>(session);
    }

    /** On return (borrow() checks more, just before use). */
    @Override
    public boolean validateObject(PooledObject<S> session) {
      return sessions.withinLimits(session.getObject(), clock.instant());
    }

    @Override
    public void passivateObject(PooledObject<S> session) {
      sessions.idleFrom(session.getObject(), clock.instant());
    }

    @Override
    public void destroyObject(PooledObject<S> session) {
      sessions.close(session.getObject());
      counters.sessionsClosed.increment();
    }
  }
}
