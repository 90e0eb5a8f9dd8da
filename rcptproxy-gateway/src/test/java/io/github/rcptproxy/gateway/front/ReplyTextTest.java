package io.github.rcptproxy.gateway.front;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.EsmtpBackend;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What the client wrote never comes back in a reply as it was written: SubEthaSMTP's MAIL and RCPT
 * replies echoed the line, control characters included; the front answers those lines itself.
 */
class ReplyTextTest {
  private ScriptedSmtpServer backend;
  private RunningGateway gateway;

  @BeforeEach
  void start() {
    backend = EsmtpBackend.wellBehaved().start();
    gateway = TestGateway.start(backend.port(), "example.com");
  }

  @AfterEach
  void stop() throws Exception {
    gateway.close();
    backend.close();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "MAIL without FROM:, a control character after it|MAIL XFROM:\u001b[2J"
            + "|501 5.5.4 Syntax: MAIL FROM:<address>",
        "a control character in the sender|MAIL FROM:<a\u0001b@example.net>"
            + "|501 5.1.7 Bad sender address syntax",
        "a sender SubEthaSMTP finds invalid|MAIL FROM:<j\u00f6rg@@example.net> SMTPUTF8"
            + "|501 5.1.7 Bad sender address syntax",
        "RCPT without TO:, a control character after it|RCPT XTO:\u001b[2J"
            + "|501 5.5.4 Syntax: RCPT TO:<address>"
      })
  void aLineThatIsNoMailOrRcptIsRefusedWithoutEchoingIt(
      String behaviour, String line, String expected) throws Exception {
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO client.test")).startsWith("250");
      if (line.startsWith("RCPT")) {
        assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      }
      assertThat(client.send(line)).isEqualTo(expected);
      assertThat(client.send("NOOP")).as("the session goes on").isEqualTo("250 Ok");
    }
  }
}
