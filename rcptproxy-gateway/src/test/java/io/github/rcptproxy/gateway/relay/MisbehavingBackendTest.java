package io.github.rcptproxy.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backends that misbehave as a hostile review found them to (a scripted server, for faults a real
 * one cannot be made to show): each test states what the client must see, and that the relay's
 * connections are never lost.
 */
class MisbehavingBackendTest {
  static final String DOMAIN = "example.test";

  /** Knobs of a misbehaving backend. */
  static final class Backend {
    volatile long greetingDelayMs;
    volatile boolean enhanced = true;
    volatile long rsetDelayMs; // < 0: never answer RSET
    volatile boolean stallInData; // after 354, read nothing more
    volatile long endOfDataDelayMs;
    volatile long rcptDelayMs;
    volatile String extraEhlo = "";
    volatile String rcptB = "250 2.1.5 Ok\r\n"; // the answer for b@
    final AtomicInteger delivered = new AtomicInteger();
    final AtomicInteger rsets = new AtomicInteger();
  }

  static ScriptedSmtpServer.Script script(Backend b) {
    return c -> {
      if (b.greetingDelayMs > 0) {
        Thread.sleep(b.greetingDelayMs);
      }
      c.write("220 fake.test ESMTP\r\n");
      String line;
      while ((line = c.readLine()) != null) {
        String u = line.toUpperCase();
        if (u.startsWith("EHLO") || u.startsWith("LHLO")) {
          c.write(
              "250-fake.test\r\n250-PIPELINING\r\n"
                  + b.extraEhlo
                  + (b.enhanced ? "250-ENHANCEDSTATUSCODES\r\n" : "")
                  + "250 8BITMIME\r\n");
        } else if (u.startsWith("HELO") || u.startsWith("MAIL") || u.startsWith("NOOP")) {
          c.write(b.enhanced ? "250 2.0.0 Ok\r\n" : "250 Ok\r\n");
        } else if (u.startsWith("RSET")) {
          b.rsets.incrementAndGet();
          if (b.rsetDelayMs < 0) {
            c.readUntilClosed();
            return;
          }
          Thread.sleep(b.rsetDelayMs);
          c.write("250 2.0.0 Ok\r\n");
        } else if (u.startsWith("RCPT TO:<B@")) {
          c.write(b.rcptB);
        } else if (u.matches("RCPT TO:<[ACXY]@.*")) {
          Thread.sleep(b.rcptDelayMs);
          c.write(b.enhanced ? "250 2.1.5 Ok\r\n" : "250 Ok\r\n");
        } else if (u.startsWith("RCPT TO:<POSTMASTER@")) {
          c.write(b.enhanced ? "250 2.1.5 Ok\r\n" : "250 Ok\r\n");
        } else if (u.startsWith("RCPT")) {
          c.write(b.enhanced ? "550 5.1.1 unknown\r\n" : "550 unknown user\r\n");
        } else if (u.startsWith("VRFY")) {
          c.write("252 2.0.0 try\r\n");
        } else if (u.equals("DATA")) {
          c.write("354 go\r\n");
          if (b.stallInData) {
            Thread.sleep(600_000); // reads nothing more: the gateway's writes fill the window
            return;
          }
          String d;
          while ((d = c.readLine()) != null && !d.equals(".")) {}
          if (d == null) {
            return;
          }
          Thread.sleep(b.endOfDataDelayMs);
          b.delivered.incrementAndGet();
          c.write("250 2.0.0 Ok: queued\r\n");
        } else if (u.startsWith("QUIT")) {
          c.write("221 2.0.0 Bye\r\n");
          return;
        } else {
          c.write("502 5.5.2 no\r\n");
        }
      }
    };
  }

  static RunningGateway gateway(ScriptedSmtpServer server, Consumer<GatewaySettings.Builder> s) {
    return TestGateway.start(server.port(), DOMAIN, s);
  }

