package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.DovecotBackend;
import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.OpenSmtpdBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * What an SMTP client hears through the whole gateway from hardened backends, each started by the
 * test: the meaning the backend gave to a refusal, and never a {@code 250} for an unknown address
 * before the backend can tell.
 */
@RealServers
class GatewayVerdictsTest {
  private static final int RECIPIENTS = 300;

  /**
   * The replies to RCPT TO for each address, in one session of one client, counted by reply code
   * and enhanced code.
   */
  private static Map<String, Integer> replies(int gatewayPort, Iterable<String> recipients)
      throws IOException {
    Map<String, Integer> counted = new TreeMap<>();
    try (SmtpClient client = new SmtpClient("127.0.0.1", gatewayPort)) {
      client.readReply();
      client.send("EHLO client.test");
      for (String recipient : recipients) {
        client.send("MAIL FROM:<you@example.net>");
        String reply = client.send("RCPT TO:<" + recipient + ">");
        String[] parts = reply.split(" ");
        String enhanced =
            parts.length > 1 && parts[1].matches("[245]\\.[0-9]{1,3}\\.[0-9]{1,3}")
                ? " " + parts[1]
                : "";
        String kind = recipient.startsWith("nobody") ? "unknown " : "known ";
        counted.merge(kind + parts[0] + enhanced, 1, Integer::sum);
        client.send("RSET");
      }
    }
    return counted;
  }

  private static Iterable<String> halfUnknown(String domain) {
    List<String> recipients = new ArrayList<>();
    for (int i = 0; i < RECIPIENTS; i++) {
      recipients.add(i % 2 == 0 ? "user" + (i / 2) + "@" + domain : "nobody" + i + "@" + domain);
    }
    return recipients;
  }

  /** No hang-up and no cool-down for one client's many rejections: each reply is counted. */
  private static Consumer<GatewaySettings.Builder> noDisconnect() {
    return TestGateway.noDisconnect().andThen(s -> s.maxRejectedPerClient(1_000_000));
  }

  /** A gateway relaying over LMTP to {@code dovecot}, its user 1 the known-good address. */
  private static RunningGateway inFrontOf(DovecotBackend dovecot) throws IOException {
    return TestGateway.start(
        dovecot.lmtpPort(),
        DovecotBackend.DOMAIN,
        noDisconnect().andThen(TestGateway.lmtpKnowing(DovecotBackend.user(1))));
  }

  /** A client of {@code gateway} with a transaction open. */
  private static SmtpClient transactionWith(RunningGateway gateway) throws IOException {
    SmtpClient client = new SmtpClient("127.0.0.1", gateway.port());
    client.readReply();
    client.send("EHLO client.test");
    client.send("MAIL FROM:<you@example.net>");
    return client;
  }

  @Test
  void aFullMailboxIsToldAsFullNeverAsUnknown() throws IOException {
    try (DovecotBackend dovecot = DovecotBackend.startCheckingQuotaAtRcpt();
        RunningGateway gateway = inFrontOf(dovecot);
        SmtpClient client = transactionWith(gateway)) {

      assertThat(client.send("RCPT TO:<" + DovecotBackend.FULL + ">"))
          .isEqualTo("550 5.2.2 Mailbox full: " + DovecotBackend.FULL);
      assertThat(client.send("RCPT TO:<nobody@" + DovecotBackend.DOMAIN + ">"))
          .isEqualTo("550 5.1.1 Unable to relay to nobody@" + DovecotBackend.DOMAIN);
    }
  }

