package io.github.rcptproxy.postfix;

import static io.github.rcptproxy.postfix.PolicyClient.rcpt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.StderrCapture;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests no Postfix sends: each is answered or closed within a bound, and the server keeps
 * answering real requests after each.
 */
class HostileRequestsTest {
  final ScriptedVerifier verifier = new ScriptedVerifier(PolicyServerTest::script);
  PolicyServer server;

  @BeforeEach
  void start() throws IOException {
    start(Duration.ofMinutes(1));
  }

  void start(Duration idleTimeout) throws IOException {
    server =
        PolicyServer.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .route("example.test", verifier, PolicyAnswers.defaults())
            .requestTimeout(Duration.ofMillis(500))
            .idleTimeout(idleTimeout)
            .maxConnections(12_000)
            .maxConnectionsPerClient(12_000)
            .start();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  void stillServing() throws IOException {
    try (PolicyClient client = new PolicyClient(server.address())) {
      assertThat(client.ask(rcpt("nobody@example.test", "192.0.2.1")))
          .isEqualTo("action=550 5.1.1 Unable to relay to nobody@example.test");
    }
  }

  @Test
  void requestWithoutEmptyLineIsClosedAfterTheRequestTimeout() throws IOException {
    try (PolicyClient client = new PolicyClient(server.address())) {
      client.write(rcpt("nobody@example.test", "192.0.2.1").replace("\n\n", "\n"));
      long start = System.nanoTime();
      assertThat(client.closedByServer()).isTrue();
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      System.out.printf("request without its empty line: closed after %d ms (timeout 500)%n", ms);
      assertThat(ms).isBetween(400L, 2000L);
    }
    stillServing();
  }

  @Test
  void oneMegabyteAttributeIsClosedAfter32KiB() throws Exception {
    try (PolicyClient client = new PolicyClient(server.address())) {
      byte[] huge =
          ("recipient=" + "a".repeat(1 << 20) + "\n\n").getBytes(StandardCharsets.US_ASCII);
      Thread writer =
          new Thread(
              () -> {
                try {
                  client.write(huge);
                } catch (IOException expected) {
                  // the server hung up in the middle
                }
              });
      writer.start();
      long start = System.nanoTime();
      assertThat(client.closedByServer()).isTrue();
      System.out.printf(
          "1 MiB attribute: closed after %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      writer.join(5000);
    }
    await().atMost(Duration.ofSeconds(2)).until(() -> server.connections() == 0);
    stillServing();
  }

  @Test
  void overLongLineWithinTheRequestLimitIsAnsweredDunno() throws IOException {
    try (PolicyClient client = new PolicyClient(server.address())) {
      String longLine = "ccert_subject=" + "x".repeat(RequestReader.MAX_LINE) + "\n";
      assertThat(client.ask(longLine + rcpt("nobody@example.test", "192.0.2.1")))
          .isEqualTo("action=DUNNO");
      assertThat(client.ask(rcpt("nobody@example.test", "192.0.2.1"))).startsWith("action=550");
    }
    assertThat(verifier.asked).containsExactly("nobody@example.test");
  }

  @Test
  void binaryIsAnsweredOrClosedWithinBounds() throws IOException {
    Random random = new Random(14);
    int answered = 0;
    for (int round = 0; round < 20; round++) {
      byte[] garbage = new byte[1 + random.nextInt(64 * 1024)];
      random.nextBytes(garbage);
      try (PolicyClient client = new PolicyClient(server.address())) {
        try {
          client.write(garbage);
          client.write("\n\n" + rcpt("nobody@example.test", "192.0.2.1"));
        } catch (IOException closedAlready) {
          // over 32 KiB: the server may hang up before all of it is written
        }
        String answer;
        do {
          answer = client.answer();
        } while ("action=DUNNO".equals(answer));
        assertThat(answer)
            .as("DUNNO for the garbage, then the real request's answer or the end of input")
            .isIn(null, "action=550 5.1.1 Unable to relay to nobody@example.test");
        if (answer != null) {
          answered++;
        }
      } catch (java.net.SocketTimeoutException e) {
        throw new AssertionError("no answer and no close within 10 s", e);
      } catch (IOException reset) {
        // a reset is a close
      }
    }
    System.out.printf(
        "binary: %d of 20 connections went on serving, the rest were closed%n", answered);
    assertThat(verifier.asked).hasSize(answered).containsOnly("nobody@example.test");
    stillServing();
  }

  @Test
  void idleConnectionIsClosedAfterTheIdleTimeout() throws IOException {
    server.close();
    start(Duration.ofSeconds(1));
    try (PolicyClient client = new PolicyClient(server.address())) {
      assertThat(client.ask(rcpt("user1@example.test", "192.0.2.1"))).isEqualTo("action=DUNNO");
      long start = System.nanoTime();
      assertThat(client.closedByServer()).isTrue();
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(900L, 3000L);
    }
  }

  @Test
  void tenThousandIdleConnectionsCostNoThreadAndTheServerKeepsServing() throws Exception {
    int n = 10_000;
    long limit = openFileLimit();
    System.out.printf("open-file limit %d per process; clients in a child process%n", limit);
    // The clients live in another JVM: this one holds only the server's 10,000 descriptors.
    Process clients =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                IdleClients.class.getName(),
                "127.0.0.1",
                Integer.toString(((InetSocketAddress) server.address()).getPort()),
                Integer.toString(n))
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    int threadsBefore = ManagementFactory.getThreadMXBean().getThreadCount();
    try {
      String opened =
          new java.io.BufferedReader(
                  new java.io.InputStreamReader(clients.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
      assertThat(opened).isEqualTo("open " + n);
      await().atMost(Duration.ofSeconds(30)).until(() -> server.connections() == n);
      int threadsAfter = ManagementFactory.getThreadMXBean().getThreadCount();
      System.out.printf(
          "threads: %d before, %d with %d idle connections%n", threadsBefore, threadsAfter, n);
      assertThat(threadsAfter - threadsBefore).isLessThanOrEqualTo(1);
      long start = System.nanoTime();
      stillServing();
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      System.out.printf("a request beside %d idle connections answered in %d ms%n", n, ms);
      assertThat(ms).isLessThan(1000);
    } finally {
      clients.getOutputStream().close();
      if (!clients.waitFor(30, TimeUnit.SECONDS)) {
        clients.destroyForcibly();
      }
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> server.connections() == 0);
  }

  @Test
  void runningOutOfFileDescriptorsPausesAcceptingAndTheServerRecovers() throws Exception {
    Path prlimit = Path.of("/usr/bin/prlimit");
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Files.isExecutable(prlimit), "needs prlimit(1) to start the server with 256 descriptors");
    Process child =
        new ProcessBuilder(
                prlimit.toString(),
                "--nofile=256:256",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                PolicyServerMain.class.getName())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    List<java.net.Socket> sockets = new ArrayList<>();
    try {
      java.io.BufferedReader lines =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String first = lines.readLine();
      assertThat(first).startsWith("port ");
      InetSocketAddress address =
          new InetSocketAddress("127.0.0.1", Integer.parseInt(first.substring(5)));
      // More connections than the server has descriptors: the kernel queues them, the server
      // cannot accept them all.
      for (int i = 0; i < 400; i++) {
        java.net.Socket socket = new java.net.Socket();
        socket.connect(address, 5000);
        sockets.add(socket);
      }
      for (java.net.Socket socket : sockets) {
        socket.close();
      }
      sockets.clear();
      await()
          .atMost(Duration.ofSeconds(20))
          .ignoreExceptions()
          .until(
              () -> {
                try (PolicyClient client = new PolicyClient(address)) {
                  return client
                      .ask(rcpt("nobody@example.test", "192.0.2.1"))
                      .equals("action=550 5.1.1 Unable to relay to nobody@example.test");
                }
              });
      assertThat(child.isAlive()).isTrue();
    } finally {
      for (java.net.Socket socket : sockets) {
        socket.close();
      }
      child.getOutputStream().close();
      if (!child.waitFor(20, TimeUnit.SECONDS)) {
        child.destroyForcibly();
      }
    }
  }

  PolicyServer startLimited(SocketAddress listen, int max, int perClient) throws IOException {
    server.close();
    server =
        PolicyServer.builder()
            .listen(listen)
            .route("example.test", verifier, PolicyAnswers.defaults())
            .maxConnections(max)
            .maxConnectionsPerClient(perClient)
            .start();
    return server;
  }

  @Test
  void atTheLimitTheIdlestConnectionIsClosedForANewOne() throws IOException {
    startLimited(new InetSocketAddress("127.0.0.1", 0), 3, 3);
    try (PolicyClient first = new PolicyClient(server.address());
        PolicyClient second = new PolicyClient(server.address());
        PolicyClient third = new PolicyClient(server.address())) {
      await().atMost(Duration.ofSeconds(5)).until(() -> server.connections() == 3);
      assertThat(second.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
      try (PolicyClient fourth = new PolicyClient(server.address())) {
        assertThat(fourth.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
        assertThat(first.closedByServer()).as("the idlest").isTrue();
        assertThat(third.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
        assertThat(second.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
      }
    }
    assertThat(server.evicted()).isEqualTo(1);
  }

  @Test
  void atAClientsLimitOnlyItsOwnIdlestConnectionIsClosed() throws IOException {
    startLimited(new InetSocketAddress("127.0.0.1", 0), 10, 2);
    InetAddress other = InetAddress.getByName("127.0.0.2");
    try (PolicyClient otherClient = new PolicyClient(server.address(), other);
        PolicyClient first = new PolicyClient(server.address());
        PolicyClient second = new PolicyClient(server.address())) {
      await().atMost(Duration.ofSeconds(5)).until(() -> server.connections() == 3);
      try (PolicyClient third = new PolicyClient(server.address())) {
        assertThat(third.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
        assertThat(first.closedByServer()).isTrue();
        assertThat(second.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
        assertThat(otherClient.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
      }
    }
  }

  @Test
  void overAUnixSocketTheClientIsThePeersUser(@TempDir Path dir) throws IOException {
    startLimited(UnixDomainSocketAddress.of(dir.resolve("policy.sock")), 10, 2);
    try (PolicyClient first = new PolicyClient(server.address());
        PolicyClient second = new PolicyClient(server.address());
        PolicyClient third = new PolicyClient(server.address())) {
      assertThat(third.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
      assertThat(first.closedByServer()).isTrue();
      assertThat(second.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
    }
  }

  /**
   * Postfix writes each request at once and has one in flight per connection, so a connection
   * holding a request under way must not keep its client's place from a new one: held so, a few
   * hundred connections locked Postfix out.
   */
  @Test
  void aClientAtItsLimitGivesUpItsConnectionEvenInTheMiddleOfARequest() throws IOException {
    startLimited(new InetSocketAddress("127.0.0.1", 0), 1, 1);
    try (PolicyClient busy = new PolicyClient(server.address())) {
      busy.write(rcpt("nobody@example.test", "").substring(0, 40));
      await().atMost(Duration.ofSeconds(5)).until(() -> server.connections() == 1);
      try (PolicyClient late = new PolicyClient(server.address())) {
        assertThat(late.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
        assertThat(busy.closedByServer()).isTrue();
      }
    }
    assertThat(server.evicted()).isEqualTo(1);
  }

  /** At the server's limit the client holding the most gives up one, not the newcomer. */
  @Test
  void atTheServersLimitTheClientHoldingTheMostGivesUpAConnection() throws IOException {
    startLimited(new InetSocketAddress("127.0.0.1", 0), 3, 3);
    InetAddress other = InetAddress.getByName("127.0.0.2");
    try (PolicyClient few = new PolicyClient(server.address(), other);
        PolicyClient first = new PolicyClient(server.address());
        PolicyClient second = new PolicyClient(server.address())) {
      // the other client's connection is the least recently active, but its client holds fewer
      await().atMost(Duration.ofSeconds(5)).until(() -> server.connections() == 3);
      try (PolicyClient late = new PolicyClient(server.address(), other)) {
        assertThat(late.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
        assertThat(few.ask(rcpt("nobody@example.test", ""))).startsWith("action=550");
        assertThat(first.closedByServer()).isTrue();
      }
    }
  }

  @Test
  void requestsOtherThanAccessPolicyWarnOncePerConnection() throws IOException {
    try (StderrCapture log = new StderrCapture();
        PolicyClient client = new PolicyClient(server.address())) {
      for (int i = 0; i < 3; i++) {
        assertThat(client.ask("request=junk_policy\n\n")).isEqualTo("action=DUNNO");
      }
      assertThat(log.lines("not an smtpd_access_policy request")).isEqualTo(1);
    }
  }

  @Test
  void theLimitWarningNamesTheLimitAndTheClientOnceAMinute() throws IOException {
    startLimited(new InetSocketAddress("127.0.0.1", 0), 10, 2);
    List<PolicyClient> clients = new ArrayList<>();
    try (StderrCapture log = new StderrCapture()) {
      for (int i = 0; i < 5; i++) {
        clients.add(new PolicyClient(server.address()));
      }
      await().atMost(Duration.ofSeconds(5)).until(() -> server.evicted() == 3);
      assertThat(log.lines("127.0.0.1: at the limit of 2 connections per client")).isEqualTo(1);
      assertThat(log.lines("at the limit of")).isEqualTo(1);
    } finally {
      for (PolicyClient client : clients) {
        client.close();
      }
    }
  }

  static long openFileLimit() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
      if (line.startsWith("Max open files")) {
        return Long.parseLong(line.split("\\s+")[3]);
      }
    }
    return -1;
  }
}
