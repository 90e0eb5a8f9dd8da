package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.VerdictTally;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Single-address verifications of concurrent callers that go by RCPT are gathered and asked
 * together, in one pipelined RCPT exchange on one session, and each still gets its own right
 * verdict.
 */
@RealServers
class GatheredCallersTest {
  private static final int CALLERS = 20;
  private static final int PER_CALLER = 10;

  private static VerdictTally tally(List<Verdict> verdicts) {
    VerdictTally tally = new VerdictTally();
    for (int i = 0; i < verdicts.size(); i++) {
      tally.add(VerdictTally.isKnown(i), RealBackendsTest.outcome(verdicts.get(i)));
    }
    return tally;
  }

  @Test
  void concurrentCallersCostPostfixFewerExchangesThanAddressesAndEachGetsItsVerdict()
      throws Exception {
    try (CommandCountingProxy proxy =
            new CommandCountingProxy(PostfixBackend.shared().port(), "RCPT");
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(proxy.port()).probeMethod(ProbeMethod.RCPT).build())) {
      assertThat(verifier.verify(PostfixBackend.known(999))).isInstanceOf(Verdict.Accepted.class);
      int before = proxy.chunks();

      List<Verdict> verdicts =
          ConcurrentCallers.verify(
              verifier,
              CALLERS,
              PER_CALLER,
              i -> VerdictTally.isKnown(i) ? PostfixBackend.known(i) : PostfixBackend.unknown(i));

      VerdictTally tally = tally(verdicts);
      int exchanges = proxy.chunks() - before;
      System.out.printf("Postfix, %d callers: %s in %d exchanges%n", CALLERS, tally, exchanges);
      assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(CALLERS * PER_CALLER / 2);
      assertThat(tally.unknownRejected()).as(tally.toString()).isEqualTo(CALLERS * PER_CALLER / 2);
      // Asked one by one, each address takes an exchange of its own: 200.
      assertThat(exchanges).isLessThan(CALLERS * PER_CALLER * 3 / 4);
    }
  }

  @Test
  void concurrentCallersAgainstEximEachGetTheirVerdictWhereRefusalsNeedTheControl()
      throws Exception {
    // Exim refuses an unknown address without a mailbox code: each group's refusals are confirmed
    // by the known-good address accepted after them.
    try (EximBackend exim = EximBackend.start();
        RecipientVerifier verifier =
            RecipientVerifier.create(RealBackendsTest.config(exim.port()).build())) {
      List<Verdict> verdicts =
          ConcurrentCallers.verify(
              verifier,
              CALLERS,
              PER_CALLER,
              i -> VerdictTally.isKnown(i) ? EximBackend.known(i / 2) : EximBackend.unknown(i));

      VerdictTally tally = tally(verdicts);
      System.out.printf("Exim, %d callers: %s%n", CALLERS, tally);
      assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(CALLERS * PER_CALLER / 2);
      assertThat(tally.unknownRejected()).as(tally.toString()).isEqualTo(CALLERS * PER_CALLER / 2);
    }
  }
}
