package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.AuthenticatingPostfix;
import io.github.rcptproxy.testing.DovecotBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.StderrCapture;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * AUTH to a real Postfix that answers only authenticated clients ({@code smtpd_client_restrictions
 * = permit_sasl_authenticated, reject}) and offers AUTH only after STARTTLS ({@code
 * smtpd_tls_auth_only}), checking passwords with a real Dovecot ({@code smtpd_sasl_type = dovecot})
 * from a passwd-file; both started by the test kit's {@link AuthenticatingPostfix}.
 */
@RealServers
class BackendAuthTest {
  private static AuthenticatingPostfix backends;

  @BeforeAll
  static void start() {
    backends = AuthenticatingPostfix.start("may");
  }

  @AfterAll
  static void stop() {
    if (backends != null) {
      backends.close();
    }
  }

  private static VerifierConfig.Builder config() {
    return VerifierConfig.builder()
        .backend("127.0.0.1", backends.port())
        .heloName("probe.test")
        .deadline(Duration.ofSeconds(5))
        .tls(BackendTls.REQUIRED);
  }

  @Test
  void authenticatedProbesGetTheMailboxVerdicts() throws Exception {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            config().auth(DovecotBackend.user(1), DovecotBackend.PASSWORD).build())) {
      assertThat(verifier.verify(PostfixBackend.known(1))).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify(PostfixBackend.unknown(1)))
          .isInstanceOfSatisfying(
              Verdict.Rejected.class,
              r -> assertThat(r.reply().enhancedStatus()).isEqualTo("5.1.1"));
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertThat(backends.postfix().log()).contains("ehlo=2 starttls=1 auth=1"));
  }

  @Test
  void withoutAuthTheBackendsRefusalIsUnverifiedNotRejected() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(config().knownGood(PostfixBackend.known(1)).build())) {
      assertThat(verifier.verify(PostfixBackend.unknown(2)))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> {
                assertThat(u.reason()).isEqualTo(Verdict.Reason.BACKEND_REFUSED);
                assertThat(u.reply().orElseThrow().enhancedStatus()).isEqualTo("5.7.1");
              });
    }
  }

  @Test
  void aWrongPasswordIsAuthFailedWarnedOnceAndNeverLogged() {
    String wrong = "not-the-Pa55word";
    // Dovecot answers a failed AUTH late, and later after each failure from the same address.
    VerifierConfig config =
        config().auth(DovecotBackend.user(1), wrong).deadline(Duration.ofSeconds(15)).build();
    assertThat(config.toString()).contains(DovecotBackend.user(1)).doesNotContain(wrong);
    try (StderrCapture log = new StderrCapture();
        RecipientVerifier verifier = RecipientVerifier.create(config)) {
      for (int i = 0; i < 2; i++) {
        assertThat(verifier.verify(PostfixBackend.known(3)))
            .isInstanceOfSatisfying(
                Verdict.Unverified.class,
                u -> {
                  assertThat(u.reason()).isEqualTo(Verdict.Reason.AUTH_FAILED);
                  assertThat(u.reply().orElseThrow().code()).isEqualTo(535);
                  assertThat(u.detail()).doesNotContain(wrong);
                });
      }
      assertThat(log.lines("AUTH to the backend failed")).isEqualTo(1);
      assertThat(log.text()).doesNotContain(wrong);
    }
  }
}
