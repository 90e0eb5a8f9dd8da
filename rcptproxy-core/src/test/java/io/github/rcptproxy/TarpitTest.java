package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.StderrCapture;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Exim refusing each unknown recipient after {@code delay = 3s}, as long as the default deadline:
 * those verifications are unverified, never a wrong answer, and the late refusal, waited for
 * outside the deadline, is measured and named in one warning.
 */
@RealServers
class TarpitTest {
  /** Exim answering each failed RCPT 3 s late, past the 2 s deadline of {@link #config}. */
  private static EximBackend tarpitted() {
    return EximBackend.start(EximBackend.Options.builder().tarpit(Duration.ofSeconds(3)).build());
  }

  private static VerifierConfig.Builder config(EximBackend exim) {
    return VerifierConfig.builder()
        .backend("127.0.0.1", exim.port())
        .deadline(Duration.ofMillis(2000));
  }

  @Test
  void aRefusalLaterThanTheDeadlineIsUnverifiedAndWarnedAboutOnce() {
    try (EximBackend exim = tarpitted();
        StderrCapture log = new StderrCapture();
        RecipientVerifier verifier = RecipientVerifier.create(config(exim).build())) {
      assertThat(verifier.verify(EximBackend.known(1))).isInstanceOf(Verdict.Accepted.class);
      for (int i = 0; i < 3; i++) {
        assertThat(verifier.verify(EximBackend.unknown(i)))
            .isInstanceOfSatisfying(
                Verdict.Unverified.class,
                u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.TIMEOUT));
        assertThat(verifier.verify(EximBackend.known(2 + i))).isInstanceOf(Verdict.Accepted.class);
      }
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(log.lines("later than the deadline of 2000 ms (a tarpit"))
                      .as(log.text())
                      .isEqualTo(1));
      assertThat(log.text()).containsPattern("refused a recipient after 3\\d\\d\\d ms");
    }
  }

  @Test
  void theSessionThatWaitedForItsLateRefusalServesTheNextVerifications() {
    try (EximBackend exim = tarpitted();
        StderrCapture log = new StderrCapture();
        RecipientVerifier verifier =
            RecipientVerifier.create(config(exim).maxSessions(1).build())) {
      assertThat(verifier.verify(EximBackend.known(1))).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify(EximBackend.unknown(1))).isInstanceOf(Verdict.Unverified.class);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> log.lines("later than the deadline of 2000 ms") == 1);
      long connections = connections(exim);

      for (int i = 0; i < 3; i++) {
        assertThat(verifier.verify(EximBackend.known(2 + i))).isInstanceOf(Verdict.Accepted.class);
      }

      assertThat(connections(exim)).as(exim.mainLog()).isEqualTo(connections);
    }
  }

  private static long connections(EximBackend exim) {
    return exim.mainLog().lines().filter(line -> line.contains("SMTP connection from")).count();
  }
}
