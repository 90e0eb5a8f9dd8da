package io.github.rcptproxy;

import java.util.Map;

/**
 * A snapshot of what a verifier has done since it was created (counters survive {@link
 * RecipientVerifier#reconfigure}), and of the sessions it holds now.
 *
 * @param accepted verifications answered {@link Verdict.Accepted}
 * @param rejected verifications answered {@link Verdict.Rejected}
 * @param unverified verifications answered {@link Verdict.Unverified}, by reason (every reason
 *     present, zero where none)
 * @param sessionsActive sessions busy with a verification now
 * @param sessionsIdle sessions open and waiting in the pool now
 * @param sessionsOpened backend connections opened (greeted and introduced)
 * @param sessionsClosed backend connections closed
 * @param transactionsOpened probe transactions opened ({@code MAIL FROM} accepted)
 * @param cacheHits verdicts answered from the verdict cache
 * @param cacheMisses cache look-ups that had to ask the backend
 */
public record VerifierStats(
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

  public VerifierStats {
    unverified = Map.copyOf(unverified);
  }

  /** All verifications answered, whatever the verdict. */
  public long verifications() {
    return accepted + rejected + unverified.values().stream().mapToLong(Long::longValue).sum();
  }
}
