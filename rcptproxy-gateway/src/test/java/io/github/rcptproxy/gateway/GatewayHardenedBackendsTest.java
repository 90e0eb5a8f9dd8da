package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import io.github.rcptproxy.testing.StderrCapture;
import io.github.rcptproxy.testing.VerdictTally;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * The whole gateway in front of hardened real backends, with its default settings but for the
 * client limits: a backend that wants a fully qualified HELO name, one that refuses the null sender
 * (at MAIL, in RCPT mode through an access map, or with a mailbox code), one that defers the probe
 * sender, one behind postscreen. 300 recipients at half unknown, in three messages: no real mailbox
 * refused, at least 95 % of the unknown ones refused, every message relayed. Past a rate limit per
 * client, where the backend cannot say: none wrong, and one warning naming the setting.
 */
@RealServers
class GatewayHardenedBackendsTest {
  private static final int RECIPIENTS = 300;
  private static final int PER_MESSAGE = 100;

  private static RunningGateway gateway(int port, Consumer<GatewaySettings.Builder> extra) {
    return TestGateway.start(
        port,
        "example.test",
        settings -> {
          TestGateway.noDisconnect().accept(settings);
          settings.maxRejectedPerClient(10_000);
          extra.accept(settings);
        });
  }

  /**
   * Three messages of 100 recipients each, half unknown, each relayed: no real mailbox refused, at
   * least 95 % of the unknown ones refused.
   */
  private static VerdictTally send(
      RunningGateway gateway, IntFunction<String> known, IntFunction<String> unknown)
      throws IOException {
    VerdictTally tally = transactions(gateway, known, unknown, true);
    assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
    assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(RECIPIENTS / 2);
    assertThat(tally.unknownRejected())
        .as(tally.toString())
        .isGreaterThanOrEqualTo(RECIPIENTS / 2 * 95 / 100);
    return tally;
  }

