package io.github.rcptproxy.internal.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurityException.Failure;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The one client connection against scripted servers, for what no real server shows: EHLO refused,
 * replies of many lines, a hang-up in the middle of one, replies that trickle in, bytes nobody
 * asked for.
 */
class SmtpConnectionTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  private ScriptedSmtpServer server;
  private SmtpConnection connection;

  @AfterEach
  void close() throws IOException {
    if (connection != null) {
      connection.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private static VerifierConfig.Builder config() {
    return VerifierConfig.builder().backend("127.0.0.1", 25).heloName("client.test");
  }

  /** Greets, then answers each command line with the next reply, then keeps reading. */
  private static ScriptedSmtpServer.Script replies(String... replies) {
    return c -> {
      c.write("220 fake.test ESMTP\r\n");
      for (String reply : replies) {
        c.readLine();
        c.write(reply);
      }
      c.readUntilClosed();
    };
  }

  private SmtpConnection open(ScriptedSmtpServer.Script script, VerifierConfig config)
      throws IOException, ClientSecurityException {
    server = ScriptedSmtpServer.start(script);
    connection =
        SmtpConnection.open(
            () ->
                SmtpConnection.Endpoint.connect(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()),
                    "localhost",
                    TIMEOUT),
            SmtpConnection.Timeout.eachReply(TIMEOUT),
            config,
            new ClientSecurity(config));
    return connection;
  }

  private void awaitReceived(String text) {
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(server.received()).isEqualTo(text));
  }

  @Test
  void opensWithGreetingAndEhloAndKeepsWhatItOffers() throws Exception {
    open(
        replies("250-fake.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 AUTH PLAIN LOGIN\r\n"),
        config().build());

    assertThat(connection.greeting().toString()).isEqualTo("220 fake.test ESMTP");
    assertThat(connection.extensions())
        .containsEntry("PIPELINING", "")
        .containsEntry("SIZE", "10240000")
        .containsEntry("AUTH", "PLAIN LOGIN");
    assertThat(connection.offers("PIPELINING")).isTrue();
    assertThat(connection.encrypted()).isFalse();
  }

  @Test
  void ehloRefusedIsFollowedByHelo() throws Exception {
    open(
        replies("502 5.5.2 Error: command not recognized\r\n", "250 fake.test\r\n"),
        config().build());

    assertThat(connection.extensions()).isEmpty();
    awaitReceived("EHLO client.test\r\nHELO client.test\r\n");
  }

  @Test
  void heloRefusedToo() {
    assertThatThrownBy(
            () ->
                open(replies("500 5.5.1 no\r\n", "501 5.5.4 not you either\r\n"), config().build()))
        .isInstanceOfSatisfying(
            SessionRefusedException.class,
            e -> {
              assertThat(e.command()).contains("HELO");
              assertThat(e.reply().code()).isEqualTo(501);
            });
  }

  @Test
  void ehloRefusedWith421Or554GetsNoHelo() throws IOException {
    for (String refusal : List.of("421 4.3.2 closing\r\n", "554 5.7.1 not you\r\n")) {
      assertThatThrownBy(() -> open(replies(refusal), config().build()))
          .isInstanceOfSatisfying(
              SessionRefusedException.class, e -> assertThat(e.command()).contains("EHLO"));
      awaitReceived("EHLO client.test\r\n");
      close();
    }
  }

  @Test
  void lhloRefusedGetsNoHelo() {
    VerifierConfig lmtp = config().protocol(BackendProtocol.LMTP).build();

    assertThatThrownBy(() -> open(replies("500 5.5.1 what\r\n"), lmtp))
        .isInstanceOfSatisfying(
            SessionRefusedException.class, e -> assertThat(e.command()).contains("LHLO"));
    awaitReceived("LHLO client.test\r\n");
  }

  @Test
  void aGreetingOtherThan220RefusesTheSessionAndNothingIsSent() {
    assertThatThrownBy(
            () ->
                open(
                    c -> {
                      c.write("554-5.7.1 go away\r\n554 5.7.1 really\r\n");
                      c.readUntilClosed();
                    },
                    config().build()))
        .isInstanceOfSatisfying(
            SessionRefusedException.class,
            e -> {
              assertThat(e.command()).isEmpty();
              assertThat(e.reply().lines()).containsExactly("5.7.1 go away", "5.7.1 really");
              assertThat(e.getMessage()).isEqualTo("the backend refused the session: " + e.reply());
            });
    assertThat(server.received()).isEmpty();
  }

  @Test
  void aReplyOfManyLinesIsReadWhole() throws Exception {
    open(
        replies(
            "250 fake.test\r\n",
            "550-5.1.1 <nobody@example.test>: Recipient address rejected:\r\n"
                + "550-5.1.1 User unknown\r\n"
                + "550 5.1.1 in virtual mailbox table\r\n",
            "250 2.0.0 Ok\r\n"),
        config().build());

    SmtpReply reply = connection.send("VRFY nobody@example.test");

    assertThat(reply.code()).isEqualTo(550);
    assertThat(reply.lines()).hasSize(3);
    assertThat(reply.enhancedStatus()).isEqualTo("5.1.1");
    assertThat(connection.send("NOOP").code()).isEqualTo(250); // the next reply is the next one
  }

  @Test
  void aHangUpInTheMiddleOfAReplyIsTheEndOfTheStream() throws Exception {
    open(
        c -> {
          c.write("220 fake.test ESMTP\r\n");
          c.readLine();
          c.write("250 fake.test\r\n");
          c.readLine();
          c.write("550-5.1.1 first line of two\r\n"); // and hangs up
        },
        config().build());

    assertThatThrownBy(() -> connection.send("VRFY nobody@example.test"))
        .isInstanceOf(EOFException.class);
  }

  @Test
  void pipelinedCommandsGoTogetherAndTheirRepliesComeInOrder() throws Exception {
    open(
        c -> {
          c.write("220 fake.test ESMTP\r\n");
          c.readLine();
          c.write("250-fake.test\r\n250 PIPELINING\r\n");
          for (int i = 0; i < 3; i++) {
            c.readLine(); // all three before any reply: a client waiting for one would hang
          }
          c.write("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 User unknown\r\n");
          c.readUntilClosed();
        },
        config().build());

    connection.write(
        List.of(
            bytes("MAIL FROM:<>\r\n"),
            bytes("RCPT TO:<user1@example.test>\r\n"),
            bytes("RCPT TO:<nobody@example.test>\r\n")));

    assertThat(connection.read().code()).isEqualTo(250);
    assertThat(connection.read().enhancedStatus()).isEqualTo("2.1.5");
    assertThat(connection.read().code()).isEqualTo(550);
  }

  /** A server whose reply to the first command after EHLO trickles in, a byte every 40 ms. */
  private static ScriptedSmtpServer.Script trickling() {
    return c -> {
      c.write("220 fake.test ESMTP\r\n");
      c.readLine();
      c.write("250 fake.test\r\n");
      c.readLine();
      for (byte b : bytes("250 2.0.0 Ok, eventually\r\n")) {
        c.write(new byte[] {b});
        Thread.sleep(40);
      }
      c.readUntilClosed();
    };
  }

  @Test
  void eachReplyBoundsTheWholeReplyHoweverItTricklesIn() throws Exception {
    server = ScriptedSmtpServer.start(trickling());
    connection = plainConnection(SmtpConnection.Timeout.eachReply(Duration.ofMillis(300)));

    assertThatThrownBy(() -> connection.send("NOOP")).isInstanceOf(SocketTimeoutException.class);
  }

  @Test
  void eachReadBoundsEachRead() throws Exception {
    server = ScriptedSmtpServer.start(trickling());
    connection = plainConnection(SmtpConnection.Timeout.eachRead(Duration.ofMillis(300)));

    assertThat(connection.send("NOOP").toString()).isEqualTo("250 2.0.0 Ok, eventually");
  }

  /** A connection greeted and EHLO'd by hand, over {@link SmtpConnection}'s own steps. */
  private SmtpConnection plainConnection(SmtpConnection.Timeout timeout) throws IOException {
    SmtpConnection c =
        new SmtpConnection(
            SmtpConnection.Endpoint.connect(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()),
                    "localhost",
                    TIMEOUT)
                .socket(),
            timeout);
    c.greet();
    c.hello("client.test", false);
    return c;
  }

  @Test
  void bytesNobodyAskedForAreSeen() throws Exception {
    open(
        replies("250 fake.test\r\n", "250 2.0.0 Ok\r\n421 4.4.2 idle too long\r\n"),
        config().build());
    assertThat(connection.unaskedInput()).isFalse();

    assertThat(connection.send("NOOP").code()).isEqualTo(250);

    await().atMost(Duration.ofSeconds(5)).until(connection::unaskedInput);
  }

  @Test
  void aLineWithACrOrLfIsNeverSentAndNeverShown() throws Exception {
    open(replies("250 fake.test\r\n"), config().build());

    assertThatThrownBy(() -> connection.send("AUTH PLAIN c2VjcmV0\r\nDATA"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("c2VjcmV0");
    connection.quit();
    awaitReceived("EHLO client.test\r\nQUIT\r\n");
  }

  @Test
  void tlsRequiredButNotOfferedSaysQuitAndNothingElse() {
    VerifierConfig required = config().tls(BackendTls.REQUIRED).build();

    assertThatThrownBy(() -> open(replies("250-fake.test\r\n250 PIPELINING\r\n"), required))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> assertThat(e.failure()).isEqualTo(Failure.STARTTLS_NOT_OFFERED));
    awaitReceived("EHLO client.test\r\nQUIT\r\n");
  }

  @Test
  void aFailedOpportunisticHandshakeIsRetriedInTheClearOnANewConnection() throws Exception {
    open(
        c -> {
          c.write("220 fake.test ESMTP\r\n");
          c.readLine();
          c.write("250-fake.test\r\n250 STARTTLS\r\n");
          if ("STARTTLS".equals(c.readLine())) {
            c.write("220 2.0.0 Ready\r\n"); // and hangs up instead of answering the ClientHello
            return;
          }
          c.readUntilClosed();
        },
        config().tls(BackendTls.OPPORTUNISTIC).build());

    assertThat(server.connections()).isEqualTo(2);
    assertThat(connection.encrypted()).isFalse();
    assertThat(connection.offers("STARTTLS")).isTrue();
    assertThat(server.count("STARTTLS")).isEqualTo(1);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }
}
