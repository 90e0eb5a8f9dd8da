package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.MutableClock;
import java.net.ConnectException;
import java.time.Clock;
import java.time.Duration;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The session pool on fake sessions: reuse, places, expiry, failures, closing. No sockets. */
class SessionPoolTest {
  private static final Duration DEADLINE = Duration.ofSeconds(5);

  private final FakeSessions sessions = new FakeSessions();
  private final Counters counters = new Counters();
  private SessionPool<FakeSessions.Session> pool;

  @AfterEach
  void close() {
    if (pool != null) {
      pool.close();
    }
  }

  private SessionPool<FakeSessions.Session> pool(int maxSessions) {
    return pool(VerifierConfig.builder().maxSessions(maxSessions).clock(new MutableClock()));
  }

  private SessionPool<FakeSessions.Session> pool(VerifierConfig.Builder config) {
    pool = new SessionPool<>(sessions, config.build(), counters);
    return pool;
  }

  private static Deadline deadline() {
    return Deadline.after(DEADLINE);
  }

  @Test
  void aReturnedSessionIsLentAgainAndOnlyOneIsOpened() throws Exception {
    pool(2);

    FakeSessions.Session first = pool.borrow(deadline());
    assertThat(pool.active()).isEqualTo(1);
    pool.release(first);
    assertThat(pool.idle()).isEqualTo(1);
    assertThat(first.idleFrom).as("idle since its return").isNotNull();
    FakeSessions.Session again = pool.borrow(deadline());

    assertThat(again).isSameAs(first);
    assertThat(sessions.opened).hasSize(1);
    assertThat(counters.snapshot().sessionsOpened()).isEqualTo(1);
  }

  @Test
  void aSessionWornOutInUseIsClosedOnReturnNotKept() throws Exception {
    pool(2);
    FakeSessions.Session session = pool.borrow(deadline());

    session.wornOut = true;
    pool.release(session);

    assertThat(session.closed).isTrue();
    assertThat(pool.idle()).isZero();
    assertThat(counters.snapshot().sessionsClosed()).isEqualTo(1);
    assertThat(pool.borrow(deadline())).isNotSameAs(session);
  }

  @Test
  void aSessionThatWentStaleWhileIdleIsClosedAndReplacedAtBorrow() throws Exception {
    pool(1);
    FakeSessions.Session session = pool.borrow(deadline());
    pool.release(session);

    session.stale = true; // e.g. the backend's idle 421 is waiting on it
    FakeSessions.Session fresh = pool.borrow(deadline());

    assertThat(fresh).isNotSameAs(session);
    assertThat(session.closed).isTrue();
    assertThat(sessions.opened).hasSize(2);
  }

  @Test
  void whatOpeningThrowsReachesTheBorrowerAndGivesThePlaceBack() throws Exception {
    pool(1);
    sessions.openFails = FakeSessions.connectionRefused();

    assertThatThrownBy(() -> pool.borrow(deadline())).isInstanceOf(ConnectException.class);

    sessions.openFails = null;
    long started = System.nanoTime();
    assertThat(pool.borrow(deadline())).isNotNull();
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(DEADLINE.dividedBy(2));
    assertThat(counters.snapshot().sessionsOpened()).isEqualTo(1);
  }

  @Test
  void withEveryPlaceTakenABorrowerGivesUpAtItsDeadline() throws Exception {
    pool(1);
    pool.borrow(deadline());

    long started = System.nanoTime();
    assertThatThrownBy(() -> pool.borrow(Deadline.after(Duration.ofMillis(200))))
        .isInstanceOf(NoSuchElementException.class);

    assertThat(Duration.ofNanos(System.nanoTime() - started))
        .isBetween(Duration.ofMillis(150), Duration.ofSeconds(2));
    assertThat(sessions.opened).hasSize(1);
  }

  @Test
  void aPlaceGivenBackGoesToTheWaiter() throws Exception {
    pool(1);
    FakeSessions.Session held = pool.borrow(deadline());
    CompletableFuture<FakeSessions.Session> waiter = borrowElsewhere();

    pool.release(held);

    assertThat(waiter.get(5, TimeUnit.SECONDS)).isSameAs(held);
  }

  @Test
  void closingWakesTheWaitersAndClosesEverySessionAsItComesBack() throws Exception {
    pool(1);
    FakeSessions.Session held = pool.borrow(deadline());
    CompletableFuture<FakeSessions.Session> waiter = borrowElsewhere();

    pool.close();

    assertThat(waiter)
        .failsWithin(Duration.ofSeconds(1))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCauseInstanceOf(IllegalStateException.class);
    pool.release(held);
    assertThat(held.closed).isTrue();
    assertThatThrownBy(() -> pool.borrow(deadline())).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void discardingIdleSessionsClosesThemAndLeavesBorrowedOnesAlone() throws Exception {
    pool(3);
    FakeSessions.Session a = pool.borrow(deadline());
    FakeSessions.Session b = pool.borrow(deadline());
    FakeSessions.Session busy = pool.borrow(deadline());
    pool.release(a);
    pool.release(b);

    pool.discardIdle();

    assertThat(a.closed).isTrue();
    assertThat(b.closed).isTrue();
    assertThat(busy.closed).isFalse();
    assertThat(pool.idle()).isZero();
    assertThat(pool.active()).isEqualTo(1);
  }

  @Test
  void theEvictorClosesIdleSessionsThatStoppedBeingReusable() throws Exception {
    pool(
        VerifierConfig.builder()
            .maxSessions(1)
            .clock(Clock.systemUTC())
            .idleTimeout(Duration.ofMillis(40))); // the evictor runs every 10 ms
    FakeSessions.Session session = pool.borrow(deadline());
    pool.release(session);

    session.stale = true;

    await().atMost(Duration.ofSeconds(5)).until(() -> session.closed);
    assertThat(pool.idle()).isZero();
    assertThat(counters.snapshot().sessionsClosed()).isEqualTo(1);
  }

  /** A borrow on another thread, started once this thread's borrow is known to be waiting. */
  private CompletableFuture<FakeSessions.Session> borrowElsewhere() {
    CompletableFuture<FakeSessions.Session> result = new CompletableFuture<>();
    Thread thread =
        new Thread(
            () -> {
              try {
                result.complete(pool.borrow(deadline()));
              } catch (Exception e) {
                result.completeExceptionally(e);
              }
            },
            "waiting-borrower");
    thread.setDaemon(true);
    thread.start();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> thread.getState() == Thread.State.TIMED_WAITING);
    return result;
  }
}
