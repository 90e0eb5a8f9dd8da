package io.github.rcptproxy.testing;

import static io.github.rcptproxy.testing.EximBackend.known;
import static io.github.rcptproxy.testing.EximBackend.unknown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Exim with every ACL option of the fixture on at once: each still answers as measured. */
@RealServers
class EximAclOptionsTest {
  private static final String SENDER_VERIFY_FAILED = "550 Sender verify failed";
  private static final String TOO_MANY_BAD = "550 Rejected for too many bad recipients";
  private static EximBackend exim;

  @BeforeAll
  static void startExim() {
    exim = EximBackend.start(EximBackend.Options.everyRule().dropAfterFailures(10).build());
  }

  @AfterAll
  static void stopExim() {
    if (exim != null) {
      exim.stop();
    }
  }

  private SmtpClient session() throws Exception {
    SmtpClient client = new SmtpClient("127.0.0.1", exim.port());
    assertThat(client.readReply()).startsWith("220 ");
    assertThat(client.send("EHLO probe.test")).isEqualTo("250 HELP");
    return client;
  }

  @Test
  void senderVerifyRejectsEveryRecipientOfAnUnverifiableSender() throws Exception {
    try (SmtpClient client = session()) {
      assertThat(client.send("MAIL FROM:<rcptproxy@localhost>")).isEqualTo("250 OK");
      client.sendRaw("RCPT TO:<" + known(1) + ">\r\n");
      assertThat(client.readReplyLines())
          .containsExactly(
              "550-Verification failed for <rcptproxy@localhost>",
              "550-Unrouteable address",
              SENDER_VERIFY_FAILED);
      assertThat(client.send("RCPT TO:<" + unknown(1) + ">")).isEqualTo(SENDER_VERIFY_FAILED);
      assertThat(client.send("RCPT TO:<a@" + EximBackend.CATCH_ALL_DOMAIN + ">"))
          .isEqualTo(SENDER_VERIFY_FAILED);
    }
    assertThat(exim.log()).contains("sender verify fail for <rcptproxy@localhost>");
  }

  @Test
  void senderVerifyLetsTheNullSenderAndLocalSendersThrough() throws Exception {
    try (SmtpClient client = session()) {
      assertThat(client.send("MAIL FROM:<>")).isEqualTo("250 OK");
      assertThat(client.send("RCPT TO:<" + known(1) + ">")).isEqualTo("250 Accepted");
      assertThat(client.send("RCPT TO:<" + unknown(1) + ">")).isEqualTo("550 Unknown user");
      assertThat(client.send("RSET")).startsWith("250");
      assertThat(client.send("MAIL FROM:<" + known(5) + ">")).isEqualTo("250 OK");
      assertThat(client.send("RCPT TO:<" + known(1) + ">")).isEqualTo("250 Accepted");
    }
  }

  @Test
  void ratioRuleRefusesEveryRecipientAfterTenWithFewerThanHalfAccepted() throws Exception {
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<>");
      for (int i = 0; i < 10; i++) {
        assertThat(client.send("RCPT TO:<" + unknown(i) + ">")).isEqualTo("550 Unknown user");
      }
      assertThat(client.send("RCPT TO:<" + known(1) + ">")).isEqualTo(TOO_MANY_BAD);
    }
  }

  @Test
  void ratioRuleLeavesTransactionsWithEnoughAcceptedAlone() throws Exception {
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<>");
      for (int i = 0; i < 10; i++) {
        String rcpt = i < 6 ? known(i) : unknown(i);
        assertThat(client.send("RCPT TO:<" + rcpt + ">")).startsWith(i < 6 ? "250" : "550");
      }
      assertThat(client.send("RCPT TO:<" + unknown(10) + ">")).isEqualTo("550 Unknown user");
      assertThat(client.send("RCPT TO:<" + known(11) + ">")).isEqualTo("250 Accepted");
    }
  }

  @Test
  void dropsTheConnectionAfterMoreThanTheAllowedFailures() throws Exception {
    try (SmtpClient client = session()) {
      client.send("MAIL FROM:<>");
      for (int i = 0; i < 10; i++) {
        client.send("RCPT TO:<" + unknown(i) + ">");
      }
      assertThat(client.send("RCPT TO:<" + unknown(10) + ">")).isEqualTo(TOO_MANY_BAD);
      assertThat(client.send("RCPT TO:<" + known(1) + ">"))
          .isEqualTo("550 Administrative prohibition");
      assertThat(client.readReply()).as("connection closed").isNull();
    }
  }

  @Test
  void answersTenVrfysHonestlyThenClosesTheConnection() throws Exception {
    try (SmtpClient client = session()) {
      for (int i = 0; i < 5; i++) {
        assertThat(client.send("VRFY " + known(i)))
            .isEqualTo("250 <" + known(i) + "> is deliverable");
        assertThat(client.send("VRFY " + unknown(i)))
            .isEqualTo("550 <" + unknown(i) + "> Unknown user");
      }
      assertThat(client.send("VRFY " + known(5))).isEqualTo("554 Too many nonmail commands");
      assertThat(client.readReply()).as("connection closed").isNull();
    }
  }

  @Test
  void closesAnIdleSessionAfterTheReceiveTimeoutWithAnUnasked421() throws Exception {
    try (SmtpClient client = session()) {
      long start = System.nanoTime();
      await()
          .atMost(Duration.ofSeconds(6))
          .until(
              client::readReply,
              reply ->
                  "421 backend.example.test: SMTP command timeout - closing connection"
                      .equals(reply));
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isGreaterThan(Duration.ofMillis(1500));
      assertThat(client.readReply()).as("connection closed").isNull();
    }
  }

  @Test
  void refusesReceiveTimeoutsEximCannotExpress() {
    assertThatThrownBy(
            () -> EximBackend.Options.builder().receiveTimeout(Duration.ofMillis(1500)).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("receiveTimeout");
  }
}
