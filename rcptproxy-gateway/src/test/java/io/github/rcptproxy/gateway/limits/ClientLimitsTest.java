package io.github.rcptproxy.gateway.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.EsmtpBackend;
import io.github.rcptproxy.testing.MutableClock;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * One client address cannot starve the others: connections at once and rejected recipients per
 * minute are counted per address, as Postfix's anvil does.
 */
class ClientLimitsTest {
  private static final InetAddress ONE = address("192.0.2.1");
  private static final InetAddress OTHER = address("192.0.2.2");

  @Test
  void hundredTricklingConnectionsFromOneAddressLeaveTheGatewayToTheOthers() throws Exception {
    List<EdgeClient> trickling = new ArrayList<>();
    ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
    try (ScriptedSmtpServer backend = EsmtpBackend.wellBehaved().start();
        RunningGateway gateway = TestGateway.start(backend.port(), "example.com")) {
      int refused = 0;
      for (int i = 0; i < 100; i++) {
        EdgeClient client = EdgeClient.connect("127.0.0.1", gateway.port());
        trickling.add(client);
        if (client.reply().startsWith("421")) {
          refused++;
        }
      }
      trickle.scheduleAtFixedRate(
          () -> trickling.forEach(client -> quietly(client, "N")), 0, 500, TimeUnit.MILLISECONDS);

      long start = System.nanoTime();
      try (EdgeClient other = EdgeClient.connect("127.0.0.2", gateway.port())) {
        assertThat(other.reply()).startsWith("220");
        other.send("EHLO other.example.net");
        other.send("MAIL FROM:<you@example.net>");
        assertThat(other.send("RCPT TO:<alice@example.com>")).startsWith("250");
        other.send("DATA");
        assertThat(other.send("Subject: served\r\n\r\nhello\r\n.")).startsWith("250");
      }
      Duration served = Duration.ofNanos(System.nanoTime() - start);
      assertThat(refused).isEqualTo(90); // --max-connections-per-client 10 by default
      assertThat(served).isLessThan(Duration.ofSeconds(1));
      System.out.printf(
          "| 100 trickling connections from one address | %d refused with `421 4.7.0` | another"
              + " address served a whole message in %d ms |%n",
          refused, served.toMillis());
    } finally {
      trickle.shutdownNow();
      for (EdgeClient client : trickling) {
        client.close();
      }
    }
  }

