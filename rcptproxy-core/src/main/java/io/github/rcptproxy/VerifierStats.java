package io.github.rcptproxy;

import java.util.Map;

/**
 * A snapshot of what a verifier has done since it was created (counters survive {@link
 * RecipientVerifier#reconfigure}), and of the sessions it holds now. A final class rather than a
 * record, so that later versions can add figures without breaking callers.
 */
public final class VerifierStats {
  private final long accepted;
  private final long rejected;
  private final Map<Verdict.Reason, Long> unverified;
  private final int sessionsActive;
  private final int sessionsIdle;
  private final long sessionsOpened;
  private final long sessionsClosed;
  private final long transactionsOpened;
  private final long cacheHits;
  private final long cacheMisses;

  VerifierStats(
      long accepted,
      long rejected,
      Map<Verdict.Reason, Long> unverified,
      int sessionsActive,
      int sessionsIdle,
      long sessionsOpened,
      long sessionsClosed,
      long transactionsOpened,
      long cacheHits,
      long cacheMisses) {
    this.accepted = accepted;
    this.rejected = rejected;
    this.unverified = Map.copyOf(unverified);
    this.sessionsActive = sessionsActive;
    this.sessionsIdle = sessionsIdle;
    this.sessionsOpened = sessionsOpened;
    this.sessionsClosed = sessionsClosed;
    this.transactionsOpened = transactionsOpened;
    this.cacheHits = cacheHits;
    this.cacheMisses = cacheMisses;
  }

  /** Verifications answered {@link Verdict.Accepted}. */
  public long accepted() {
    return accepted;
  }

  /** Verifications answered {@link Verdict.Rejected}. */
  public long rejected() {
    return rejected;
  }

  /** Verifications answered {@link Verdict.Unverified}, by reason (every reason present). */
  public Map<Verdict.Reason, Long> unverified() {
    return unverified;
  }

  /** Sessions busy with a verification now. */
  public int sessionsActive() {
    return sessionsActive;
  }

  /** Sessions open and waiting in the pool now. */
  public int sessionsIdle() {
    return sessionsIdle;
  }

  /** Backend connections opened (greeted and introduced). */
  public long sessionsOpened() {
    return sessionsOpened;
  }

  /** Backend connections closed. */
  public long sessionsClosed() {
    return sessionsClosed;
  }

  /** Probe transactions opened ({@code MAIL FROM} accepted). */
  public long transactionsOpened() {
    return transactionsOpened;
  }

  /** Verdicts answered from the verdict cache. */
  public long cacheHits() {
    return cacheHits;
  }

  /** Cache look-ups that had to ask the backend. */
  public long cacheMisses() {
    return cacheMisses;
  }

  /** All verifications answered, whatever the verdict. */
  public long verifications() {
    return accepted + rejected + unverified.values().stream().mapToLong(Long::longValue).sum();
  }

  @Override
  public String toString() {
    return "VerifierStats{accepted="
        + accepted
        + ", rejected="
        + rejected
        + ", unverified="
        + unverified
        + ", sessionsActive="
        + sessionsActive
        + ", sessionsIdle="
        + sessionsIdle
        + ", sessionsOpened="
        + sessionsOpened
        + ", sessionsClosed="
        + sessionsClosed
        + ", transactionsOpened="
        + transactionsOpened
        + ", cacheHits="
        + cacheHits
        + ", cacheMisses="
        + cacheMisses
        + "}";
  }
}
