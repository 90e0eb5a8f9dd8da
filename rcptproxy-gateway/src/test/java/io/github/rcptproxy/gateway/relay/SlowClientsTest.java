package io.github.rcptproxy.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Clients that send their message slowly hold no backend connection: the gateway receives the whole
 * message before it takes one of its relay connections. 60 clients from 6 addresses trickle their
 * messages for 40 s into a gateway whose backend (a real Postfix) takes at most 20 connections from
 * it ({@code smtpd_client_connection_count_limit}, loopback not exempt); meanwhile unknown
 * recipients from other addresses are all refused and a real message is delivered.
 */
@RealServers
class SlowClientsTest {
  private static final int SLOW_CLIENTS = 60;
  private static final Duration TRICKLE = Duration.ofSeconds(40);

  @Test
  void slowClientsTakeNoBackendConnectionFromVerificationOrFromOtherMessages() throws Exception {
    List<EdgeClient> slow = new ArrayList<>();
    ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
    ExecutorService others = Executors.newFixedThreadPool(13);
    try (PostfixBackend backend =
            PostfixBackend.start(
                List.of(
                    "smtpd_client_connection_count_limit = 20",
                    "smtpd_client_event_limit_exceptions =")); // loopback is limited too
        RunningGateway gateway = TestGateway.start(backend.port(), PostfixBackend.DOMAIN)) {
      for (int i = 0; i < SLOW_CLIENTS; i++) {
        EdgeClient client = EdgeClient.connect("127.0.0." + (2 + i % 6), gateway.port());
        slow.add(client);
        assertThat(client.reply()).startsWith("220");
        assertThat(client.send("EHLO slow.client.test")).startsWith("250");
        assertThat(client.send("MAIL FROM:<slow@client.test>")).startsWith("250");
        assertThat(client.send("RCPT TO:<" + PostfixBackend.known(900 + i) + ">"))
            .startsWith("250");
        assertThat(client.send("DATA")).startsWith("354");
        client.raw("Subject: slow\r\n\r\n");
      }
      trickle.scheduleAtFixedRate(
          () -> slow.forEach(SlowClientsTest::oneByte), 0, 1, TimeUnit.SECONDS);
      long end = System.nanoTime() + TRICKLE.toNanos();

      List<Future<String>> unknown = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        String from = "127.0.0." + (10 + i);
        String recipient = PostfixBackend.unknown(900 + i);
        unknown.add(others.submit(rcpt(gateway, from, recipient)));
      }
      Future<String> message = others.submit(message(gateway, PostfixBackend.known(990)));
      for (Future<String> reply : unknown) {
        assertThat(reply.get(30, TimeUnit.SECONDS)).startsWith("550 5.1.1");
      }
      assertThat(message.get(30, TimeUnit.SECONDS)).startsWith("250");
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> assertThat(backend.log()).contains("to=<" + PostfixBackend.known(990) + ">"));

      await().atMost(TRICKLE.plusSeconds(5)).until(() -> System.nanoTime() - end > 0);
      trickle.shutdownNow();
      // The slow messages end and are relayed, each with a connection of its own turn.
      for (EdgeClient client : slow) {
        client.raw("\r\n.\r\n");
      }
      for (EdgeClient client : slow) {
        assertThat(client.reply()).startsWith("250");
      }
    } finally {
      trickle.shutdownNow();
      others.shutdownNow();
      for (EdgeClient client : slow) {
        client.close();
      }
    }
  }

  private static void oneByte(EdgeClient client) {
    try {
      client.raw("x");
    } catch (Exception e) {
      throw new IllegalStateException("a slow client was cut off", e);
    }
  }

  private static Callable<String> rcpt(RunningGateway gateway, String from, String recipient) {
    return () -> {
      try (EdgeClient client = EdgeClient.connect(from, gateway.port())) {
        client.reply();
        client.send("EHLO probe.client.test");
        client.send("MAIL FROM:<probe@client.test>");
        return client.send("RCPT TO:<" + recipient + ">");
      }
    };
  }

  private static Callable<String> message(RunningGateway gateway, String recipient) {
    return () -> {
      try (EdgeClient client = EdgeClient.connect("127.0.0.30", gateway.port())) {
        client.reply();
        client.send("EHLO real.client.test");
        client.send("MAIL FROM:<real@client.test>");
        assertThat(client.send("RCPT TO:<" + recipient + ">")).startsWith("250");
        assertThat(client.send("DATA")).startsWith("354");
        return client.send("Subject: real\r\n\r\nhello\r\n.");
      }
    };
  }
}
