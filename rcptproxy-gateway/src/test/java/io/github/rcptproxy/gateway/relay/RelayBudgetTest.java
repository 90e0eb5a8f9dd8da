package io.github.rcptproxy.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The relay's connections are a budget of their own: when all are busy a message waits for one
 * within the relay timeout, then the client hears {@code 451}, with nothing delivered; meanwhile
 * verification, on the verifier's own sessions, goes on.
 */
@RealServers
class RelayBudgetTest {
  @Test
  void aMessageFindingEveryRelayConnectionBusyIsTempfailedAndVerificationGoesOn() throws Exception {
    String first = PostfixBackend.known(841);
    String second = PostfixBackend.known(842);
    try (PostfixBackend backend =
            PostfixBackend.start(List.of("smtpd_end_of_data_restrictions = sleep 4, permit"));
        RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                PostfixBackend.DOMAIN,
                s -> s.relayConnections(1).relayTimeout(Duration.ofSeconds(1)));
        EdgeClient slow = inData(gateway, first)) {
      slow.raw("Subject: first\r\n\r\nhello\r\n.\r\n");
      CompletableFuture<String> firstReply = CompletableFuture.supplyAsync(() -> reply(slow));
      // The relay's transaction for the first message is open (Postfix opened its queue file at
      // the first recipient; the verifier asks with VRFY, which opens none), and its end of data
      // takes 4 s: the relay's only connection is busy.
      await().atMost(Duration.ofSeconds(10)).until(() -> backend.log().contains(": client="));
      try (EdgeClient late = inData(gateway, second)) {
        late.raw("Subject: second\r\n\r\nhello\r\n.\r\n");
        assertThat(late.reply()).isEqualTo("451 4.4.5 Mail system congested, try again later");
      }
      try (EdgeClient probe = EdgeClient.connect(gateway.port())) {
        probe.reply();
        probe.send("EHLO probe.client.test");
        probe.send("MAIL FROM:<probe@client.test>");
        assertThat(probe.send("RCPT TO:<" + PostfixBackend.unknown(843) + ">"))
            .startsWith("550 5.1.1");
      }
      assertThat(firstReply.get(10, TimeUnit.SECONDS)).startsWith("250");
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(backend.log()).contains("to=<" + first + ">"));
      assertThat(backend.log()).doesNotContain("to=<" + second + ">");
    }
  }

  private static EdgeClient inData(RunningGateway gateway, String recipient) throws Exception {
    EdgeClient client = EdgeClient.connect(gateway.port());
    assertThat(client.reply()).startsWith("220");
    assertThat(client.send("EHLO client.test")).startsWith("250");
    assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
    assertThat(client.send("RCPT TO:<" + recipient + ">")).startsWith("250");
    assertThat(client.send("DATA")).startsWith("354");
    return client;
  }

  private static String reply(EdgeClient client) {
    try {
      return client.reply();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
