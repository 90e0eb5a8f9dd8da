package io.github.rcptproxy.testing;

import static io.github.rcptproxy.testing.EximBackend.known;
import static io.github.rcptproxy.testing.EximBackend.unknown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The stock Exim fixture answers as Exim 4.96 does. */
@RealServers
class EximBackendTest {
  private static EximBackend exim;

  @BeforeAll
  static void startExim() {
    exim = EximBackend.start();
  }

  @AfterAll
  static void stopExim() {
    if (exim != null) {
      exim.stop();
    }
  }

  private SmtpClient session() throws Exception {
    SmtpClient client = new SmtpClient("127.0.0.1", exim.port());
    assertThat(client.readReply()).startsWith("220 backend.example.test ESMTP Exim 4.96");
    assertThat(client.send("EHLO probe.test")).isEqualTo("250 HELP");
    return client;
  }

  @Test
  void acceptsKnownUsersAndPostmasterAndRejectsUnknownWithoutEnhancedCode() throws Exception {
    try (SmtpClient client = session()) {
      assertThat(client.send("MAIL FROM:<rcptproxy@localhost>")).isEqualTo("250 OK");
      assertThat(client.send("RCPT TO:<" + known(999) + ">")).isEqualTo("250 Accepted");
      assertThat(client.send("RCPT TO:<postmaster@" + EximBackend.DOMAIN + ">"))
          .isEqualTo("250 Accepted");
      assertThat(client.send("RCPT TO:<" + unknown(1) + ">")).isEqualTo("550 Unknown user");
      assertThat(client.send("RCPT TO:<user1000@" + EximBackend.DOMAIN + ">"))
          .isEqualTo("550 Unknown user");
    }
    assertThat(exim.log()).contains("rejected RCPT <" + unknown(1) + ">: Unknown user");
  }

  @Test
  void catchAllDomainAcceptsAnyLocalPart() throws Exception {
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<>");
      assertThat(client.send("RCPT TO:<x7f3q9@" + EximBackend.CATCH_ALL_DOMAIN + ">"))
          .isEqualTo("250 Accepted");
    }
  }

  @Test
  void relaysForNobodyNotEvenLoopback() throws Exception {
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<>");
      assertThat(client.send("RCPT TO:<someone@elsewhere.test>"))
          .isEqualTo("550 relay not permitted");
    }
  }

  @Test
  void refusesToAnswerVrfyByDefault() throws Exception {
    try (SmtpClient client = session()) {
      assertThat(client.send("VRFY " + known(1))).isEqualTo("252 Administrative prohibition");
    }
  }

  @Test
  void countsEveryRsetAfterTheFirstAsNonmailAndClosesAfterTen() throws Exception {
    try (SmtpClient client = session()) {
      for (int i = 0; i < 11; i++) {
        assertThat(client.send("MAIL FROM:<>")).isEqualTo("250 OK");
        assertThat(client.send("RCPT TO:<" + known(i) + ">")).isEqualTo("250 Accepted");
        assertThat(client.send("RSET")).as("RSET %d", i + 1).isEqualTo("250 Reset OK");
      }
      client.send("MAIL FROM:<>");
      client.send("RCPT TO:<" + known(11) + ">");
      assertThat(client.send("RSET")).isEqualTo("554 Too many nonmail commands");
      assertThat(client.readReply()).as("connection closed").isNull();
    }
  }

  @Test
  void deliversAcceptedMailToTheMailbox() throws Exception {
    long before = exim.deliveredCount();
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<" + known(1) + ">");
      assertThat(client.send("RCPT TO:<" + known(2) + ">")).isEqualTo("250 Accepted");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: fixture\r\n\r\nhello\r\n.")).startsWith("250 OK id=");
      client.send("QUIT");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> exim.deliveredCount() == before + 1);
    assertThat(exim.delivered()).contains("Envelope-to: " + known(2), "Subject: fixture");
  }
}
