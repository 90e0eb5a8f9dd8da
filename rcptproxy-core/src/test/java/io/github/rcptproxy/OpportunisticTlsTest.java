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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A failed STARTTLS handshake against a real Postfix that offers STARTTLS ({@code may}) with TLS
 * 1.0 and 1.1 only, which the JDK client cannot speak: OPPORTUNISTIC goes on in the clear, as
 * Postfix's own {@code may} client does; REQUIRED and VERIFY never do.
 */
@RealServers
class OpportunisticTlsTest {
  /** Postfix's summary of a session that probed (VRFY or MAIL) without STARTTLS. */
  private static final Pattern CLEAR_SESSION =
      Pattern.compile("disconnect from \\S+ ehlo=1 (?:vrfy|mail)=");

  private static final String FAILED_HANDSHAKE = "starttls=0/1";

  private static PostfixBackend postfix;
  private static TestCertificates certificates;

  @BeforeAll
  static void startPostfixWithTlsTheJdkCannotSpeak() {
    certificates = TestCertificates.shared();
    postfix = PostfixBackend.start(PostfixBackend.tlsTheJdkCannotSpeak(certificates));
  }

  @AfterAll
  static void stop() {
    if (postfix != null) {
      postfix.close();
    }
  }

  private static VerifierConfig.Builder config(BackendTls tls) {
    return VerifierConfig.builder()
        .backend("127.0.0.1", postfix.port())
        .heloName("probe.test")
        .tls(tls)
        .deadline(Duration.ofSeconds(5));
  }

  private static int count(String log, Pattern pattern) {
    Matcher matcher = pattern.matcher(log);
    int count = 0;
    while (matcher.find()) {
      count++;
    }
    return count;
  }

  private static int count(String log, String text) {
    return count(log, Pattern.compile(Pattern.quote(text)));
  }

  @Test
  void opportunisticGoesOnInTheClearAfterAFailedHandshakeAndTriesItOncePerCoolDown()
      throws Exception {
    String before = postfix.log();
    long sessions;
    try (StderrCapture log = new StderrCapture();
        RecipientVerifier verifier =
            RecipientVerifier.create(config(BackendTls.OPPORTUNISTIC).build())) {
      for (int i = 0; i < 10; i++) {
        assertThat(verifier.verify(known(i))).isInstanceOf(Verdict.Accepted.class);
        assertThat(verifier.verify(unknown(i)))
            .isInstanceOfSatisfying(
                Verdict.Rejected.class,
                r -> assertThat(r.reply().enhancedStatus()).isEqualTo("5.1.1"));
      }
      sessions = verifier.stats().sessionsOpened();
      assertThat(sessions).isGreaterThan(1); // 8 rejections a session
      assertThat(log.lines("is spoken to in the clear")).isEqualTo(1);
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(count(postfix.log(), CLEAR_SESSION) - count(before, CLEAR_SESSION))
                    .isEqualTo(sessions));
    String log = postfix.log();
    assertThat(count(log, FAILED_HANDSHAKE) - count(before, FAILED_HANDSHAKE)).isEqualTo(1);
    assertThat(log).doesNotContain("TLS connection established");
  }

  @Test
  void requiredIsTlsFailedAndNothingIsAskedInTheClear() throws Exception {
    String before = postfix.log();
    try (RecipientVerifier verifier =
        RecipientVerifier.create(config(BackendTls.REQUIRED).build())) {
      for (int i = 0; i < 2; i++) {
        assertThat(verifier.verify(unknown(i)))
            .isInstanceOfSatisfying(
                Verdict.Unverified.class,
                u -> {
                  assertThat(u.reason()).isEqualTo(Verdict.Reason.TLS_FAILED);
                  assertThat(u.detail()).contains("TLS handshake");
                });
      }
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(count(postfix.log(), FAILED_HANDSHAKE) - count(before, FAILED_HANDSHAKE))
                    .isEqualTo(2)); // tried again: REQUIRED remembers nothing
    assertThat(count(postfix.log(), CLEAR_SESSION)).isEqualTo(count(before, CLEAR_SESSION));
  }

  @Test
  void verifyIsTlsFailedAndNothingIsAskedInTheClear() throws Exception {
    String before = postfix.log();
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            config(BackendTls.VERIFY).trustPem(certificates.caPem()).build())) {
      assertThat(verifier.verify(unknown(1)))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.TLS_FAILED));
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(count(postfix.log(), FAILED_HANDSHAKE))
                    .isGreaterThan(count(before, FAILED_HANDSHAKE)));
    assertThat(count(postfix.log(), CLEAR_SESSION)).isEqualTo(count(before, CLEAR_SESSION));
  }

  @Test
  void anOpportunisticHandshakeThatOutlastsTheDeadlineIsATimeoutNotAFallBack() throws Exception {
    try (ScriptedSmtpServer backend =
            ScriptedSmtpServer.start(ScriptedSmtpServer.handshakeNeverAnswered());
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", backend.port())
                    .tls(BackendTls.OPPORTUNISTIC)
                    .deadline(Duration.ofMillis(500))
                    .build())) {
      assertThat(verifier.verify("alice@example.test"))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.TIMEOUT));
      assertThat(backend.count("EHLO")).isEqualTo(1);
      assertThat(backend.received()).doesNotContain("MAIL", "RCPT", "VRFY");
    }
  }
}
