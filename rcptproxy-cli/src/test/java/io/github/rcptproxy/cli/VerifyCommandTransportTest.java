package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.AuthenticatingPostfix;
import io.github.rcptproxy.testing.DovecotBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.TestCertificates;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rcptproxy verify} with the backend transport options the gateway takes: a real Postfix
 * that talks only over TLS and only to clients that authenticated (checked by a real Dovecot), and
 * a real Dovecot LMTP.
 */
@RealServers
class VerifyCommandTransportTest {
  private static AuthenticatingPostfix backend;

  @TempDir Path dir;

  @BeforeAll
  static void startBackends() {
    backend = AuthenticatingPostfix.start("encrypt");
  }

  @AfterAll
  static void stopBackends() {
    if (backend != null) {
      backend.close();
    }
  }

  private Path passwordFile() throws Exception {
    Path file = dir.resolve("backend-password");
    Files.writeString(file, DovecotBackend.PASSWORD + "\n");
    return file;
  }

  @Test
  void verifyCommandTakesTheSameOptions() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Rcptproxy.run(
            new String[] {
              "verify",
              "--backend",
              "localhost:" + backend.port(),
              "--backend-tls",
              "verify",
              "--backend-ca",
              TestCertificates.shared().caPem().toString(),
              "--backend-auth-user",
              DovecotBackend.user(1),
              "--backend-auth-password-file",
              passwordFile().toString(),
              PostfixBackend.known(4),
              PostfixBackend.unknown(4)
            },
            new ByteArrayInputStream(new byte[0]),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(code).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8).lines())
        .satisfiesExactly(
            line -> assertThat(line).startsWith(PostfixBackend.known(4) + "\tACCEPTED\t"),
            line ->
                assertThat(line).startsWith(PostfixBackend.unknown(4) + "\tREJECTED\t550 5.1.1"));

    ByteArrayOutputStream lmtp = new ByteArrayOutputStream();
    Rcptproxy.run(
        new String[] {
          "verify",
          "--backend",
          "127.0.0.1:" + backend.dovecot().lmtpPort(),
          "--backend-protocol",
          "lmtp",
          DovecotBackend.user(3),
          "nobody@" + DovecotBackend.DOMAIN
        },
        new ByteArrayInputStream(new byte[0]),
        new PrintStream(lmtp, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(lmtp.toString(StandardCharsets.UTF_8))
        .contains(DovecotBackend.user(3) + "\tACCEPTED\t250 2.1.5")
        .contains("nobody@" + DovecotBackend.DOMAIN + "\tREJECTED\t550 5.1.1");
  }
}
