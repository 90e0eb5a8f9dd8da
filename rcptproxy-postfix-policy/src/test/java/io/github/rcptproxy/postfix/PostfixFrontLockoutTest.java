package io.github.rcptproxy.postfix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Real Postfix fronts asking the policy server with its default limits, one over TCP on 127.0.0.1
 * and one over a UNIX socket ({@code check_policy_service unix:/path}), while another process holds
 * 1,000 idle connections: the fronts' requests are still answered.
 */
@RealServers
class PostfixFrontLockoutTest {
  static final int HELD = 1000;
  static PostfixBackend backend;
  static RecipientVerifier verifier;
  static Path dir;
  static PolicyServer tcpServer;
  static PolicyServer unixServer;
  static PostfixBackend tcpFront;
  static PostfixBackend unixFront;

  @BeforeAll
  static void start() throws IOException {
    backend = PostfixBackend.shared();
    verifier = PostfixFrontTest.verifier(backend);
    // smtpd runs as postfix: it must reach the socket through the directory and its group
    dir = Files.createTempDirectory("rcptproxy-policy-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path socket = dir.resolve("policy.sock");
    tcpServer = server(new InetSocketAddress("127.0.0.1", 0)).start();
    unixServer = server(UnixDomainSocketAddress.of(socket)).socketGroup("postfix").start();
    tcpFront = front("inet:127.0.0.1:" + ((InetSocketAddress) tcpServer.address()).getPort());
    unixFront = front("unix:" + socket);
  }

  static PolicyServer.Builder server(SocketAddress listen) {
    return PolicyServer.builder()
        .listen(listen)
        .route("example.test", verifier, PolicyAnswers.defaults());
  }

  static PostfixBackend front(String policyService) {
    return PostfixBackend.start(
        List.of(
            "myhostname = front.example.test",
            "virtual_mailbox_domains =",
            "relay_domains = example.test",
            "relayhost = [127.0.0.1]:" + backend.port(),
            // the help's advice: so a policy server that is not answering costs no mail
            "smtpd_policy_service_default_action = DUNNO",
            "smtpd_recipient_restrictions = reject_unauth_destination,"
                + " check_policy_service "
                + policyService));
  }

  @AfterAll
  static void stop() throws IOException {
    for (AutoCloseable c : new AutoCloseable[] {tcpFront, unixFront, tcpServer, unixServer}) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          throw new IOException(e);
        }
      }
    }
    if (verifier != null) {
      verifier.close();
    }
    if (dir != null) {
      Files.deleteIfExists(dir.resolve("policy.sock"));
      Files.deleteIfExists(dir);
    }
  }

  /** Unknown refused, known accepted, through {@code front}; printed with how long it took. */
  static void frontStillAnswers(PostfixBackend front, String how) throws IOException {
    long start = System.nanoTime();
    try (SmtpClient client = new SmtpClient("127.0.0.1", front.port())) {
      assertThat(client.readReply()).startsWith("220");
      assertThat(client.send("EHLO client.example.net")).startsWith("250");
      assertThat(client.send("MAIL FROM:<someone@client.example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.test>")).startsWith("550 5.1.1");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(7) + ">")).startsWith("250");
    }
    System.out.printf(
        "%s: 550 and 250 in %d ms%n",
        how, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
  }

  /**
   * Holds {@code HELD} idle connections from a child process ({@code asUser} runs it so, e.g. as
   * {@code runuser -u postfix --}) while {@code during} runs.
   */
  static void whileHeld(
      List<String> asUser, List<String> target, PolicyServer server, IoRunnable during)
      throws Exception {
    List<String> command = new java.util.ArrayList<>(asUser);
    command.addAll(
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", // IdleClients needs nothing else, and other users can read our classes
            Path.of(IdleClients.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .toString(),
            IdleClients.class.getName()));
    command.addAll(target);
    command.add(Integer.toString(HELD));
    Process clients =
        new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      String opened =
          new BufferedReader(
                  new InputStreamReader(clients.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
      assertThat(opened).isEqualTo("open " + HELD);
      await().atMost(Duration.ofSeconds(30)).until(() -> server.connections() >= 500);
      during.run();
    } finally {
      clients.getOutputStream().close();
      if (!clients.waitFor(30, TimeUnit.SECONDS)) {
        clients.destroyForcibly();
      }
    }
  }

  /**
   * Holds {@code perSource} connections from each of {@code sources} that always hold a request
   * under way ({@link BusyClients}) to {@code server} while {@code during} runs, given the child's
   * output to wait for its ticks.
   */
  static void whileBusy(String sources, int perSource, PolicyServer server, BusyRunnable during)
      throws Exception {
    int port = ((InetSocketAddress) server.address()).getPort();
    int total = perSource * sources.split(",").length;
    Process clients =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                Path.of(
                        BusyClients.class
                            .getProtectionDomain()
                            .getCodeSource()
                            .getLocation()
                            .toURI())
                    .toString(),
                BusyClients.class.getName(),
                "127.0.0.1",
                Integer.toString(port),
                Integer.toString(perSource),
                sources)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(clients.getInputStream(), StandardCharsets.UTF_8));
      assertThat(out.readLine()).isEqualTo("open " + total);
      await().atMost(Duration.ofSeconds(30)).until(() -> server.connections() >= total);
      during.run(out);
    } finally {
      clients.getOutputStream().close();
      if (!clients.waitFor(30, TimeUnit.SECONDS)) {
        clients.destroyForcibly();
      }
    }
  }

  interface BusyRunnable {
    void run(BufferedReader ticks) throws IOException;
  }

  interface IoRunnable {
    void run() throws IOException;
  }

  @Test
  void overTheUnixSocketUnknownIsRefusedAndKnownAccepted() throws IOException {
    frontStillAnswers(unixFront, "UNIX socket");
  }

  @Test
  void aThousandIdleConnectionsFromPostfixsOwnAddressDoNotStopItsAnswers() throws Exception {
    frontStillAnswers(tcpFront, "TCP, before");
    int port = ((InetSocketAddress) tcpServer.address()).getPort();
    whileHeld(
        List.of(),
        List.of("127.0.0.1", Integer.toString(port)),
        tcpServer,
        () -> {
          frontStillAnswers(tcpFront, "TCP, 1,000 idle connections from 127.0.0.1 held");
          frontStillAnswers(tcpFront, "TCP, again");
        });
    assertThat(tcpServer.evicted()).isGreaterThanOrEqualTo(HELD - 500);
  }

  /**
   * 500 connections from 127.0.0.1 (the per-client limit, shared with Postfix's own) that are never
   * between requests: Postfix's new connection takes the place of one of them, though none is idle,
   * and its requests are answered before and after the attackers' next requests.
   */
  @Test
  void fiveHundredConnectionsAlwaysInARequestFromPostfixsOwnAddressDoNotStopItsAnswers()
      throws Exception {
    busyConnectionsDoNotStopTheAnswers("127.0.0.1", 500);
  }

  /**
   * 1,000 such connections (the server's limit) from two other addresses: Postfix's new connection
   * takes the place of one of the client holding the most.
   */
  @Test
  void aThousandConnectionsAlwaysInARequestFromTwoOtherAddressesDoNotStopItsAnswers()
      throws Exception {
    busyConnectionsDoNotStopTheAnswers("127.0.0.2,127.0.0.3", 500);
  }

  private static void busyConnectionsDoNotStopTheAnswers(String sources, int perSource)
      throws Exception {
    frontStillAnswers(tcpFront, "TCP, before");
    whileBusy(
        sources,
        perSource,
        tcpServer,
        ticks -> {
          frontStillAnswers(tcpFront, "TCP, busy connections from " + sources + " held");
          assertThat(ticks.readLine()).isEqualTo("ticked"); // every busy one began a new request
          frontStillAnswers(tcpFront, "TCP, after they began new requests");
        });
  }

  /**
   * The 1,000 come from Postfix's own user, so they count against the same client as its {@code
   * smtpd}: its connection, the idlest, is closed, and it reconnects.
   */
  @Test
  void aThousandIdleConnectionsFromPostfixsOwnUserOnTheUnixSocketDoNotStopItsAnswers()
      throws Exception {
    frontStillAnswers(unixFront, "UNIX, before");
    whileHeld(
        List.of("runuser", "-u", "postfix", "--"),
        List.of("unix", unixServer.address().toString()),
        unixServer,
        () -> {
          frontStillAnswers(unixFront, "UNIX, 1,000 idle connections of user postfix held");
          frontStillAnswers(unixFront, "UNIX, again");
        });
    assertThat(unixServer.evicted()).isGreaterThanOrEqualTo(HELD - 500);
  }
}