  /**
   * Three transactions of 100 recipients each, half unknown, each relayed or reset; the tally of
   * the RCPT replies (a 5xx is REJECTED, any other reply but 250 its code).
   */
  private static VerdictTally transactions(
      RunningGateway gateway, IntFunction<String> known, IntFunction<String> unknown, boolean relay)
      throws IOException {
    VerdictTally tally = new VerdictTally();
    try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
      client.readReply();
      client.send("EHLO client.test");
      for (int first = 0; first < RECIPIENTS; first += PER_MESSAGE) {
        assertThat(client.send("MAIL FROM:<you@client.test>")).startsWith("250");
        for (int i = first; i < first + PER_MESSAGE; i++) {
          boolean real = VerdictTally.isKnown(i);
          String reply =
              client.send("RCPT TO:<" + (real ? known.apply(i / 2) : unknown.apply(i)) + ">");
          tally.add(
              real,
              reply.startsWith("250")
                  ? "ACCEPTED"
                  : reply.startsWith("5") ? "REJECTED" : reply.substring(0, 3));
        }
        if (relay) {
          assertThat(client.send("DATA")).startsWith("354");
          assertThat(client.send("Subject: hardened " + first + "\r\n\r\nhello\r\n."))
              .startsWith("250");
        } else {
          client.send("RSET");
        }
      }
      client.send("QUIT");
    }
    System.out.println("through the gateway: " + tally);
    return tally;
  }

  @Test
  void postfixWantingAFullyQualifiedHeloName() throws Exception {
    try (PostfixBackend postfix =
            PostfixBackend.start(
                List.of(
                    "smtpd_helo_required = yes",
                    "smtpd_helo_restrictions = reject_invalid_helo_hostname,"
                        + " reject_non_fqdn_helo_hostname"));
        RunningGateway gateway = gateway(postfix.port(), settings -> {})) {
      send(gateway, PostfixBackend::known, PostfixBackend::unknown);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> postfix.log().contains("to=<" + PostfixBackend.known(148) + ">"));
    }
  }

  @Test
  void postfixWithLowErrorLimitsAndAnErrorSleep() throws Exception {
    try (PostfixBackend postfix =
            PostfixBackend.start(
                List.of(
                    "smtpd_hard_error_limit = 3",
                    "smtpd_soft_error_limit = 1",
                    "smtpd_error_sleep_time = 2s"));
        RunningGateway gateway = gateway(postfix.port(), settings -> {})) {
      send(gateway, PostfixBackend::known, PostfixBackend::unknown);
      assertThat(postfix.log()).doesNotContain("too many connections");
    }
  }

  @Test
  void postfixRefusingTheNullSenderInRcptMode() throws Exception {
    try (PostfixBackend postfix =
            PostfixBackend.start(
                List.of("smtpd_recipient_restrictions = check_sender_access inline:{<>=REJECT}"));
        RunningGateway gateway =
            gateway(
                postfix.port(),
                settings -> settings.verifier(v -> v.probeMethod(ProbeMethod.RCPT)))) {
      send(gateway, PostfixBackend::known, PostfixBackend::unknown);
    }
  }

  @Test
  void eximRefusingTheNullSenderAtMail() throws Exception {
    try (EximBackend exim =
            EximBackend.start(EximBackend.Options.builder().nullSenderRefusedAtMail().build());
        RunningGateway gateway = gateway(exim.port(), settings -> {})) {
      send(gateway, EximBackend::known, EximBackend::unknown);
      await().atMost(Duration.ofSeconds(20)).until(() -> exim.deliveredCount() >= 3);
    }
  }

  @Test
  void postfixBehindPostscreenAfterItsWarmUp() throws Exception {
    // A known-good address named: the warm-up waits for an unknown address's 550, which a fresh
    // verifier does not give before the backend accepted an address (451, REFUSAL_UNCONFIRMED).
    try (PostfixBackend postfix = PostfixBackend.startBehindPostscreen(List.of());
        RunningGateway gateway =
            gateway(
                postfix.port(),
                settings -> settings.verifier(v -> v.knownGood(PostfixBackend.known(999))))) {
      await("postscreen lets the gateway through")
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> rcpt(gateway, PostfixBackend.unknown(1)).startsWith("550"));
      send(gateway, PostfixBackend::known, PostfixBackend::unknown);
    }
  }

  @Test
  void eximGivingTheNullSenderAMailboxCodedRefusal() throws Exception {
    try (EximBackend exim =
            EximBackend.start(
                EximBackend.Options.builder().nullSenderBlockedWithMailboxCode().build());
        RunningGateway gateway = gateway(exim.port(), settings -> {})) {
      send(gateway, EximBackend::known, EximBackend::unknown);
    }
  }

  @Test
  void postfixDeferringTheProbeSender() throws Exception {
    // 450 4.1.8 Sender address rejected: Domain not found, at RCPT; the client's sender passes
    try (PostfixBackend postfix =
            PostfixBackend.start(
                List.of(
                    "smtpd_sender_restrictions = check_sender_access inline:{client.test=OK},"
                        + " reject_unknown_sender_domain"));
        RunningGateway gateway =
            gateway(
                postfix.port(),
                settings -> settings.verifier(v -> v.probeSender("probe@nowhere.invalid")))) {
      send(gateway, PostfixBackend::known, PostfixBackend::unknown);
    }
  }

  /**
   * Rate limits per client, past which the backend cannot say: no valid mailbox refused, no unknown
   * one accepted, and one warning naming the backend's setting.
   */
  @Test
  void rateLimitsPerClient() throws Exception {
    try (PostfixBackend postfix =
            PostfixBackend.start(
                List.of(
                    "smtpd_client_connection_rate_limit = 5",
                    "smtpd_client_recipient_rate_limit = 30"));
        StderrCapture log = new StderrCapture();
        RunningGateway gateway = gateway(postfix.port(), settings -> {})) {
      VerdictTally tally =
          transactions(gateway, PostfixBackend::known, PostfixBackend::unknown, false);
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
      assertThat(log.lines("smtpd_client_recipient_rate_limit")).as(log.text()).isEqualTo(1);
    }
    try (EximBackend exim =
            EximBackend.start(EximBackend.Options.builder().recipientsPerMinute(30).build());
        StderrCapture log = new StderrCapture();
        RunningGateway gateway = gateway(exim.port(), settings -> {})) {
      VerdictTally tally = transactions(gateway, EximBackend::known, EximBackend::unknown, false);
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
      assertThat(log.lines("Exim ratelimit per_rcpt")).as(log.text()).isEqualTo(1);
    }
  }

  private static String rcpt(RunningGateway gateway, String address) throws IOException {
    try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
      client.readReply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@client.test>");
      return client.send("RCPT TO:<" + address + ">");
    }
  }
}