  static EdgeClient inTransaction(RunningGateway gateway, String... rcpts) throws Exception {
    EdgeClient client = EdgeClient.connect(gateway.port());
    assertThat(client.reply()).startsWith("220");
    assertThat(client.send("EHLO client.test")).startsWith("250");
    assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
    for (String r : rcpts) {
      assertThat(client.send("RCPT TO:<" + r + ">")).as(r).startsWith("250");
    }
    return client;
  }

  static String replyOrNull(EdgeClient client) {
    try {
      return client.reply();
    } catch (IOException e) {
      return "EXCEPTION " + e;
    }
  }

  /**
   * F1: a backend that says 354 and then stops reading. Java socket writes have no timeout, so the
   * relay thread blocks for ever in Spool.copyTo: the client never hears back and the pool's
   * connection is never released. With --relay-connections 1 every later message gets 451 4.4.5.
   */
  /** A backend whose socket has a tiny receive window, and that stops reading after 354. */
  static int stallingBackend(java.net.ServerSocket server, AtomicBoolean stall) {
    Thread t =
        new Thread(
            () -> {
              while (!server.isClosed()) {
                try {
                  java.net.Socket s = server.accept();
                  Thread player = new Thread(() -> play(s, stall));
                  player.setDaemon(true);
                  player.start();
                } catch (IOException e) {
                  return;
                }
              }
            });
    t.setDaemon(true);
    t.start();
    return server.getLocalPort();
  }

