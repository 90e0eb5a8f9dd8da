package io.github.rcptproxy.internal;

import io.github.rcptproxy.Health;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierStats;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** What a verifier counts; outlives reconfiguration. */
public final class Counters {
  final LongAdder accepted = new LongAdder();
  final LongAdder rejected = new LongAdder();
  final LongAdder sessionsOpened = new LongAdder();
  final LongAdder sessionsClosed = new LongAdder();
  final LongAdder transactionsOpened = new LongAdder();
  public final LongAdder cacheHits = new LongAdder();
  public final LongAdder cacheMisses = new LongAdder();
  private volatile Instant lastAnswer;
  private volatile Instant lastErrorAt;
  private volatile String lastError;
  private final Map<Verdict.Reason, LongAdder> unverified = new EnumMap<>(Verdict.Reason.class);

  public Counters() {
    for (Verdict.Reason reason : Verdict.Reason.values()) {
      unverified.put(reason, new LongAdder());
    }
  }

  public void count(Verdict verdict) {
    if (verdict instanceof Verdict.Accepted) {
      accepted.increment();
    } else if (verdict instanceof Verdict.Rejected) {
      rejected.increment();
    } else if (verdict instanceof Verdict.Unverified u) {
      unverified.get(u.reason()).increment();
    }
  }

  /** Notes whether the backend answered (for {@link Health}); cached verdicts say nothing. */
  public void backendOutcome(Verdict verdict, Instant now) {
    if (verdict instanceof Verdict.Unverified u) {
      switch (u.reason()) {
        case TIMEOUT, BACKEND_UNAVAILABLE, PROTOCOL_ERROR, TLS_FAILED, AUTH_FAILED -> {
          lastError = u.reason() + ": " + u.detail();
          lastErrorAt = now;
          return;
        }
        case INVALID_ADDRESS, NOT_CONFIGURED, BUSY -> {
          return; // nothing was learnt about the backend (BUSY: our own sessions were all taken)
        }
        default -> {}
      }
    }
    lastAnswer = now;
  }

  public Health health(boolean configured) {
    Instant answer = lastAnswer;
    Instant errorAt = lastErrorAt;
    Health.Status status;
    if (!configured) {
      status = Health.Status.NOT_CONFIGURED;
    } else if (answer == null && errorAt == null) {
      status = Health.Status.UNKNOWN;
    } else if (errorAt == null || answer != null && answer.isAfter(errorAt)) {
      status = Health.Status.UP;
    } else {
      status = Health.Status.DOWN;
    }
    return new Health(status, answer, lastError, errorAt);
  }

  public VerifierStats snapshot(int sessionsActive, int sessionsIdle) {
    Map<Verdict.Reason, Long> byReason = new EnumMap<>(Verdict.Reason.class);
    unverified.forEach((reason, count) -> byReason.put(reason, count.sum()));
    return new VerifierStats(
        accepted.sum(),
        rejected.sum(),
        byReason,
        sessionsActive,
        sessionsIdle,
        sessionsOpened.sum(),
        sessionsClosed.sum(),
        transactionsOpened.sum(),
        cacheHits.sum(),
        cacheMisses.sum());
  }
}
