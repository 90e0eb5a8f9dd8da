package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** AUTH LOGIN where PLAIN is not offered, against a scripted server that records every byte. */
class AuthLoginTest {
  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }

  private static ScriptedSmtpServer.Script loginOnly(String password) {
    return connection -> {
      connection.write("220 fake.test ESMTP\r\n");
      connection.readLine(); // EHLO
      connection.write("250-fake.test\r\n250-AUTH LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n");
      connection.readLine(); // AUTH LOGIN
      connection.write("334 VXNlcm5hbWU6\r\n");
      connection.readLine(); // the user
      connection.write("334 UGFzc3dvcmQ6\r\n");
      if (!base64(password).equals(connection.readLine())) {
        connection.write("535 5.7.8 Authentication credentials invalid\r\n");
        connection.readUntilClosed();
        return;
      }
      connection.write("235 2.7.0 Authentication successful\r\n");
      for (String line = connection.readLine(); line != null; line = connection.readLine()) {
        if (line.startsWith("QUIT")) {
          connection.write("221 2.0.0 Bye\r\n");
          return;
        }
        connection.write(line.startsWith("RCPT") ? "250 2.1.5 Ok\r\n" : "250 2.0.0 Ok\r\n");
      }
    };
  }

  private static VerifierConfig config(int port, String password) {
    return VerifierConfig.builder()
        .backend("127.0.0.1", port)
        .probeMethod(ProbeMethod.RCPT)
        .auth("probe@example.test", password)
        .authWithoutTls(true)
        .build();
  }

  @Test
  void usesLoginWherePlainIsNotOffered() throws Exception {
    try (ScriptedSmtpServer backend = ScriptedSmtpServer.start(loginOnly("Pa55-word"));
        RecipientVerifier verifier =
            RecipientVerifier.create(config(backend.port(), "Pa55-word"))) {
      assertThat(verifier.verify("alice@example.test")).isInstanceOf(Verdict.Accepted.class);
      assertThat(backend.received())
          .contains(
              "AUTH LOGIN\r\n"
                  + base64("probe@example.test")
                  + "\r\n"
                  + base64("Pa55-word")
                  + "\r\nMAIL FROM:<>");
    }
  }

  @Test
  void refusedCredentialsAreAuthFailedAndNothingIsAsked() throws Exception {
    try (ScriptedSmtpServer backend = ScriptedSmtpServer.start(loginOnly("Pa55-word"));
        RecipientVerifier verifier =
            RecipientVerifier.create(config(backend.port(), "wrong-word"))) {
      assertThat(verifier.verify("alice@example.test"))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> {
                assertThat(u.reason()).isEqualTo(Verdict.Reason.AUTH_FAILED);
                assertThat(u.reply().orElseThrow().enhancedStatus()).isEqualTo("5.7.8");
              });
      assertThat(backend.received()).doesNotContain("MAIL", "RCPT");
    }
  }
}
