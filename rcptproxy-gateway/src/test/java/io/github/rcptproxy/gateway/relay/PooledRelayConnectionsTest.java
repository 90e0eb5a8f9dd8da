package io.github.rcptproxy.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The relay's pooled connections against a real Postfix that counts what each connection does: a
 * reply that depends on the sender never teaches a recipient limit, and refusals and abandoned
 * transactions never pile up on one connection until Postfix slows it for everyone.
 */
@RealServers
class PooledRelayConnectionsTest {
  /**
   * One bounce ({@code MAIL FROM:<>}) to two recipients, refused by Postfix's {@code
   * reject_multi_recipient_bounce} ({@code 550 5.5.3}), teaches no recipient limit.
   */
  @Test
  void oneMultiRecipientBouncePoisonsTheRecipientLimit() throws Exception {
    try (PostfixBackend backend =
            PostfixBackend.start(
                List.of(
                    "smtpd_recipient_restrictions = reject_multi_recipient_bounce,"
                        + " reject_unauth_destination"));
        RunningGateway gateway = TestGateway.start(backend.port(), PostfixBackend.DOMAIN)) {
      try (EdgeClient hostile = EdgeClient.connect("127.0.0.3", gateway.port())) {
        hostile.reply();
        hostile.send("EHLO hostile.test");
        assertThat(hostile.send("MAIL FROM:<>")).startsWith("250");
        System.out.println(" rcpt1 " + hostile.send("RCPT TO:<" + PostfixBackend.known(1) + ">"));
        System.out.println(" rcpt2 " + hostile.send("RCPT TO:<" + PostfixBackend.known(2) + ">"));
        assertThat(hostile.send("DATA")).startsWith("354");
        hostile.raw("Subject: bounce\r\n\r\nhello\r\n.\r\n");
        System.out.println(" bounce told: " + hostile.reply());
      }
      try (EdgeClient honest = EdgeClient.connect("127.0.0.2", gateway.port())) {
        honest.reply();
        honest.send("EHLO honest.test");
        assertThat(honest.send("MAIL FROM:<alice@client.test>")).startsWith("250");
        String r1 = honest.send("RCPT TO:<" + PostfixBackend.known(3) + ">");
        String r2 = honest.send("RCPT TO:<" + PostfixBackend.known(4) + ">");
        System.out.println(" honest client afterwards: " + r1 + " / " + r2);
        assertThat(r2).as("2nd recipient of an ordinary message").startsWith("250");
      }
    }
  }

  /**
   * The RCPT-time check's refusals accumulate on a pooled relay connection, which Postfix counts as
   * one client's errors: past smtpd_soft_error_limit (10) every reply on it is delayed by
   * smtpd_error_sleep_time (1 s), so a valid recipient's check misses the verifier's deadline.
   */
  @Test
  void checkRefusalsAccumulateAsPostfixErrorsOnThePooledConnection() throws Exception {
    try (PostfixBackend backend = PostfixBackend.start(List.of());
        RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                PostfixBackend.DOMAIN,
                s ->
                    s.maxRejectedPerClient(1000)
                        .policy(
                            p -> p.bypass(List.of("127.0.0.0/8")).disconnectAfterRejections(0)))) {
      try (EdgeClient trusted = EdgeClient.connect("127.0.0.5", gateway.port())) {
        trusted.reply();
        trusted.send("EHLO trusted.test");
        trusted.send("MAIL FROM:<app@trusted.test>");
        for (int i = 0; i < 12; i++) {
          long t0 = System.nanoTime();
          String r = trusted.send("RCPT TO:<" + PostfixBackend.unknown(900 + i) + ">");
          System.out.println(
              " unknown " + i + ": " + r + " in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        }
        long t0 = System.nanoTime();
        String known = trusted.send("RCPT TO:<" + PostfixBackend.known(5) + ">");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println(" known recipient afterwards: " + known + " in " + ms + " ms");
        assertThat(known).startsWith("250");
        assertThat(ms).isLessThan(3000);
      }
    }
  }

  /**
   * Any client (no bypass) can say RCPT TO:<postmaster> as often as it likes: each is a backend
   * transaction (MAIL, RCPT, RSET) on the relay's pool, never counted as a rejection. The RSETs are
   * Postfix "junk commands": past smtpd_junk_command_limit (100) without a delivery, each counts as
   * an error, and past smtpd_soft_error_limit every reply on that (LIFO, warmest) pooled connection
   * is delayed by 1 s, for every client's messages. Not any more: {@code <postmaster>} is taken
   * without asking, as RFC 5321 §4.5.1 has every server do.
   */
  @Test
  void postmasterFloodSlowsThePooledConnectionForEveryone() throws Exception {
    try (PostfixBackend backend = PostfixBackend.start(List.of());
        RunningGateway gateway = TestGateway.start(backend.port(), PostfixBackend.DOMAIN)) {
      try (EdgeClient hostile = EdgeClient.connect("127.0.0.3", gateway.port())) {
        hostile.reply();
        hostile.send("EHLO hostile.test");
        for (int i = 0; i < 125; i++) {
          if (i % 50 == 0) {
            hostile.send("RSET");
            hostile.send("MAIL FROM:<x@hostile.test>");
          }
          long t0 = System.nanoTime();
          String r = hostile.send("RCPT TO:<postmaster>");
          long ms = (System.nanoTime() - t0) / 1_000_000;
          if (i % 10 == 0 || i > 110) {
            System.out.println(" postmaster #" + i + ": " + r + " in " + ms + " ms");
          }
        }
      }
      try (EdgeClient honest = EdgeClient.connect("127.0.0.2", gateway.port())) {
        honest.reply();
        honest.send("EHLO honest.test");
        honest.send("MAIL FROM:<alice@client.test>");
        honest.send("RCPT TO:<" + PostfixBackend.known(7) + ">");
        honest.send("DATA");
        long t0 = System.nanoTime();
        honest.raw("Subject: s\r\n\r\nhello\r\n.\r\n");
        String r = honest.reply();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println(" honest message afterwards: " + r + " in " + ms + " ms");
        assertThat(ms).isLessThan(1000);
      }
    }
  }
}
