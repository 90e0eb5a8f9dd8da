package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.BackendFault;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Several backends through the whole gateway: a first host that accepts connections and never
 * greets (a hung MTA) is skipped, by the verifier and by the relay alike, and a real Postfix behind
 * it answers every recipient and takes the message.
 */
@RealServers
class GatewayBackendsTest {

  private static InetSocketAddress at(int port) {
    return InetSocketAddress.createUnresolved("127.0.0.1", port);
  }

  @Test
  void aHungFirstBackendIsSkippedAndPostfixVerifiesAndTakesTheMessage() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    postfix.deliverOneMessage(); // hand back inflow tokens other tests kept
    try (ScriptedSmtpServer hung = ScriptedSmtpServer.start(BackendFault.NEVER_GREETS.script());
        RunningGateway gateway =
            TestGateway.start(
                postfix.port(),
                PostfixBackend.DOMAIN,
                s -> {
                  TestGateway.noDisconnect().accept(s); // the 550 must not end the session
                  s.verifier(
                      v ->
                          v.backends(List.of(at(hung.port()), at(postfix.port())))
                              .connectTimeout(Duration.ofMillis(500))
                              .knownGood(PostfixBackend.known(0)));
                })) {
      for (int i = 0; i < 2; i++) {
        try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
          client.readReply();
          client.send("EHLO client.test");
          client.send("MAIL FROM:<you@example.net>");
          assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(300 + i) + ">"))
              .startsWith("550");
          assertThat(client.send("RCPT TO:<" + PostfixBackend.known(30 + i) + ">"))
              .startsWith("250");
          client.send("DATA");
          assertThat(
                  client.send(
                      "Subject: past a hung backend\r\nMessage-ID: <backends-"
                          + i
                          + "@example.net>\r\n\r\nhello\r\n."))
              .startsWith("250");
        }
        String delivered = "to=<" + PostfixBackend.known(30 + i) + ">";
        await().atMost(Duration.ofSeconds(10)).until(() -> postfix.log().contains(delivered));
      }
      // Once by the verifier, once by the relay, each with its own breaker; skipped since.
      assertThat(hung.connections()).isEqualTo(2);
    }
  }
}
