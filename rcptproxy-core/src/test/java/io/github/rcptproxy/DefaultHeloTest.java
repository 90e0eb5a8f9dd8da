package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.VerdictTally;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The default EHLO name passes a Postfix that wants a fully qualified one ({@code
 * reject_non_fqdn_helo_hostname}, which refused the original's {@code world}).
 */
@RealServers
class DefaultHeloTest {
  @Test
  void aPostfixRefusingNonFqdnHeloNamesAnswersTheDefaultConfiguration() {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "smtpd_helo_required = yes",
                "smtpd_helo_restrictions = reject_invalid_helo_hostname,"
                    + " reject_non_fqdn_helo_hostname",
                PostfixBackend.NO_INFLOW_DELAY))) {
      for (ProbeMethod method : ProbeMethod.values()) {
        VerifierConfig config =
            VerifierConfig.builder()
                .backend("127.0.0.1", postfix.port())
                .probeMethod(method)
                .build();
        VerdictTally tally =
            RealBackendsTest.run(
                    "Postfix, reject_non_fqdn_helo_hostname, " + method,
                    config,
                    PostfixBackend::known,
                    PostfixBackend::unknown)
                .tally();
        assertThat(tally.knownAccepted())
            .as(tally.toString())
            .isEqualTo(RealBackendsTest.VERIFICATIONS / 2);
        assertThat(tally.unknownRejected())
            .as(tally.toString())
            .isEqualTo(RealBackendsTest.VERIFICATIONS / 2);
      }
    }
  }
}
