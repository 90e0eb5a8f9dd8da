package io.github.rcptproxy.gateway.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.EsmtpBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The backend learns who the client was: a {@code Received:} header of the usual form on every
 * relayed message (RFC 5321 §4.4), and XFORWARD for a Postfix that allows it, so its logs, SPF
 * checks and rate limits see the client rather than the gateway.
 */
@RealServers
class GatewayTraceTest {

  @Test
  void everyRelayedMessageCarriesAReceivedHeaderNamingTheClient() throws Exception {
    try (ScriptedSmtpServer backend = EsmtpBackend.wellBehaved().start();
        RunningGateway gateway =
            TestGateway.start(backend.port(), "example.com", s -> s.hostName("mx.example.com"));
        EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      client.reply();
      client.send("EHLO client.example.net");
      client.send("MAIL FROM:<you@example.net>");
      client.send("RCPT TO:<alice@example.com>");
      client.send("DATA");
      assertThat(client.send("Subject: trace\r\n\r\nhello\r\n.")).startsWith("250");

      String received = backend.received();
      String header = received.substring(received.indexOf("\r\nDATA\r\n") + 8);
      assertThat(header)
          .containsPattern(
              "^Received: from client\\.example\\.net \\(\\[127\\.0\\.0\\.2]\\)\r\n"
                  + "\tby mx\\.example\\.com \\(rcptproxy-gateway\\) with ESMTP id \\S+\r\n"
                  + "\tfor <alice@example\\.com>; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\r\n"
                  + "Subject: trace\r\n");
      System.out.printf(
          "| any relayed message | `250 Ok` | `%s` on top |%n",
          String.join(" ", header.lines().limit(3).toList()));
    }
  }

  /**
   * The HELO name is the client's word: it must not be able to add clauses to the header (a {@code
   * ;} would start the date, {@code (} a comment). Only letters, digits, dot, hyphen and underscore
   * are kept, or an address literal as it is.
   */
  @Test
  void heloNameCannotChangeTheStructureOfTheReceivedHeader() throws Exception {
    try (ScriptedSmtpServer backend = EsmtpBackend.wellBehaved().start();
        RunningGateway gateway =
            TestGateway.start(backend.port(), "example.com", s -> s.hostName("mx.example.com"));
        EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      client.reply();
      assertThat(client.send("EHLO evil;by(mx.example.com)<x@y>[1.2.3.4]\"q\"")).startsWith("250");
      client.send("MAIL FROM:<you@example.net>");
      client.send("RCPT TO:<alice@example.com>");
      client.send("DATA");
      assertThat(client.send("Subject: trace\r\n\r\nhello\r\n.")).startsWith("250");

      String received = backend.received();
      String header = received.substring(received.indexOf("\r\nDATA\r\n") + 8);
      header = header.substring(0, header.indexOf("Subject: trace"));
      assertThat(header)
          .startsWith(
              "Received: from evil?by?mx.example.com??x?y??1.2.3.4??q? ([127.0.0.2])\r\n"
                  + "\tby mx.example.com (rcptproxy-gateway) with ESMTP id ");
      assertThat(header.chars().filter(c -> c == ';')).hasSize(1); // the one before the date
      System.out.printf(
          "| `EHLO evil;by(mx.example.com)...` | `250` | `%s` |%n",
          header.lines().findFirst().get());
    }
  }

  @Test
  void addressLiteralHeloIsKeptAsItIs() {
    assertThat(Trace.heloToken("[192.0.2.1]")).isEqualTo("[192.0.2.1]");
    assertThat(Trace.heloToken("[IPv6:2001:db8::1]")).isEqualTo("[IPv6:2001:db8::1]");
    assertThat(Trace.heloToken("[192.0.2.1];by")).isEqualTo("?192.0.2.1??by");
    assertThat(Trace.heloToken("mail-1.example_2.net")).isEqualTo("mail-1.example_2.net");
  }

  @Test
  void postfixWithXforwardLogsTheClientsOwnAddress() throws Exception {
    try (PostfixBackend postfix =
        PostfixBackend.start(List.of("smtpd_authorized_xforward_hosts = 127.0.0.0/8"))) {
      relayThroughTheGatewayFrom127002(postfix);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> postfix.log().contains("orig_client=unknown[127.0.0.2]"));
      String line =
          postfix
              .log()
              .lines()
              .filter(l -> l.contains("orig_client=unknown[127.0.0.2]"))
              .findFirst()
              .orElseThrow();
      System.out.printf(
          "| a Postfix with `smtpd_authorized_xforward_hosts` behind the gateway | `250 Ok` | logs"
              + " `%s` (XFORWARD) |%n",
          line.substring(line.indexOf("client=")));
    }
  }

  private static void relayThroughTheGatewayFrom127002(PostfixBackend postfix) throws Exception {
    try (RunningGateway gateway = TestGateway.start(postfix.port(), PostfixBackend.DOMAIN);
        EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      client.reply();
      client.send("EHLO client.example.net");
      client.send("MAIL FROM:<you@example.net>");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(3) + ">")).startsWith("250");
      client.send("DATA");
      assertThat(client.send("Subject: xforward\r\n\r\nhello\r\n.")).startsWith("250");
    }
  }
}
