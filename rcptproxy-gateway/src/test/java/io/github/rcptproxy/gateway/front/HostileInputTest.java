package io.github.rcptproxy.gateway.front;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What an attacker sends at RCPT time never reaches the backend (whose every received byte is
 * recorded), the client gets a clear refusal (or SubEthaSMTP hangs up on a line it cannot parse),
 * and the gateway goes on serving. Prints one row per attack for the table in docs/reliability.md.
 */
class HostileInputTest {
  private static ScriptedSmtpServer backend;
  private static RunningGateway gateway;

  @BeforeAll
  static void start() {
    backend = ScriptedSmtpServer.start(ScriptedSmtpServer.dialogue(address -> "250 2.1.5 Ok\r\n"));
    gateway = TestGateway.start(backend.port(), "example.com", TestGateway.noDisconnect());
    System.out.println("| attack at RCPT | client saw |");
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    backend.close();
    System.out.println();
  }

  static Stream<Arguments> attacks() {
    return Stream.of(
        Arguments.of("CRLF inside the path", "RCPT TO:<ok@example.com\r\nevilDATA@example.com>"),
        Arguments.of("bare CR inside the path", "RCPT TO:<evil\rDATA@example.com>"),
        Arguments.of("bare LF inside the path", "RCPT TO:<evil\nDATA@example.com>"),
        Arguments.of("NUL inside the path", "RCPT TO:<evil\u0000@example.com>"),
        Arguments.of("'<' and '>' inside the path", "RCPT TO:<evil<x>@example.com>"),
        Arguments.of("local part of 65 bytes", "RCPT TO:<evil" + "a".repeat(61) + "@example.com>"),
        Arguments.of(
            "domain of 256 bytes",
            "RCPT TO:<evil@"
                + "a".repeat(63)
                + "."
                + "b".repeat(63)
                + "."
                + "c".repeat(63)
                + "."
                + "d".repeat(52)
                + ".example.com>"),
        Arguments.of(
            "path over 256 bytes",
            "RCPT TO:<evil"
                + "a".repeat(60)
                + "@"
                + ("x".repeat(60) + ".").repeat(3)
                + "example.com>"),
        Arguments.of(
            "non-ASCII local part, backend without SMTPUTF8", "RCPT TO:<evilö@example.com>"),
        Arguments.of(
            "U+760D U+760A (CR/LF in a lossy encoder)", "RCPT TO:<evil\u760d\u760a@example.com>"),
        Arguments.of("quoted local part with spaces", "RCPT TO:<\"evil doer\"@example.com>"),
        Arguments.of("empty path", "RCPT TO:<>"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("attacks")
  void hostileRecipientIsRefusedAndNeverReachesTheBackend(String attack, String command)
      throws Exception {
    String reply;
    try (SmtpClient client = client()) {
      client.send("MAIL FROM:<you@example.net>");
      reply = client.send(command);
      if (command.contains("\r\n")) {
        reply = client.readReply(); // two lines, two replies: the second is the attack's
      }
      assertThat(reply == null || reply.matches("5\\d\\d .*"))
          .as("%s answered %s", attack, reply)
          .isTrue();
    }
    assertThat(backend.received()).doesNotContain("evil");
    assertGatewayStillServes();
    System.out.printf(
        "| %s | `%s` |%n", attack, reply == null ? "connection closed by SubEthaSMTP" : reply);
  }

  @Test
  void invalidUtf8BytesAreRefused() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", gateway.port())) {
      socket.setSoTimeout(5000);
      OutputStream out = socket.getOutputStream();
      out.write(
          "EHLO client.test\r\nMAIL FROM:<you@example.net>\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      out.write(
          new byte[] {
            'R',
            'C',
            'P',
            'T',
            ' ',
            'T',
            'O',
            ':',
            '<',
            'e',
            'v',
            'i',
            'l',
            (byte) 0xC3,
            (byte) 0x28,
            '@',
            'e',
            'x',
            '.',
            'c',
            'o',
            'm',
            '>',
            '\r',
            '\n'
          });
      out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
      String replies = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(replies).containsPattern("\r\n5\\d\\d[ -]");
    }
    assertThat(backend.received()).doesNotContain("evil");
    assertGatewayStillServes();
  }

  @Test
  void parametersAndJunkAfterThePathNeverReachTheBackend() throws Exception {
    try (SmtpClient client = client()) {
      client.send("MAIL FROM:<you@example.net>");
      // The gateway advertises no RCPT parameters: anything after the path is refused, and the
      // backend only ever hears RCPT TO:<address>, rebuilt from the validated address.
      assertThat(client.send("RCPT TO:<bob@example.com> " + "EVILPARAM=".repeat(60)))
          .startsWith("555 5.5.4");
      assertThat(client.send("RCPT TO:bob@example.com EVILJUNK")).startsWith("555 5.5.4");
    }
    assertThat(backend.received()).doesNotContain("EVIL");
    assertThat(backend.received().lines()).allMatch(line -> line.length() + 2 <= 512);
    assertGatewayStillServes();
  }

  @Test
  void rcptBeforeMailIsRefused() throws Exception {
    try (SmtpClient client = client()) {
      assertThat(client.send("RCPT TO:<evil@example.com>")).startsWith("503");
    }
    assertThat(backend.received()).doesNotContain("evil");
  }

  @Test
  void thousandRecipientsInOneMessageStopAtTheLimit() throws Exception {
    ByteArrayOutputStream replies = new ByteArrayOutputStream();
    int accepted = 0;
    int refused = 0;
    try (SmtpClient client = client()) {
      client.send("MAIL FROM:<you@example.net>");
      for (int i = 0; i < 1000; i++) {
        String reply = client.send("RCPT TO:<user" + i + "@example.com>");
        if (reply.startsWith("250")) {
          accepted++;
        } else {
          refused++;
          replies.writeBytes(reply.getBytes(StandardCharsets.UTF_8));
        }
      }
    }
    assertThat(accepted).isEqualTo(100); // --max-recipients default
    assertThat(refused).isEqualTo(900);
    assertThat(replies.toString(StandardCharsets.UTF_8)).startsWith("452");
    assertGatewayStillServes();
  }

  private static SmtpClient client() throws Exception {
    SmtpClient client = new SmtpClient("127.0.0.1", gateway.port());
    client.readReply();
    client.send("EHLO client.test");
    return client;
  }

  private static void assertGatewayStillServes() throws Exception {
    try (SmtpClient client = client()) {
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
    }
  }
}