  @Test
  void aTemporarilyFullMailboxIsDeferredAsFullAndTheMessageStillGoesToTheOthers()
      throws IOException {
    try (DovecotBackend dovecot = DovecotBackend.startWithQuotaFullTempfail();
        RunningGateway gateway = inFrontOf(dovecot);
        SmtpClient client = transactionWith(gateway)) {

      // the default onBackendTemporaryFailure (ACCEPT) is for the backend's trouble, not this
      assertThat(client.send("RCPT TO:<" + DovecotBackend.FULL + ">"))
          .isEqualTo("452 4.2.2 Mailbox full: " + DovecotBackend.FULL);
      assertThat(client.send("RCPT TO:<" + DovecotBackend.user(2) + ">")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: full\r\n\r\nhello\r\n.")).startsWith("250");
    }
  }

  @Test
  void aDisabledMailboxIsToldAsDisabled() throws IOException {
    try (EximBackend exim =
            EximBackend.start(EximBackend.Options.builder().disabledMailbox("user0").build());
        RunningGateway gateway =
            TestGateway.start(exim.port(), EximBackend.DOMAIN, noDisconnect());
        SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
      client.readReply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@example.net>");

      assertThat(client.send("RCPT TO:<" + EximBackend.known(1) + ">")).startsWith("250");
      assertThat(client.send("RCPT TO:<" + EximBackend.known(0) + ">"))
          .isEqualTo("550 5.2.1 Mailbox disabled: " + EximBackend.known(0));
    }
  }

  /**
   * {@value #RECIPIENTS} recipients at half unknown through a gateway in front of Exim with these
   * rules: every valid one {@code 250}, no unknown one {@code 250}, at least 95 % of them {@code
   * unknownReply}.
   */
  private static void halfUnknownThroughTheGateway(EximBackend.Options options, String unknownReply)
      throws IOException {
    try (EximBackend exim = EximBackend.start(options);
        RunningGateway gateway =
            TestGateway.start(exim.port(), EximBackend.DOMAIN, noDisconnect())) {
      Map<String, Integer> replies = replies(gateway.port(), halfUnknown(EximBackend.DOMAIN));
      System.out.println("gateway, Exim " + options + ": " + replies);

      assertThat(replies).containsEntry("known 250", RECIPIENTS / 2);
      assertThat(replies.getOrDefault("unknown " + unknownReply, 0))
          .isGreaterThanOrEqualTo(RECIPIENTS / 2 * 95 / 100);
      assertThat(replies).doesNotContainKey("unknown 250");
    }
  }

  @Test
  void anUnknownUserRefusedWithAPolicyCodeIsRefusedAsPolicy() throws IOException {
    halfUnknownThroughTheGateway(
        EximBackend.Options.builder().unknownUserWithPolicyCode().build(), "550 5.7.1");
  }

  @Test
  void vrfyPastARateLimitNeverLetsAnUnknownAddressThrough() throws IOException {
    halfUnknownThroughTheGateway(
        EximBackend.Options.builder().vrfyRateLimit(30).build(), "550 5.1.1");
  }

  @Test
  void aFreshGatewayDefersUnknownAddressesUntilTheBackendCanTellAndNamedOnesSettleThem()
      throws IOException {
    List<String> unknown = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      unknown.add(EximBackend.unknown(i));
    }
    try (EximBackend exim = EximBackend.start();
        OpenSmtpdBackend smtpd = OpenSmtpdBackend.start()) {
      for (int port : new int[] {exim.port(), smtpd.port()}) {
        Map<String, Integer> fresh;
        try (RunningGateway gateway = TestGateway.start(port, EximBackend.DOMAIN, noDisconnect())) {
          fresh = replies(gateway.port(), unknown);
        }
        Map<String, Integer> named;
        try (RunningGateway gateway =
            TestGateway.start(
                port,
                EximBackend.DOMAIN,
                noDisconnect().andThen(s -> s.verifier(v -> v.knownGood(EximBackend.known(7)))))) {
          named = replies(gateway.port(), unknown);
        }
        System.out.printf(
            "gateway cold start on port %d: fresh %s, named %s%n", port, fresh, named);

        assertThat(fresh).containsExactly(Map.entry("unknown 451 4.4.3", 40));
        assertThat(named).containsExactly(Map.entry("unknown 550 5.1.1", 40));
      }
    }
  }
}
