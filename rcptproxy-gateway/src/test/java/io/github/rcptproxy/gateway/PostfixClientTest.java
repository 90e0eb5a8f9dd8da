package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.AbstractStringAssert;
import org.junit.jupiter.api.Test;

/**
 * A real Postfix as the gateway's client, relaying to it ({@code relayhost}) a message for a valid
 * recipient, a typo and another valid recipient, as a site's outbound Postfix does: the typo is
 * bounced by Postfix, and the valid recipients are delivered once, at the first attempt, behind the
 * gateway (another real Postfix). The 2005 sink's hang-up at the first rejection ({@code
 * --disconnect-after 1}) comes with {@code 421} first: Postfix defers the recipient it could not
 * send for that reason, never for "lost connection".
 */
@RealServers
class PostfixClientTest {
  private static final String SENDER = PostfixClient.SENDER;

  /** Postfix's delivery lines for {@code recipient} in {@code log}. */
  private static List<String> deliveries(String log, String recipient) {
    return log.lines().filter(line -> line.contains(" to=<" + recipient + ">")).toList();
  }

  /** Postfix's one delivery line for {@code recipient} in {@code log}. */
  private static AbstractStringAssert<?> theDeliveryOf(String log, String recipient) {
    return assertThat(deliveries(log, recipient)).singleElement().asString();
  }

  /** Submits {@code user, nouser, user2} and waits until Postfix has bounced {@code nouser}. */
  private static String submitAndAwaitTheBounce(
      PostfixBackend client, String user, String nouser, String user2) throws Exception {
    PostfixClient.submit(client, List.of(user, nouser, user2));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                theDeliveryOf(client.log(), nouser)
                    .contains("status=bounced", "said: 550 5.1.1 Unable to relay to " + nouser));
    return client.log();
  }

  private static int count(String text, String pattern) {
    Matcher matcher = Pattern.compile(pattern).matcher(text);
    int count = 0;
    while (matcher.find()) {
      count++;
    }
    return count;
  }

  /** A gateway that knows a real mailbox from its start: its first refusal is settled at once. */
  private static RunningGateway gateway(Consumer<GatewaySettings.Builder> extra) {
    return TestGateway.start(
        PostfixBackend.shared().port(),
        PostfixBackend.DOMAIN,
        extra.andThen(s -> s.verifier(v -> v.knownGood(PostfixBackend.known(0)))));
  }

  @Test
  void aTypoIsBouncedByTheClientAndTheValidCoRecipientsAreDeliveredAtTheFirstAttempt()
      throws Exception {
    PostfixBackend backend = PostfixBackend.shared();
    String user = PostfixBackend.known(731);
    String nouser = PostfixBackend.unknown(731);
    String user2 = PostfixBackend.known(732);
    try (RunningGateway gateway = gateway(settings -> {});
        PostfixBackend client = PostfixClient.of(gateway)) {
      submitAndAwaitTheBounce(client, user, nouser, user2);
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                String log = client.log();
                theDeliveryOf(log, user).contains("status=sent");
                theDeliveryOf(log, user2).contains("status=sent");
                assertThat(log).contains("sender non-delivery notification");
              });
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                String log = backend.log();
                assertThat(deliveries(log, user)).hasSize(1);
                assertThat(deliveries(log, user2)).hasSize(1);
              });
      String log = client.log();
      assertThat(log).doesNotContain("status=deferred");
      assertThat(count(log, "postfix/smtp\\[.*(lost connection|timed out)")).isZero();
    }
  }

  /**
   * The hang-up as a pipelining client sees it: every command it sent before gets its reply, the
   * rejected recipient its {@code 550}, the next command {@code 421}, then the end of the
   * connection (the commands pipelined after it are read and dropped first: closing with unread
   * input would send a TCP reset, which can destroy replies the client has not read yet).
   */
  @Test
  void pipelinedCommandsGetTheirRepliesAndThe421BeforeTheHangUp() throws Exception {
    try (RunningGateway gateway =
            gateway(settings -> settings.policy(policy -> policy.disconnectAfterRejections(1)));
        EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO pipelining.client.test")).startsWith("250");
      client.raw(
          "MAIL FROM:<"
              + SENDER
              + ">\r\nRCPT TO:<"
              + PostfixBackend.known(751)
              + ">\r\nRCPT TO:<"
              + PostfixBackend.unknown(751)
              + ">\r\nRCPT TO:<"
              + PostfixBackend.known(752)
              + ">\r\nDATA\r\n");
      assertThat(client.reply()).startsWith("250");
      assertThat(client.reply()).startsWith("250");
      assertThat(client.reply()).startsWith("550 5.1.1");
      assertThat(client.reply()).startsWith("421 4.7.0");
      assertThat(client.reply()).isNull();
    }
  }

  /** By default the hang-up comes where Postfix's does: past 20 errors, with 421 first. */
  @Test
  void byDefaultTwentyRejectedRecipientsThen421ThenTheHangUp() throws Exception {
    try (RunningGateway gateway = gateway(settings -> {});
        EdgeClient client = EdgeClient.connect("127.0.0.3", gateway.port())) {
      assertThat(client.reply()).startsWith("220");
      assertThat(client.send("EHLO harvester.client.test")).startsWith("250");
      assertThat(client.send("MAIL FROM:<" + SENDER + ">")).startsWith("250");
      for (int i = 1; i <= 20; i++) {
        assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(760 + i) + ">"))
            .as("rejection %d", i)
            .startsWith("550 5.1.1");
      }
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(761) + ">"))
          .isEqualTo("421 4.7.0 Too many rejected recipients, closing connection");
      assertThat(client.reply()).isNull();
    }
  }

  /**
   * Postfix sends the recipients sorted ({@code nobody} first) and one at a time (the gateway does
   * not offer PIPELINING): the next RCPT after the rejection gets {@code 421}, which Postfix logs
   * for that recipient and defers it; the rest, which it then tries to send anyway, it defers as
   * "lost connection". Deferred, retried, never bounced: the sink mode's cost, which the default no
   * longer has.
   */
  @Test
  void theSinksHangUpComesAfter421AndTheClientDefersTheValidRecipients() throws Exception {
    String user = PostfixBackend.known(741);
    String nouser = PostfixBackend.unknown(741);
    String user2 = PostfixBackend.known(742);
    try (RunningGateway gateway =
            gateway(settings -> settings.policy(policy -> policy.disconnectAfterRejections(1)));
        PostfixBackend client = PostfixClient.of(gateway)) {
      submitAndAwaitTheBounce(client, user, nouser, user2);
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                String log = client.log();
                theDeliveryOf(log, user)
                    .contains(
                        "status=deferred",
                        "said: 421 4.7.0 Too many rejected recipients, closing connection");
                theDeliveryOf(log, user2).contains("status=deferred");
              });
    }
  }
}
