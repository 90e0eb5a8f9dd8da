package io.github.rcptproxy.internal;

import io.github.rcptproxy.Health;
import io.github.rcptproxy.Verdict;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What a verifier counts; outlives reconfiguration. The verifier turns its {@link Snapshot} and
 * {@link Reading} into the API's {@code VerifierStats} and {@code Health}.
 */
public final class Counters {
  final LongAdder accepted = new LongAdder();
  final LongAdder rejected = new LongAdder();
  final LongAdder sessionsOpened = new LongAdder();
  final LongAdder sessionsClosed = new LongAdder();
  final LongAdder transactionsOpened = new LongAdder();
  private final LongAdder cacheHits = new LongAdder();
  private final LongAdder cacheMisses = new LongAdder();
  private volatile Instant lastAnswer;
  private volatile Instant lastErrorAt;
  private volatile String lastError;
  private final Map<Verdict.Reason, LongAdder> unverified = new EnumMap<>(Verdict.Reason.class);

  public Counters() {
    for (Verdict.Reason reason : Verdict.Reason.values()) {
      unverified.put(reason, new LongAdder());
    }
  }

  /** What has been counted so far. */
  public record Snapshot(
      long accepted,
      long rejected,
      Map<Verdict.Reason, Long> unverified,
      long sessionsOpened,
      long sessionsClosed,
      long transactionsOpened,
      long cacheHits,
      long cacheMisses) {}

  /** The backend's health as the verifier saw it; the times and error null where there was none. */
  public record Reading(
      Health.Status status, Instant lastAnswer, String lastError, Instant lastErrorAt) {}

  public void cacheHit() {
    cacheHits.increment();
  }

  public void cacheMiss() {
    cacheMisses.increment();
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

  public Reading health(boolean configured) {
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
    return new Reading(status, answer, lastError, errorAt);
  }

  public Snapshot snapshot() {
    Map<Verdict.Reason, Long> byReason = new EnumMap<>(Verdict.Reason.class);
    unverified.forEach((reason, count) -> byReason.put(reason, count.sum()));
    return new Snapshot(
        accepted.sum(),
        rejected.sum(),
        byReason,
        sessionsOpened.sum(),
        sessionsClosed.sum(),
        transactionsOpened.sum(),
        cacheHits.sum(),
        cacheMisses.sum());
  }
}
