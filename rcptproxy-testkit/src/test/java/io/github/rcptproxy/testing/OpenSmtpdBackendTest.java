package io.github.rcptproxy.testing;

import static io.github.rcptproxy.testing.OpenSmtpdBackend.known;
import static io.github.rcptproxy.testing.OpenSmtpdBackend.unknown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenSMTPD fixture answers as OpenSMTPD 6.8 does. */
@RealServers
class OpenSmtpdBackendTest {
  private static OpenSmtpdBackend smtpd;

  @BeforeAll
  static void startOpenSmtpd() {
    smtpd = OpenSmtpdBackend.start();
  }

  @AfterAll
  static void stopOpenSmtpd() {
    if (smtpd != null) {
      smtpd.stop();
    }
  }

  private SmtpClient session() throws Exception {
    SmtpClient client = new SmtpClient("127.0.0.1", smtpd.port());
    assertThat(client.readReply()).isEqualTo("220 backend.example.test ESMTP OpenSMTPD");
    assertThat(client.send("EHLO probe.test")).isEqualTo("250 HELP");
    return client;
  }

  @Test
  void acceptsKnownUsersAndRejectsUnknownAsInvalidRecipient() throws Exception {
    try (SmtpClient client = session()) {
      assertThat(client.send("MAIL FROM:<rcptproxy@localhost>")).isEqualTo("250 2.0.0 Ok");
      assertThat(client.send("RCPT TO:<" + known(999) + ">"))
          .isEqualTo("250 2.1.5 Destination address valid: Recipient ok");
      assertThat(client.send("RCPT TO:<postmaster@" + OpenSmtpdBackend.DOMAIN + ">"))
          .startsWith("250 2.1.5");
      assertThat(client.send("RCPT TO:<" + unknown(1) + ">"))
          .isEqualTo("550 Invalid recipient: <" + unknown(1) + ">");
    }
    assertThat(smtpd.log()).contains("failed-command command=\"RCPT TO:<" + unknown(1) + ">\"");
  }

  @Test
  void relaysForNobodyNotEvenLoopback() throws Exception {
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<>");
      assertThat(client.send("RCPT TO:<someone@elsewhere.test>"))
          .isEqualTo("550 Invalid recipient: <someone@elsewhere.test>");
    }
  }

  @Test
  void doesNotImplementVrfy() throws Exception {
    try (SmtpClient client = session()) {
      assertThat(client.send("VRFY " + known(1)))
          .isEqualTo("500 5.5.1 Invalid command: Command unrecognized");
    }
  }

  @Test
  void deliversAcceptedMailToTheMaildir() throws Exception {
    long before = smtpd.deliveredCount();
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<>");
      assertThat(client.send("RCPT TO:<" + known(3) + ">")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: fixture\r\n\r\nhello\r\n."))
          .endsWith("Message accepted for delivery");
      client.send("QUIT");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> smtpd.deliveredCount() == before + 1);
  }
}
