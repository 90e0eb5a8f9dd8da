package io.github.rcptproxy;

import static io.github.rcptproxy.testing.PostfixBackend.known;
import static io.github.rcptproxy.testing.PostfixBackend.unknown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.StderrCapture;
import io.github.rcptproxy.testing.TestCertificates;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * STARTTLS to a real Postfix that refuses to talk in the clear ({@code smtpd_tls_security_level =
 * encrypt}), with a certificate for {@code localhost} signed by a CA the test makes with openssl.
 */
@RealServers
class BackendTlsTest {
  private static PostfixBackend postfix;
  private static TestCertificates certificates;

  @BeforeAll
  static void startEncryptOnlyPostfix() {
    certificates = TestCertificates.shared();
    postfix = PostfixBackend.start(encryptOnly(certificates));
  }

  @AfterAll
  static void stop() {
    if (postfix != null) {
      postfix.close();
    }
  }

  /** The main.cf lines of a Postfix that answers nothing but STARTTLS until TLS is on. */
  static List<String> encryptOnly(TestCertificates certificates) {
    return List.of(
        "smtpd_tls_security_level = encrypt",
        "smtpd_tls_cert_file = " + certificates.serverCertificate(),
        "smtpd_tls_key_file = " + certificates.serverKey(),
        "smtpd_tls_loglevel = 1");
  }

  private static VerifierConfig.Builder config(String host) {
    return VerifierConfig.builder()
        .backend(host, postfix.port())
        .heloName("probe.test")
        .deadline(Duration.ofSeconds(5));
  }

  @Test
  void requiredVerifiesOverTlsOnOnePooledSession() throws Exception {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(config("127.0.0.1").tls(BackendTls.REQUIRED).build())) {
      for (int i = 0; i < 10; i++) {
        assertThat(verifier.verify(known(i))).isInstanceOf(Verdict.Accepted.class);
        assertThat(verifier.verify(unknown(i)))
            .isInstanceOfSatisfying(
                Verdict.Rejected.class,
                r -> assertThat(r.reply().enhancedStatus()).isEqualTo("5.1.1"));
      }
      assertThat(verifier.stats().sessionsOpened()).isLessThanOrEqualTo(3); // 8 rejections each
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(postfix.log()).contains("TLS connection established from"));
  }

  @Test
  void verifyAcceptsTheCertificateOfTheConfiguredHostFromTheGivenCa() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            config("localhost").tls(BackendTls.VERIFY).trustPem(certificates.caPem()).build())) {
      assertThat(verifier.verify(known(1))).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify(unknown(1))).isInstanceOf(Verdict.Rejected.class);
    }
  }

  @Test
  void verifyWithTheWrongCaIsUnverifiedNamingTlsAndWarnsOnce() {
    try (StderrCapture log = new StderrCapture();
        RecipientVerifier verifier =
            RecipientVerifier.create(
                config("localhost")
                    .tls(BackendTls.VERIFY)
                    .trustPem(certificates.otherCaPem())
                    .build())) {
      for (int i = 0; i < 3; i++) {
        assertThat(verifier.verify(unknown(i)))
            .isInstanceOfSatisfying(
                Verdict.Unverified.class,
                u -> {
                  assertThat(u.reason()).isEqualTo(Verdict.Reason.TLS_FAILED);
                  assertThat(u.detail()).contains("TLS handshake");
                });
      }
      assertThat(log.lines("TLS to the backend failed")).isEqualTo(1);
    }
  }

  @Test
  void verifyWithACertificateForAnotherHostNameIsUnverified() {
    // The certificate names localhost only; 127.0.0.1 is not in it.
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            config("127.0.0.1").tls(BackendTls.VERIFY).trustPem(certificates.caPem()).build())) {
      assertThat(verifier.verify(unknown(1)))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.TLS_FAILED));
    }
  }

  @Test
  void noneAgainstAnEncryptOnlyBackendIsUnverifiedWithItsReasonAndWarnsOnce() {
    try (StderrCapture log = new StderrCapture();
        RecipientVerifier verifier =
            RecipientVerifier.create(config("127.0.0.1").probeMethod(ProbeMethod.RCPT).build())) {
      for (int i = 0; i < 3; i++) {
        assertThat(verifier.verify(unknown(i)))
            .isInstanceOfSatisfying(
                Verdict.Unverified.class,
                u -> {
                  assertThat(u.reason()).isEqualTo(Verdict.Reason.BACKEND_REFUSED);
                  assertThat(u.reply().orElseThrow().code()).isEqualTo(530);
                  assertThat(u.reply().orElseThrow().toString()).contains("STARTTLS");
                });
      }
      assertThat(log.lines("backend requires STARTTLS or AUTH")).isEqualTo(1);
    }
  }

  @Test
  void noneWithVrfyProbesAgainstAnEncryptOnlyBackendIsNeverRejected() {
    try (RecipientVerifier verifier = RecipientVerifier.create(config("127.0.0.1").build())) {
      assertThat(verifier.verify(unknown(1)))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.BACKEND_REFUSED));
    }
  }

  @Test
  void opportunisticUsesTlsWhereOfferedAndClearTextWhereNot() throws Exception {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(config("127.0.0.1").tls(BackendTls.OPPORTUNISTIC).build())) {
      assertThat(verifier.verify(known(2))).isInstanceOf(Verdict.Accepted.class);
    }
    PostfixBackend plain = PostfixBackend.shared();
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", plain.port())
                .tls(BackendTls.OPPORTUNISTIC)
                .build())) {
      assertThat(verifier.verify(known(3))).isInstanceOf(Verdict.Accepted.class);
    }
  }

  @Test
  void requiredNeverProbesABackendWithoutStartTlsInTheClear() throws Exception {
    try (ScriptedSmtpServer backend =
            ScriptedSmtpServer.start(
                ScriptedSmtpServer.dialogue(command -> "250 2.1.5 Ok\r\n")); // offers no STARTTLS
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", backend.port())
                    .tls(BackendTls.REQUIRED)
                    .build())) {
      assertThat(verifier.verify("alice@example.test"))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> {
                assertThat(u.reason()).isEqualTo(Verdict.Reason.TLS_FAILED);
                assertThat(u.detail()).contains("does not offer STARTTLS");
              });
      assertThat(backend.received()).contains("EHLO").doesNotContain("MAIL", "RCPT", "VRFY");
    }
  }

  @Test
  void aHandshakeThatNeverCompletesEndsAtTheDeadline() throws Exception {
    try (ScriptedSmtpServer backend =
            ScriptedSmtpServer.start(ScriptedSmtpServer.handshakeNeverAnswered());
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", backend.port())
                    .tls(BackendTls.REQUIRED)
                    .deadline(Duration.ofMillis(500))
                    .build())) {
      Verdict verdict = verifier.verify("alice@example.test");
      assertThat(verdict)
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.TIMEOUT));
      // Ends with its deadline, not the never-finishing handshake (margin for a loaded machine).
      assertThat(verdict.latency()).isLessThan(Duration.ofMillis(1500));
    }
  }
}