  static void play(java.net.Socket s, AtomicBoolean stall) {
    try (s) {
      var in =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(s.getInputStream(), "ISO-8859-1"), 1);
      var out = s.getOutputStream();
      out.write("220 stall.test ESMTP\r\n".getBytes());
      String line;
      while ((line = in.readLine()) != null) {
        String u = line.toUpperCase();
        String r;
        if (u.startsWith("EHLO")) {
          r = "250-stall.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n";
        } else if (u.startsWith("RCPT TO:<NOBODY") || u.matches("RCPT TO:<[^ACX].*")) {
          r = "550 5.1.1 unknown\r\n";
        } else if (u.equals("DATA")) {
          out.write("354 go\r\n".getBytes());
          if (stall.get()) {
            Thread.sleep(600_000);
            return;
          }
          while ((line = in.readLine()) != null && !line.equals(".")) {}
          r = "250 2.0.0 Ok: queued\r\n";
        } else if (u.startsWith("QUIT")) {
          out.write("221 bye\r\n".getBytes());
          return;
        } else if (u.startsWith("VRFY")) {
          r = "252 2.0.0 try\r\n";
        } else {
          r = "250 2.0.0 Ok\r\n";
        }
        out.write(r.getBytes());
      }
    } catch (IOException | InterruptedException e) {
      // gone
    }
  }

  /**
   * F1: a backend that says 354 and then stops reading. Java socket writes have no timeout, so the
   * relay thread blocks for ever in Spool.copyTo: the client never hears back and the pool's
   * connection is never released. With --relay-connections 1 every later message gets 451 4.4.5.
   */
  @Test
  void backendStallingInDataLeaksTheRelayConnectionForEver() throws Exception {
    AtomicBoolean stall = new AtomicBoolean(true);
    java.net.ServerSocket listener = new java.net.ServerSocket();
    listener.setReceiveBufferSize(4096); // inherited by accepted sockets: a small window
    listener.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
    int port = stallingBackend(listener, stall);
    try (listener;
        RunningGateway gateway =
            TestGateway.start(
                port,
                DOMAIN,
                s ->
                    s.relayConnections(1)
                        .relayTimeout(Duration.ofSeconds(5))
                        .maxMessageSize(64 * 1024 * 1024))) {
      EdgeClient first = inTransaction(gateway, "a@" + DOMAIN);
      assertThat(first.send("DATA")).startsWith("354");
      StringBuilder body = new StringBuilder("Subject: big\r\n\r\n");
      String line = "x".repeat(998) + "\r\n";
      for (int i = 0; i < 8_000; i++) { // 8 MB: more than 4 MB send buffer + tiny window
        body.append(line);
      }
      body.append(".\r\n");
      first.raw(body.toString());
      Instant sent = Instant.now();
      String firstReply = replyOrNull(first); // EdgeClient waits 10 s, twice the relay timeout
      System.out.println(
          "first reply after " + Duration.between(sent, Instant.now()) + ": " + firstReply);
      stall.set(false);
      try (EdgeClient second = inTransaction(gateway, "c@" + DOMAIN)) {
        assertThat(second.send("DATA")).startsWith("354");
        second.raw("Subject: small\r\n\r\nhello\r\n.\r\n");
        String secondReply = replyOrNull(second);
        System.out.println("1 second reply: " + secondReply);
        assertThat(firstReply)
            .as("first message answered within the relay timeout")
            .isEqualTo("451 4.4.1 Mail system unavailable, try again later");
        assertThat(secondReply).as("second message, backend now fine").startsWith("250");
      }
    }
  }

  /**
   * F2: the connection goes back to the pool with RSET on the client's thread, before the client is
   * answered, under the relay timeout (not the verifier's deadline): a backend slow to answer RSET
   * holds the client's 250 after DATA, and the RCPT-time check's answer.
   */
  @Test
  void rsetIsAwaitedBeforeTheClientIsAnswered() throws Exception {
    Backend b = new Backend();
    b.rsetDelayMs = 8_000;
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(script(b));
        RunningGateway gateway = gateway(server, s -> s.relayTimeout(Duration.ofSeconds(9)))) {
      EdgeClient client = EdgeClient.connect(gateway.port());
      client.reply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<sender@client.test>");
      Instant t0 = Instant.now();
      String rcpt = client.send("RCPT TO:<postmaster>"); // always asked of the backend
      Duration rcptTook = Duration.between(t0, Instant.now());
      System.out.println("2 RCPT <postmaster>: " + rcpt + " after " + rcptTook);
      assertThat(client.send("DATA")).startsWith("354");
      client.raw("Subject: s\r\n\r\nhello\r\n.\r\n");
      Instant t1 = Instant.now();
      String data = replyOrNull(client);
      Duration dataTook = Duration.between(t1, Instant.now());
      System.out.println("2 end of data: " + data + " after " + dataTook);
      assertThat(rcptTook)
          .as("RCPT check within the verifier's 3 s deadline")
          .isLessThan(Duration.ofSeconds(4));
      assertThat(dataTook)
          .as("250 for a message the backend took at once")
          .isLessThan(Duration.ofSeconds(3));
    }
  }

  /**
   * F4: a 452 that is not "too many recipients" (RFC 5321's own 452 text, insufficient storage,
   * from a backend without ENHANCEDSTATUSCODES) for the 2nd recipient teaches the gateway a limit
   * of 1 recipient per message, for every client, for ever.
   */
  @Test
  void aStorage452PoisonsTheRecipientLimitForEveryone() throws Exception {
    Backend b = new Backend();
    b.enhanced = false;
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(script(b));
        RunningGateway gateway = gateway(server, s -> {})) {
      // The verifier accepts b@ (cached), then b@'s storage fills.
      try (EdgeClient warm = inTransaction(gateway, "a@" + DOMAIN, "b@" + DOMAIN)) {
        warm.send("RSET");
      }
      try (EdgeClient client = inTransaction(gateway, "a@" + DOMAIN, "b@" + DOMAIN)) {
        // Between b@'s verification and the relay, b@'s storage fills.
        b.rcptB = "452 Requested action not taken: insufficient system storage\r\n";
        assertThat(client.send("DATA")).startsWith("354");
        client.raw("Subject: s\r\n\r\nhello\r\n.\r\n");
        System.out.println("4 message to a, b: " + client.reply());
      }
      b.rcptB = "250 Ok\r\n"; // storage back
      // Another client, other recipients entirely.
      try (EdgeClient other = EdgeClient.connect("127.0.0.2", gateway.port())) {
        other.reply();
        other.send("EHLO other.test");
        other.send("MAIL FROM:<someone@other.test>");
        String r1 = other.send("RCPT TO:<x@" + DOMAIN + ">");
        String r2 = other.send("RCPT TO:<y@" + DOMAIN + ">");
        System.out.println("4 later, other client: " + r1 + " / " + r2);
        assertThat(r2).as("second recipient of an unrelated message").startsWith("250");
      }
    }
  }

  /**
   * F5: a config reload while a client is sending its message: data() took the old relay before
   * receiving, relayTo() closed its pool, and the message fails on the closed pool.
   */
  @Test
  void reloadWhileAMessageIsBeingReceived(@TempDir Path dir) throws Exception {
    Backend b = new Backend();
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(script(b))) {
      Path config = dir.resolve("gateway.conf");
      Files.writeString(config, "x");
      GatewaySettings settings = TestGateway.settings(server.port(), DOMAIN, s -> {});
      AtomicInteger reloads = new AtomicInteger();
      try (RunningGateway gateway =
          RunningGateway.start(
              settings,
              new RunningGateway.ConfigFile(
                  config,
                  () -> {
                    reloads.incrementAndGet();
                    return settings;
                  }))) {
        EdgeClient client = inTransaction(gateway, "a@" + DOMAIN);
        assertThat(client.send("DATA")).startsWith("354");
        client.raw("Subject: s\r\n\r\n");
        Files.setLastModifiedTime(config, FileTime.from(Instant.now().plusSeconds(60)));
        await().atMost(Duration.ofSeconds(10)).until(() -> reloads.get() > 0);
        client.raw("hello\r\n.\r\n");
        String reply = replyOrNull(client);
        System.out.println("5 reply after reload: " + reply + "; delivered " + b.delivered);
        assertThat(reply).startsWith("250");
      }
    }
  }

  /**
   * F9: a backend slower than the verifier's deadline (3 s) to answer RCPT: the verifier gives up
   * (Unverified, accepted by the default fail-open policy), then the RCPT-time check asks again
   * with a fresh deadline: the client waits twice the deadline, and hears 451 although the policy
   * says accept unverified.
   */
  @Test
  void unverifiedRecipientCostsTwoDeadlinesAndATempfail() throws Exception {
    Backend b = new Backend();
    b.rcptDelayMs = 4_000;
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(script(b));
        RunningGateway gateway = gateway(server, s -> {})) {
      EdgeClient client = EdgeClient.connect(gateway.port());
      client.reply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<sender@client.test>");
      Instant t0 = Instant.now();
      String rcpt = client.send("RCPT TO:<a@" + DOMAIN + ">");
      Duration took = Duration.between(t0, Instant.now());
      System.out.println("9 RCPT a@: " + rcpt + " after " + took);
      assertThat(took).as("within the verifier's 3 s deadline").isLessThan(Duration.ofSeconds(4));
    }
  }

  /**
   * F10: a RuntimeException between borrow and release leaks the pooled connection for good. A
   * backend whose EHLO lists an XFORWARD attribute twice makes Trace.xforward's Set.of throw
   * IllegalArgumentException inside SmtpRelay.open; begin() catches only RejectException and
   * IOException, so the connection is never returned.
   */
  @Test
  void runtimeExceptionInOpenLeaksTheConnection() throws Exception {
    Backend b = new Backend();
    b.extraEhlo = "250-XFORWARD NAME ADDR PROTO NAME\r\n";
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(script(b));
        RunningGateway gateway =
            gateway(server, s -> s.relayConnections(1).relayTimeout(Duration.ofSeconds(3)))) {
      try (EdgeClient first = inTransaction(gateway, "a@" + DOMAIN)) {
        assertThat(first.send("DATA")).startsWith("354");
        first.raw("Subject: s\r\n\r\nhello\r\n.\r\n");
        System.out.println("10 first: " + replyOrNull(first));
      }
      b.extraEhlo = ""; // the backend fixed: new connections are fine
      try (EdgeClient second = inTransaction(gateway, "c@" + DOMAIN)) {
        assertThat(second.send("DATA")).startsWith("354");
        second.raw("Subject: s\r\n\r\nhello\r\n.\r\n");
        String r = replyOrNull(second);
        System.out.println("10 second (backend fixed): " + r);
        assertThat(r).startsWith("250");
      }
    }
  }
}
