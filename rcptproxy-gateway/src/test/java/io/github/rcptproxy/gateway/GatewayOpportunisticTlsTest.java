package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import io.github.rcptproxy.testing.TestCertificates;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gateway's relay against a real Postfix that offers STARTTLS with TLS 1.0 and 1.1 only, which
 * the JDK client cannot speak: with {@code --backend-tls opportunistic} the message goes in the
 * clear, as Postfix's own {@code may} client would send it; with {@code required} never.
 */
@RealServers
class GatewayOpportunisticTlsTest {
  /** Postfix's summary of a relay session in the clear (one EHLO, no STARTTLS). */
  /** Both messages over one relay connection, greeted once, in the clear. */
  private static final Pattern CLEAR_RELAY =
      Pattern.compile("disconnect from \\S+ ehlo=1 mail=2 rcpt=2 data=2 quit=1");

  /** Any message relayed in the clear. */
  private static final Pattern ANY_CLEAR_RELAY =
      Pattern.compile("disconnect from \\S+ ehlo=1 mail=\\d+ rcpt=\\d+ data=");

  private static final Pattern FAILED_HANDSHAKE = Pattern.compile("starttls=0/1");

  private static PostfixBackend postfix;

  @BeforeAll
  static void startPostfixWithTlsTheJdkCannotSpeak() {
    postfix = PostfixBackend.start(PostfixBackend.tlsTheJdkCannotSpeak(TestCertificates.shared()));
  }

  @AfterAll
  static void stop() {
    if (postfix != null) {
      postfix.close();
    }
  }

  private static int count(String log, Pattern pattern) {
    Matcher matcher = pattern.matcher(log);
    int count = 0;
    while (matcher.find()) {
      count++;
    }
    return count;
  }

  private static String send(int port, String recipient) throws Exception {
    try (SmtpClient client = new SmtpClient("127.0.0.1", port)) {
      assertThat(client.readReply()).startsWith("220");
      assertThat(client.send("EHLO client.test")).startsWith("250");
      assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
      assertThat(client.send("RCPT TO:<" + recipient + ">")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      return client.send("Subject: opportunistic\r\n\r\nhello\r\n.");
    }
  }

  @Test
  void opportunisticRelaysInTheClearWhereTheHandshakeFailsAndTriesItOncePerCoolDown()
      throws Exception {
    String before = postfix.log();
    try (RunningGateway gateway =
        TestGateway.start(
            postfix.port(),
            PostfixBackend.DOMAIN,
            s ->
                s.verifier(
                    v -> v.tls(BackendTls.OPPORTUNISTIC).knownGood(PostfixBackend.known(0))))) {
      try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
        assertThat(client.readReply()).startsWith("220");
        assertThat(client.send("EHLO client.test")).startsWith("250");
        assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
        assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(1) + ">")).startsWith("550");
      }
      assertThat(send(gateway.port(), PostfixBackend.known(1))).startsWith("250");
      assertThat(send(gateway.port(), PostfixBackend.known(2))).startsWith("250");
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              String log = postfix.log();
              assertThat(count(log, CLEAR_RELAY) - count(before, CLEAR_RELAY)).isEqualTo(1);
              // delivered: Postfix logs the recipients once its queue manager has the messages
              assertThat(log)
                  .contains(
                      "to=<" + PostfixBackend.known(1) + ">",
                      "to=<" + PostfixBackend.known(2) + ">");
            });
    String log = postfix.log();
    assertThat(log).doesNotContain("TLS connection established");
    // One failed handshake for the verifier's sessions, one for the relay's connections.
    assertThat(count(log, FAILED_HANDSHAKE) - count(before, FAILED_HANDSHAKE)).isEqualTo(2);
  }

  @Test
  void requiredTempfailsTheMessageAndNeverRelaysInTheClear() throws Exception {
    String before = postfix.log();
    try (RunningGateway gateway =
        TestGateway.start(
            postfix.port(),
            PostfixBackend.DOMAIN,
            s -> s.verifier(v -> v.tls(BackendTls.REQUIRED)))) {
      // Unverified (TLS_FAILED), and the relay cannot ask the backend either: the client keeps it.
      try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
        assertThat(client.readReply()).startsWith("220");
        assertThat(client.send("EHLO client.test")).startsWith("250");
        assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
        assertThat(client.send("RCPT TO:<" + PostfixBackend.known(3) + ">"))
            .isEqualTo("451 4.4.1 Mail system unavailable, try again later");
      }
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(count(postfix.log(), FAILED_HANDSHAKE))
                    .isGreaterThanOrEqualTo(count(before, FAILED_HANDSHAKE) + 2));
    assertThat(count(postfix.log(), ANY_CLEAR_RELAY)).isEqualTo(count(before, ANY_CLEAR_RELAY));
    assertThat(postfix.log()).doesNotContain("to=<" + PostfixBackend.known(3) + ">");
  }
}
