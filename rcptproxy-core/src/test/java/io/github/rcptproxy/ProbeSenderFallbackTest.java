package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.StderrCapture;
import io.github.rcptproxy.testing.VerdictTally;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * Backends that refuse the probe sender: the verifier replaces it with {@code postmaster@} the
 * domain, warns once, and verifies as well as with a sender they take.
 */
@RealServers
class ProbeSenderFallbackTest {
  private static final String FALLBACK_WARNING = "it takes <postmaster@example.test>";

  /**
   * Every run: no real mailbox refused, at least 95 % of the unknown ones refused, one warning
   * where the fallback was needed, none where not.
   */
  private static void verifiesRight(
      String label,
      VerifierConfig config,
      IntFunction<String> known,
      IntFunction<String> unknown,
      int warnings) {
    try (StderrCapture log = new StderrCapture()) {
      VerdictTally tally = RealBackendsTest.run(label, config, known, unknown).tally();
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.knownAccepted())
          .as(tally.toString())
          .isEqualTo(RealBackendsTest.VERIFICATIONS / 2);
      assertThat(tally.unknownRejected())
          .as(tally.toString())
          .isGreaterThanOrEqualTo(RealBackendsTest.VERIFICATIONS / 2 * 95 / 100);
      assertThat(log.lines(FALLBACK_WARNING)).as(log.text()).isEqualTo(warnings);
    }
  }

  @Test
  void eximRefusingTheNullSenderAtMail() {
    try (EximBackend exim =
        EximBackend.start(EximBackend.Options.builder().nullSenderRefusedAtMail().build())) {
      verifiesRight(
          "Exim, MAIL FROM:<> refused",
          RealBackendsTest.config(exim.port()).build(),
          EximBackend::known,
          EximBackend::unknown,
          1);
    }
  }

  @Test
  void postfixRefusingTheNullSenderAtRcptThroughAnAccessMap() {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "smtpd_recipient_restrictions = check_sender_access inline:{<>=REJECT}",
                PostfixBackend.NO_INFLOW_DELAY))) {
      for (ProbeMethod method : ProbeMethod.values()) {
        verifiesRight(
            "Postfix, <> REJECT, " + method,
            RealBackendsTest.config(postfix.port()).probeMethod(method).build(),
            PostfixBackend::known,
            PostfixBackend::unknown,
            1); // VRFY has no sender, but a fresh verifier asks its first batch with RCPT
      }
    }
  }

  @Test
  void postfixRefusingAProbeSenderWhoseDomainDoesNotResolve() {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "smtpd_sender_restrictions = reject_unknown_sender_domain",
                PostfixBackend.NO_INFLOW_DELAY))) {
      verifiesRight(
          "Postfix, reject_unknown_sender_domain",
          RealBackendsTest.config(postfix.port())
              .probeSender("probe@nowhere.invalid")
              .probeMethod(ProbeMethod.RCPT)
              .build(),
          PostfixBackend::known,
          PostfixBackend::unknown,
          1);
    }
  }
}
