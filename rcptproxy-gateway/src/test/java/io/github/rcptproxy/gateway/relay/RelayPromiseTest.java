package io.github.rcptproxy.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.PostfixClient;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * What the gateway tells a client is what the backend does with that very message: a {@code 250}
 * for a recipient only where the backend took it for this message, every valid recipient delivered
 * once, the client's retries included. Real clients (Postfix) and backends (Exim, Postfix).
 */
@RealServers
class RelayPromiseTest {
  private static final String SENDER = "sender@client.test";

  /**
   * Exim with {@code recipients_max = 3} and a {@code defer} router for one valid user; a real
   * Postfix sends one message to six valid users through the gateway. The deferred user hears
   * {@code 451} at RCPT (the relay asks the backend with the client's envelope), the limit is
   * learnt from the backend's {@code 452} and told to the client at RCPT from then on; Postfix's
   * retries bring every recipient exactly one copy, the deferred one too once its mailbox takes
   * mail.
   */
  @Test
  void aDeferredMailboxAndARecipientLimitCostNobodyTheirMailNorGiveAnyoneTwoCopies()
      throws Exception {
    List<String> recipients = IntStream.rangeClosed(801, 806).mapToObj(EximBackend::known).toList();
    String deferred = EximBackend.known(805);
    try (EximBackend exim =
            EximBackend.start(
                EximBackend.Options.builder().recipientsMax(3).deferring("user805").build());
        RunningGateway gateway =
            TestGateway.start(exim.port(), EximBackend.DOMAIN, TestGateway.noDisconnect());
        PostfixBackend client = PostfixClient.of(gateway)) {
      PostfixClient.submit(client, recipients);
      List<String> others = recipients.stream().filter(r -> !r.equals(deferred)).toList();
      awaitDelivered(client, exim, others);
      assertThat(exim.deliveredTo(deferred)).isZero();
      assertThat(client.log().lines().filter(line -> line.contains("to=<" + deferred + ">")))
          .isNotEmpty()
          .allMatch(line -> line.contains("status=deferred"))
          .anyMatch(line -> line.contains("in reply to RCPT TO command"));

      exim.stopDeferring();
      awaitDelivered(client, exim, recipients);
      assertThat(client.log()).doesNotContain("status=bounced");
    }
  }

  /** Flushes the client's queue until each of {@code recipients} has one copy; never two. */
  private static void awaitDelivered(
      PostfixBackend client, EximBackend exim, List<String> recipients) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () -> {
              client.flushQueue();
              for (String recipient : recipients) {
                assertThat(exim.deliveredTo(recipient)).as(recipient).isEqualTo(1);
              }
            });
  }

  /**
   * A recipient verified (and cached) as valid that the backend refuses when the message comes: the
   * message is tempfailed with nothing delivered, and the client's retry hears the backend's answer
   * for that recipient at RCPT, so its co-recipient is delivered at once, one copy.
   */
  @Test
  void aRecipientRefusedAtRelayTimeIsAskedAtRcptOnTheRetry() throws Exception {
    String moving = EximBackend.known(811);
    String staying = EximBackend.known(812);
    try (EximBackend exim =
            EximBackend.start(EximBackend.Options.builder().deferring("user811").build());
        RunningGateway gateway =
            TestGateway.start(
                exim.port(),
                EximBackend.DOMAIN,
                s -> s.verifier(v -> v.cache(Duration.ofHours(1), Duration.ofMinutes(1), 1000)))) {
      exim.stopDeferring();
      assertThat(send(gateway, moving, staying)).containsExactly("250", "250", "250");
      await().atMost(Duration.ofSeconds(10)).until(() -> exim.deliveredTo(moving) == 1);
      exim.startDeferring(); // the verdicts stay cached: the gateway learns it at relay time
      assertThat(send(gateway, moving, staying)).containsExactly("250", "250", "451");
      assertThat(send(gateway, moving, staying)).containsExactly("451", "250", "250");
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(exim.deliveredTo(moving)).isEqualTo(1);
                assertThat(exim.deliveredTo(staying)).isEqualTo(2);
              });
    }
  }

  /** One message to {@code recipients}: the code of each RCPT reply, then of the message's. */
  private static List<String> send(RunningGateway gateway, String... recipients) throws Exception {
    try (EdgeClient client = EdgeClient.connect(gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO client.test")).startsWith("250");
      assertThat(client.send("MAIL FROM:<" + SENDER + ">")).startsWith("250");
      List<String> codes = new ArrayList<>();
      for (String recipient : recipients) {
        codes.add(client.send("RCPT TO:<" + recipient + ">").substring(0, 3));
      }
      if (codes.contains("250")) {
        assertThat(client.send("DATA")).startsWith("354");
        codes.add(client.send("Subject: retry\r\n\r\nhello\r\n.").substring(0, 3));
      }
      return codes;
    }
  }

  /**
   * A backend that takes longer to answer the end of data than the relay's timeout for every other
   * reply: the gateway waits as RFC 5321 says (10 minutes), so the client hears {@code 250} and the
   * message is delivered once, rather than {@code 451} for a message delivered anyway.
   */
  @Test
  void aSlowAnswerToTheEndOfDataIsAwaitedAndTheMessageDeliveredOnce() throws Exception {
    String recipient = PostfixBackend.known(821);
    try (PostfixBackend backend =
            PostfixBackend.start(List.of("smtpd_end_of_data_restrictions = sleep 3, permit"));
        RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                PostfixBackend.DOMAIN,
                s -> s.relayTimeout(Duration.ofSeconds(1)))) {
      assertThat(send(gateway, recipient)).containsExactly("250", "250");
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(backend.log().lines().filter(l -> l.contains("to=<" + recipient)))
                      .singleElement()
                      .asString()
                      .contains("status=sent"));
    }
  }
}
