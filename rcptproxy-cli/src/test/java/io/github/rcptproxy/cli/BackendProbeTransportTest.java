package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.AuthenticatingPostfix;
import io.github.rcptproxy.testing.DovecotBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.TestCertificates;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rcptproxy probe} speaks to the backend as the verifier does: a real Postfix that talks
 * only over TLS and only to clients that authenticated (checked by a real Dovecot) is probed, and
 * without TLS and AUTH it cannot be.
 */
@RealServers
class BackendProbeTransportTest {
  private static AuthenticatingPostfix postfix;

  @BeforeAll
  static void start() {
    postfix = AuthenticatingPostfix.start("encrypt");
  }

  @AfterAll
  static void stop() {
    if (postfix != null) {
      postfix.close();
    }
  }

  private static VerifierConfig.Builder config() {
    return VerifierConfig.builder()
        .backend("localhost", postfix.port())
        .heloName("probe.test")
        .deadline(Duration.ofSeconds(5));
  }

  @Test
  void probesABackendThatRequiresStartTlsAndAuth() throws IOException {
    VerifierConfig config =
        config()
            .tls(BackendTls.VERIFY)
            .trustPem(TestCertificates.shared().caPem())
            .auth(DovecotBackend.user(1), DovecotBackend.PASSWORD)
            .build();

    BackendProbe.Report report = new BackendProbe(config, PostfixBackend.DOMAIN, 5, 5).run();

    assertThat(report.greeting()).startsWith("220 ");
    assertThat(report.offers("STARTTLS")).isTrue(); // in use: offered only before it
    assertThat(report.offers("AUTH")).isTrue(); // offered only over TLS (smtpd_tls_auth_only)
    assertThat(report.offers("PIPELINING")).isTrue();
    assertThat(report.randomRcpt()).startsWith("550 5.1.1");
    assertThat(report.postmasterRcpt()).startsWith("250");
    assertThat(report.rcptHonest()).isTrue();
    assertThat(report.catchAll()).isFalse();
    assertThat(report.verifiesSenders()).isFalse();
    assertThat(report.rejections().toString()).isEqualTo("none within 5");
    assertThat(BackendProbe.recommend(report)).isNotEmpty();
  }

  @Test
  void rcptproxyProbeTakesTheBackendTransportOptions(@TempDir Path dir) throws IOException {
    Path password = dir.resolve("backend-password");
    Files.writeString(password, DovecotBackend.PASSWORD + "\n");
    CommandRun command = new CommandRun();

    int code =
        command.run(
            "probe",
            "--backend",
            "localhost:" + postfix.port(),
            "--domain",
            PostfixBackend.DOMAIN,
            "--backend-tls",
            "verify",
            "--backend-ca",
            TestCertificates.shared().caPem().toString(),
            "--backend-auth-user",
            DovecotBackend.user(1),
            "--backend-auth-password-file",
            password.toString(),
            "--max-rejections",
            "5",
            "--max-vrfy",
            "5");

    assertThat(code).as(command.err()).isZero();
    assertThat(command.out())
        .contains("STARTTLS                 yes")
        .contains("RCPT answers honestly    yes")
        .contains("catch-all                no")
        .doesNotContain(DovecotBackend.PASSWORD);
  }

  @Test
  void withoutTlsAndAuthTheBackendRefusesTheProbe() {
    BackendProbe probe = new BackendProbe(config().build(), PostfixBackend.DOMAIN, 5, 5);

    assertThatThrownBy(probe::run)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("530 5.7.0 Must issue a STARTTLS command first");
  }

  @Test
  void tlsRequiredFromABackendWithoutItIsRefusedBeforeAnythingIsAsked() {
    PostfixBackend plain = PostfixBackend.shared();
    VerifierConfig config =
        VerifierConfig.builder()
            .backend("127.0.0.1", plain.port())
            .tls(BackendTls.REQUIRED)
            .deadline(Duration.ofSeconds(5))
            .build();

    assertThatThrownBy(() -> new BackendProbe(config, PostfixBackend.DOMAIN, 5, 5).run())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("does not offer STARTTLS");
  }
}
