package io.github.rcptproxy;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** What a verifier counts; outlives reconfiguration. */
final class Counters {
  final LongAdder accepted = new LongAdder();
  final LongAdder rejected = new LongAdder();
  final LongAdder sessionsOpened = new LongAdder();
  final LongAdder sessionsClosed = new LongAdder();
  final LongAdder transactionsOpened = new LongAdder();
  private final Map<Verdict.Reason, LongAdder> unverified = new EnumMap<>(Verdict.Reason.class);

  Counters() {
    for (Verdict.Reason reason : Verdict.Reason.values()) {
      unverified.put(reason, new LongAdder());
    }
  }

  void count(Verdict verdict) {
    if (verdict instanceof Verdict.Accepted) {
      accepted.increment();
    } else if (verdict instanceof Verdict.Rejected) {
      rejected.increment();
    } else if (verdict instanceof Verdict.Unverified u) {
      unverified.get(u.reason()).increment();
    }
  }

  VerifierStats snapshot(int sessionsActive, int sessionsIdle) {
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
        transactionsOpened.sum());
  }
}