  @Test
  void tooManyRejectedRecipientsHangUpAndRefuseTheAddressForTheCoolDown() throws Exception {
    try (ScriptedSmtpServer backend =
            ScriptedSmtpServer.start(
                ScriptedSmtpServer.dialogue(
                    address ->
                        address.startsWith("nobody")
                            ? "550 5.1.1 User unknown\r\n"
                            : "250 2.1.5 Ok\r\n"));
        RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                "example.com",
                TestGateway.noDisconnect().andThen(s -> s.maxRejectedPerClient(3)))) {
      try (EdgeClient sender = EdgeClient.connect("127.0.0.4", gateway.port())) {
        sender.reply();
        sender.send("EHLO big-sender.test");
        sender.send("MAIL FROM:<s@example.net>");
        for (int i = 1; i <= 5; i++) {
          assertThat(sender.send("RCPT TO:<user" + i + "@example.com>")).startsWith("250");
          assertThat(sender.send("RCPT TO:<nobody" + i + "@example.com>")).startsWith("550");
        }
        assertThat(sender.send("RCPT TO:<user6@example.com>"))
            .as("5 rejected > 3, but not most of its recipients: a sender, not a harvester")
            .startsWith("250");
        assertThat(sender.send("DATA")).startsWith("354");
        assertThat(sender.send("Subject: list\r\n\r\nhello\r\n.")).startsWith("250");
      }
      String rejected;
      String hungUp;
      try (EdgeClient harvester = EdgeClient.connect("127.0.0.2", gateway.port())) {
        harvester.reply();
        harvester.send("EHLO harvester.test");
        harvester.send("MAIL FROM:<h@example.net>");
        for (int i = 1; i <= 3; i++) {
          assertThat(harvester.send("RCPT TO:<nobody" + i + "@example.com>")).startsWith("550");
        }
        rejected = harvester.send("RCPT TO:<nobody4@example.com>");
        assertThat(rejected).as("the recipient's own reply").startsWith("550");
        hungUp = harvester.send("RCPT TO:<nobody5@example.com>");
        assertThat(hungUp).startsWith("421 4.7.0");
        assertThat(harvester.reply()).isNull();
      }
      String again;
      try (EdgeClient harvester = EdgeClient.connect("127.0.0.2", gateway.port())) {
        again = harvester.reply();
        assertThat(again).startsWith("421 4.7.0");
      }
      try (EdgeClient other = EdgeClient.connect("127.0.0.3", gateway.port())) {
        assertThat(other.reply()).startsWith("220");
        other.send("EHLO other.test");
        other.send("MAIL FROM:<you@example.net>");
        assertThat(other.send("RCPT TO:<alice@example.com>")).startsWith("250");
      }
      System.out.printf(
          "| 4th rejected recipient from one address in a minute (limit 3), all its recipients"
              + " rejected | `%s`, the next RCPT `%s`, then `%s` at greeting for the cool-down |"
              + " other addresses served; a sender with 5 rejected of 11 not refused |%n",
          rejected, hungUp, again);
    }
  }

  @Test
  void aPipelinedHarvestGetsEveryReplyAndThe421BeforeTheHangUp() throws Exception {
    try (ScriptedSmtpServer backend =
            ScriptedSmtpServer.start(
                ScriptedSmtpServer.dialogue(
                    address ->
                        address.startsWith("known@")
                            ? "250 2.1.5 Ok\r\n"
                            : "550 5.1.1 User unknown\r\n"));
        RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                "example.com",
                TestGateway.noDisconnect()
                    .andThen(
                        s ->
                            s.maxRejectedPerClient(1)
                                .verifier(v -> v.knownGood("known@example.com"))));
        EdgeClient harvester = EdgeClient.connect("127.0.0.2", gateway.port())) {
      harvester.reply();
      harvester.send("EHLO harvester.test");
      harvester.raw(
          "MAIL FROM:<h@example.net>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
              + "RCPT TO:<c@example.com>\r\nRCPT TO:<d@example.com>\r\nDATA\r\n");
      assertThat(harvester.reply()).startsWith("250");
      assertThat(harvester.reply()).startsWith("550 5.1.1");
      assertThat(harvester.reply()).as("the second rejection, over the limit").startsWith("550");
      assertThat(harvester.reply()).startsWith("421 4.7.0");
      assertThat(harvester.reply()).isNull();
    }
  }

  @Test
  void connectionsAreCountedPerAddressAndReleased() {
    ClientLimits limits = new ClientLimits(2, 5, Duration.ofMinutes(5), new MutableClock());
    assertThat(limits.admit(ONE)).isEmpty();
    assertThat(limits.admit(ONE)).isEmpty();
    assertThat(limits.admit(ONE)).hasValueSatisfying(r -> assertThat(r).contains("connections"));
    assertThat(limits.admit(OTHER)).isEmpty();
    limits.release(ONE);
    assertThat(limits.admit(ONE)).isEmpty();
    limits.release(ONE);
    limits.release(ONE);
    limits.release(OTHER);
    assertThat(limits.remembered()).isZero();
  }

  @Test
  void rejectionsCountPerMinuteAndTheCoolDownEnds() {
    MutableClock clock = new MutableClock();
    ClientLimits limits = new ClientLimits(10, 2, Duration.ofMinutes(5), clock);
    assertThat(limits.rejected(ONE)).isFalse();
    assertThat(limits.rejected(ONE)).isFalse();
    clock.advance(Duration.ofSeconds(61)); // a new minute: the count starts again
    assertThat(limits.rejected(ONE)).isFalse();
    assertThat(limits.rejected(ONE)).isFalse();
    assertThat(limits.rejected(ONE)).isTrue();
    assertThat(limits.admit(ONE)).hasValueSatisfying(r -> assertThat(r).contains("rejected"));
    assertThat(limits.admit(OTHER)).isEmpty();
    clock.advance(Duration.ofMinutes(5));
    assertThat(limits.admit(ONE)).isEmpty();
  }

  /**
   * A dictionary attack (mostly unknown recipients) is cooled down; a high-volume sender whose
   * recipients are mostly valid never is, however many stale addresses it sends to in a minute.
   */
  @Test
  void aDictionaryAttackIsCooledDownAndAMostlyValidHighVolumeSenderNever() {
    MutableClock clock = new MutableClock();
    ClientLimits limits = new ClientLimits(10, 30, Duration.ofMinutes(5), clock);
    InetAddress provider = address("192.0.2.10");
    for (int i = 0; i < 10_000; i++) { // ~170 recipients a second for a minute, 1 in 10 stale
      clock.advance(Duration.ofMillis(6));
      if (i % 10 == 9) {
        assertThat(limits.rejected(provider)).as("rejection %d", i).isFalse();
      } else {
        limits.accepted(provider);
      }
    }
    assertThat(limits.admit(provider)).isEmpty();

    InetAddress harvester = address("192.0.2.20");
    for (int i = 0; i < 5; i++) {
      limits.accepted(harvester); // a few guesses hit
    }
    for (int i = 1; i <= 30; i++) {
      assertThat(limits.rejected(harvester)).isFalse();
    }
    assertThat(limits.rejected(harvester)).as("the 31st, 31 of 36 rejected").isTrue();
    assertThat(limits.admit(harvester))
        .hasValueSatisfying(r -> assertThat(r).startsWith("4.7.0").contains("rejected"));
    assertThat(limits.admit(provider)).as("the provider still served").isEmpty();
  }

  @Test
  void manyRejectionsAreForgivenWhileTheAcceptedOnesOutnumberThem() {
    MutableClock clock = new MutableClock();
    ClientLimits limits = new ClientLimits(10, 2, Duration.ofMinutes(5), clock);
    for (int i = 0; i < 4; i++) {
      limits.accepted(ONE);
    }
    for (int i = 0; i < 4; i++) {
      assertThat(limits.rejected(ONE)).isFalse(); // 4 rejected, 4 accepted: not most
    }
    assertThat(limits.rejected(ONE)).as("5 of 9 rejected").isTrue();
    clock.advance(Duration.ofMinutes(5));
    assertThat(limits.admit(ONE)).isEmpty();
    clock.advance(Duration.ofSeconds(61)); // accepted ones of an old minute count no more
    assertThat(limits.rejected(ONE)).isFalse();
    assertThat(limits.rejected(ONE)).isFalse();
    assertThat(limits.rejected(ONE)).isTrue();
  }

  /**
   * An IPv6 site gets a /64 at least: counting each address would give it 2^64 clients' worth of
   * connections. IPv4 counts per address.
   */
  @Test
  void ipv6ClientsAreCountedPerSlash64() {
    ClientLimits limits = new ClientLimits(2, 5, Duration.ofMinutes(5), new MutableClock());
    assertThat(limits.admit(address("2001:db8:1:1::1"))).isEmpty();
    assertThat(limits.admit(address("2001:db8:1:1:ffff:ffff:ffff:fffe"))).isEmpty();
    Optional<String> third = limits.admit(address("2001:db8:1:1::3"));
    assertThat(third).hasValueSatisfying(r -> assertThat(r).contains("connections"));
    assertThat(limits.admit(address("2001:db8:1:2::1"))).as("the next /64").isEmpty();
    System.out.printf(
        "| 3rd connection from another address of the same IPv6 /64 (limit 2) | `421 %s` | the"
            + " next /64 served |%n",
        third.get());
    limits.release(address("2001:db8:1:1::1"));
    assertThat(limits.admit(address("2001:db8:1:1::3"))).isEmpty();
    assertThat(limits.remembered()).isEqualTo(2);
  }

  @Test
  void rejectionsFromOneSlash64CoolItDownWhole() {
    ClientLimits limits = new ClientLimits(10, 1, Duration.ofMinutes(5), new MutableClock());
    assertThat(limits.rejected(address("2001:db8::1"))).isFalse();
    assertThat(limits.rejected(address("2001:db8::2"))).isTrue();
    assertThat(limits.admit(address("2001:db8::abcd")))
        .hasValueSatisfying(r -> assertThat(r).contains("rejected"));
    assertThat(limits.admit(address("2001:db8:0:1::1"))).isEmpty();
  }

  /**
   * Clients in their cool-down are remembered, but not without bound, and the bound costs no scan:
   * 150,000 penalized clients (more than the bound) in a few seconds, and all forgotten once their
   * cool-down is over.
   */
  @Test
  void penalizedClientsAreBoundedWithoutAScanPerConnection() {
    MutableClock clock = new MutableClock();
    ClientLimits limits = new ClientLimits(10, 0, Duration.ofMinutes(5), clock);
    long start = System.nanoTime();
    assertTimeoutPreemptively(
        Duration.ofSeconds(20),
        () -> {
          for (int i = 0; i < 150_000; i++) {
            InetAddress client =
                address("10." + (i >> 16) + "." + ((i >> 8) & 0xff) + "." + (i & 0xff));
            assertThat(limits.admit(client)).isEmpty();
            assertThat(limits.rejected(client)).isTrue();
            limits.release(client);
          }
        });
    assertThat(limits.remembered()).isEqualTo(ClientLimits.MAX_PENALIZED);
    long took = Duration.ofNanos(System.nanoTime() - start).toMillis();
    System.out.printf(
        "| 150,000 clients, each sent into the cool-down | the newest still refused | %,d"
            + " remembered at most; the 150,000 counted in %,d ms; all forgotten when the cool-down"
            + " is over |%n",
        limits.remembered(), took);
    assertThat(limits.admit(address("10.2.73.239"))).as("still cooling down").isPresent();
    clock.advance(Duration.ofMinutes(5));
    assertThat(limits.admit(ONE)).isEmpty();
    assertThat(limits.remembered()).isEqualTo(1);
  }

  private static void quietly(EdgeClient client, String text) {
    try {
      client.raw(text);
    } catch (IOException e) {
      // refused and closed by the gateway: nothing to trickle into
    }
  }

  private static InetAddress address(String literal) {
    try {
      return InetAddress.getByName(literal);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
