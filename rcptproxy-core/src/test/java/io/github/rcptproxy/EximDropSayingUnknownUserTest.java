package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.VerdictTally;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real Exim whose unknown users are told {@code 550 5.1.1} and that drops a session on {@code
 * $rcpt_fail_count} (the RCPT after more than 2 failures), saying {@code 5.1.1} too, whatever the
 * address, then hangs up. That reply is about the session: where it is the last of its exchange
 * only the control asked after it finds the hang-up.
 */
@RealServers
class EximDropSayingUnknownUserTest {
  /** Unknown users and the drop both told {@code 550 5.1.1}. */
  private static EximBackend.Options.Builder dropping() {
    return EximBackend.Options.builder()
        .unknownUserWithMailboxCode()
        .dropAfterFailures(2, "5.1.1 Unknown user");
  }

  /** The verifier's configuration for {@code exim}, asking by RCPT (Exim refuses VRFY). */
  private static VerifierConfig.Builder byRcpt(EximBackend exim) {
    return RealBackendsTest.config(exim.port()).probeMethod(ProbeMethod.RCPT);
  }

  /**
   * Asked one address at a time: the drop answers a known address as often as not, in a transaction
   * that accepted addresses before; none is Rejected, also the first time, before the limit is
   * learnt.
   */
  @Test
  void oneByOneNoKnownAddressIsRejected() {
    try (EximBackend exim = EximBackend.start(dropping().build());
        RecipientVerifier verifier = RecipientVerifier.create(byRcpt(exim).build())) {
      VerdictTally tally = new VerdictTally();
      for (int i = 0; i < 40; i++) {
        boolean known = VerdictTally.isKnown(i);
        Verdict verdict = verifier.verify(known ? EximBackend.known(i) : EximBackend.unknown(i));
        tally.add(known, RealBackendsTest.outcome(verdict));
      }

      System.out.printf("Exim drop saying 5.1.1, one by one: %s%n", tally);
      assertThat(exim.mainLog()).contains("5.1.1 Unknown user");
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(20);
      assertThat(tally.unknownRejected()).as(tally.toString()).isEqualTo(20);
    }
  }

  /**
   * The common Exim tarpit: every RCPT after a failed one delayed (1 s), and a {@code drop} on
   * {@code $rcpt_fail_count} saying {@code 5.1.1}. The exchange that shows the delay teaches {@code
   * slowsAfterErrors} before its replies are settled, so its last reply, the drop's {@code 550
   * 5.1.1} to a known address, is taken for the mailbox without a control.
   */
  @Test
  void eximThatSlowsAfterFailuresAndDropsSaying511RejectsNoKnownAddress() {
    try (EximBackend exim =
            EximBackend.start(dropping().slowAfterFailures(Duration.ofSeconds(1)).build());
        RecipientVerifier verifier =
            RecipientVerifier.create(byRcpt(exim).deadline(Duration.ofSeconds(10)).build())) {
      // one failure, then an accepted address: the session goes on with a rejection taken
      List<Verdict> first =
          verifier.verifyAll(List.of(EximBackend.unknown(1), EximBackend.known(0)));
      // each RCPT delayed: the exchange teaches slowsAfterErrors; the 4th RCPT meets the drop
      List<Verdict> second =
          verifier.verifyAll(
              List.of(
                  EximBackend.known(2),
                  EximBackend.unknown(2),
                  EximBackend.unknown(3),
                  EximBackend.known(1)));
      System.out.printf("Exim slow after failures + drop 5.1.1: %s %s%n", first, second);
      assertThat(exim.mainLog()).contains("5.1.1 Unknown user");
      assertThat(first.get(1)).isInstanceOf(Verdict.Accepted.class);
      assertThat(second.get(0)).isInstanceOf(Verdict.Accepted.class);
      assertThat(second.get(3)).as(second.toString()).isNotInstanceOf(Verdict.Rejected.class);
    }
  }

  /**
   * Batches that each end on the drop, on a session that took no rejection before the batch: the
   * hang-up the control finds teaches the limit, so the drop is met once or twice in all, not once
   * per batch.
   */
  @Test
  void batchesEndingOnEximsDropLearnTheLimit() {
    try (EximBackend exim = EximBackend.start(dropping().build());
        RecipientVerifier verifier = RecipientVerifier.create(byRcpt(exim).build())) {
      VerdictTally tally = new VerdictTally();
      int batches = 10;
      for (int b = 0; b < batches; b++) {
        List<String> batch =
            List.of(
                EximBackend.known(2 * b),
                EximBackend.unknown(3 * b),
                EximBackend.unknown(3 * b + 1),
                EximBackend.unknown(3 * b + 2),
                EximBackend.known(2 * b + 1));
        List<Verdict> verdicts = verifier.verifyAll(batch);
        for (int i = 0; i < batch.size(); i++) {
          tally.add(i == 0 || i == 4, RealBackendsTest.outcome(verdicts.get(i)));
        }
      }
      long dropped = exim.mainLog().lines().filter(l -> l.contains("5.1.1 Unknown user")).count();
      System.out.printf(
          "Exim drop 5.1.1 after 2 failures, %d batches ending on it: %s; %d sessions, %d drops%n",
          batches, tally, verifier.stats().sessionsOpened(), dropped);
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
      assertThat(dropped).as("drops: the limit is learnt after the first").isLessThanOrEqualTo(2);
    }
  }

  /**
   * Concurrent single callers (gathered into pipelined groups) against Exim's drop saying {@code
   * 5.1.1}, with and without a delay after failures: no known address Rejected, no unknown one
   * Accepted, no verdict past the deadline.
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1})
  void gatheredCallersAgainstEximsDrop(int delaySeconds) throws Exception {
    EximBackend.Options.Builder options = dropping();
    if (delaySeconds > 0) {
      options.slowAfterFailures(Duration.ofSeconds(delaySeconds));
    }
    Duration deadline = Duration.ofSeconds(5);
    try (EximBackend exim = EximBackend.start(options.build());
        RecipientVerifier verifier =
            RecipientVerifier.create(byRcpt(exim).deadline(deadline).build())) {
      assertThat(verifier.verify(EximBackend.known(999))).isInstanceOf(Verdict.Accepted.class);
      // behind the delay, fewer: every delayed RCPT costs its second (128 addresses took 15 s)
      int callers = delaySeconds > 0 ? 8 : 16;
      int perCaller = delaySeconds > 0 ? 4 : 8;
      List<Verdict> verdicts =
          ConcurrentCallers.verify(
              verifier,
              callers,
              perCaller,
              n -> VerdictTally.isKnown(n) ? EximBackend.known(n) : EximBackend.unknown(n));
      VerdictTally tally = new VerdictTally();
      int late = 0;
      for (int n = 0; n < verdicts.size(); n++) {
        tally.add(VerdictTally.isKnown(n), RealBackendsTest.outcome(verdicts.get(n)));
        if (verdicts.get(n).latency().compareTo(deadline.plusMillis(50)) > 0) {
          late++;
        }
      }
      long dropped = exim.mainLog().lines().filter(l -> l.contains("5.1.1 Unknown user")).count();
      System.out.printf(
          "Exim drop 5.1.1 after 2, delay %d s, %d callers x %d: %s; %d sessions, %d drops, %d late%n",
          delaySeconds,
          callers,
          perCaller,
          tally,
          verifier.stats().sessionsOpened(),
          dropped,
          late);
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
      assertThat(late).isZero();
    }
  }
}
