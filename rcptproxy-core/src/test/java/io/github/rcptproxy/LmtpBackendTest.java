package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.DovecotBackend;
import io.github.rcptproxy.testing.RealServers;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Verification against a real Dovecot LMTP server (users from a passwd-file). */
@RealServers
class LmtpBackendTest {
  private static DovecotBackend dovecot;

  @BeforeAll
  static void start() {
    dovecot = DovecotBackend.start();
  }

  @AfterAll
  static void stop() {
    if (dovecot != null) {
      dovecot.close();
    }
  }

  private static RecipientVerifier verifier() {
    return RecipientVerifier.create(
        VerifierConfig.builder()
            .backend("127.0.0.1", dovecot.lmtpPort())
            .protocol(BackendProtocol.LMTP)
            .deadline(Duration.ofSeconds(5))
            .build());
  }

  @Test
  void lmtpGivesMailboxVerdictsOnOneSession() {
    try (RecipientVerifier verifier = verifier()) {
      for (int i = 0; i < 5; i++) {
        assertThat(verifier.verify(DovecotBackend.user(i))).isInstanceOf(Verdict.Accepted.class);
        assertThat(verifier.verify("nobody" + i + "@" + DovecotBackend.DOMAIN))
            .isInstanceOfSatisfying(
                Verdict.Rejected.class,
                r -> {
                  assertThat(r.reply().code()).isEqualTo(550);
                  assertThat(r.reply().enhancedStatus()).isEqualTo("5.1.1");
                });
      }
      assertThat(verifier.stats().sessionsOpened()).isEqualTo(1);
    }
  }

  @Test
  void batchesArePipelinedOverLmtp() {
    try (RecipientVerifier verifier = verifier()) {
      List<Verdict> verdicts =
          verifier.verifyAll(
              List.of(
                  DovecotBackend.user(1), "nobody@" + DovecotBackend.DOMAIN, DovecotBackend.FULL));
      assertThat(verdicts.get(0)).isInstanceOf(Verdict.Accepted.class);
      assertThat(verdicts.get(1)).isInstanceOf(Verdict.Rejected.class);
      assertThat(verdicts.get(2)).isInstanceOf(Verdict.Accepted.class); // quota is a DATA matter
    }
  }

  @Test
  void smtpAgainstAnLmtpServerIsNeverARejection() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder().backend("127.0.0.1", dovecot.lmtpPort()).build())) {
      assertThat(verifier.verify("nobody@" + DovecotBackend.DOMAIN))
          .isInstanceOf(Verdict.Unverified.class);
    }
  }
}
