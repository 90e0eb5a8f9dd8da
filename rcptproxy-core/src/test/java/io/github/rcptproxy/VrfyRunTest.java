package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.VerdictTally;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A {@code 252} to VRFY is taken as "exists" only where a refusal of VRFY follows it on the same
 * session; with callers waiting for sessions one refusal (a random local part, or the next caller's
 * unknown address) confirms several {@code 252}s, and still never a blanket one.
 */
@RealServers
class VrfyRunTest {
  private static final int CALLERS = 20;
  private static final String RANDOM_VRFY = "VRFY <rcptproxy-";

  private static RecipientVerifier postfixVerifier(CommandCountingProxy proxy) {
    RecipientVerifier verifier =
        RecipientVerifier.create(
            RealBackendsTest.config(proxy.port()).probeMethod(ProbeMethod.VRFY).build());
    // The first address learns a known-good address (by RCPT), the second VRFY's honesty.
    assertThat(verifier.verify(PostfixBackend.known(998))).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify(PostfixBackend.known(999))).isInstanceOf(Verdict.Accepted.class);
    return verifier;
  }

  @Test
  void oneRandomRefusalConfirmsSeveral252sOfConcurrentCallers() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    try (CommandCountingProxy proxy = new CommandCountingProxy(postfix.port(), RANDOM_VRFY);
        RecipientVerifier verifier = postfixVerifier(proxy)) {
      int before = proxy.count();

      List<Verdict> verdicts =
          ConcurrentCallers.verify(verifier, CALLERS, 10, PostfixBackend::known);

      assertThat(verdicts)
          .hasSize(CALLERS * 10)
          .allSatisfy(v -> assertThat(v).isInstanceOf(Verdict.Accepted.class));
      System.out.printf("%d known, %d random VRFYs%n", verdicts.size(), proxy.count() - before);
      // One random VRFY after each 252 would be 200.
      assertThat(proxy.count() - before).isLessThan(CALLERS * 10 * 3 / 4);
    }
  }

  @Test
  void unknownAddressesRefusedConfirmThe252sBeforeThem() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    try (CommandCountingProxy proxy = new CommandCountingProxy(postfix.port(), RANDOM_VRFY);
        RecipientVerifier verifier = postfixVerifier(proxy)) {
      int before = proxy.count();

      List<Verdict> verdicts =
          ConcurrentCallers.verify(
              verifier,
              CALLERS,
              10,
              i -> i % 2 == 0 ? PostfixBackend.known(i) : PostfixBackend.unknown(i));

      VerdictTally tally = new VerdictTally();
      for (int i = 0; i < verdicts.size(); i++) {
        tally.add(i % 2 == 0, RealBackendsTest.outcome(verdicts.get(i)));
      }
      assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(CALLERS * 5);
      assertThat(tally.unknownRejected()).as(tally.toString()).isEqualTo(CALLERS * 5);
      System.out.printf("%s, %d random VRFYs%n", tally, proxy.count() - before);
      // One random VRFY after each 252 would be 100; the unknown addresses' refusals stand in.
      assertThat(proxy.count() - before).isLessThan(CALLERS * 5 * 3 / 4);
    }
  }

  @Test
  void twentyConcurrentCallersPastAnEximVrfyRateLimitGetNoUnknownAccepted() throws Exception {
    try (EximBackend exim =
            EximBackend.start(EximBackend.Options.builder().vrfyRateLimit(30).build());
        CommandCountingProxy proxy = new CommandCountingProxy(exim.port(), RANDOM_VRFY);
        RecipientVerifier verifier =
            RecipientVerifier.create(RealBackendsTest.config(proxy.port()).build())) {
      List<Verdict> verdicts =
          ConcurrentCallers.verify(
              verifier,
              CALLERS,
              10,
              i -> VerdictTally.isKnown(i) ? EximBackend.known(i / 2) : EximBackend.unknown(i));

      VerdictTally tally = new VerdictTally();
      for (int i = 0; i < verdicts.size(); i++) {
        tally.add(VerdictTally.isKnown(i), RealBackendsTest.outcome(verdicts.get(i)));
      }
      System.out.printf("Exim VRFY ratelimit 30/1m, %d callers: %s%n", CALLERS, tally);
      assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(CALLERS * 5);
    }
  }
}
