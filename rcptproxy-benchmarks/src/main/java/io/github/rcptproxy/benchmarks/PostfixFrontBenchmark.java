package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.postfix.PolicyAnswers;
import io.github.rcptproxy.postfix.PolicyServer;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A Postfix front verifying recipients against a Postfix backend, two ways side by side in one run:
 * rcptproxy's policy server ({@code check_policy_service}) and Postfix's own {@code
 * reject_unverified_recipient}. Each way has its own front and its own fresh backend, so neither
 * disturbs the other's inflow control.
 *
 * <p>{@code java -jar rcptproxy-benchmarks/target/benchmarks.jar --postfix-front} (root, Postfix)
 */
public final class PostfixFrontBenchmark {
  static final int ADDRESSES = 200;
  static final int CLIENTS = 20;

  private PostfixFrontBenchmark() {}

  /** What one way of verifying did. */
  record Result(
      double firstSeenP50,
      double firstSeenP99,
      String firstSeenUnknownReply,
      double cachedP50,
      double cachedP99,
      double aloneFirstSeenP50,
      double aloneCachedP50,
      double inflowBeforeMs,
      double inflowAfterMs,
      String downFirstSeen,
      String downCached,
      String direct) {

    Result withDirect(String direct) {
      return new Result(
          firstSeenP50,
          firstSeenP99,
          firstSeenUnknownReply,
          cachedP50,
          cachedP99,
          aloneFirstSeenP50,
          aloneCachedP50,
          inflowBeforeMs,
          inflowAfterMs,
          downFirstSeen,
          downCached,
          direct);
    }
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    System.out.printf(
        "Postfix in front: rcptproxy policy server vs reject_unverified_recipient, %s, %d cores,"
            + " %s, Java %s%n%n",
        LocalDate.now(),
        Runtime.getRuntime().availableProcessors(),
        Benchmarks.cpuModel(),
        System.getProperty("java.version"));
    Result policy = policyServer();
    Result postfix = rejectUnverifiedRecipient();
    System.out.println(
        "| "
            + ADDRESSES
            + " addresses (50 % unknown), "
            + CLIENTS
            + " clients at once | rcptproxy `check_policy_service` | Postfix"
            + " `reject_unverified_recipient` |");
    System.out.println("|---|---|---|");
    row("first-seen address, RCPT p50", ms(policy.firstSeenP50), ms(postfix.firstSeenP50));
    row("first-seen address, RCPT p99", ms(policy.firstSeenP99), ms(postfix.firstSeenP99));
    row(
        "first-seen unknown address, client hears",
        "`" + policy.firstSeenUnknownReply + "`",
        "`" + postfix.firstSeenUnknownReply + "`");
    row("cached address (second time), RCPT p50", ms(policy.cachedP50), ms(postfix.cachedP50));
    row("cached address (second time), RCPT p99", ms(policy.cachedP99), ms(postfix.cachedP99));
    row(
        "one client alone, first-seen address, RCPT p50 (10 addresses)",
        ms(policy.aloneFirstSeenP50),
        ms(postfix.aloneFirstSeenP50));
    row(
        "one client alone, cached address, RCPT p50",
        ms(policy.aloneCachedP50),
        ms(postfix.aloneCachedP50));
    row(
        "backend inflow damage: a real client's first valid RCPT on the backend, before → after",
        ms(policy.inflowBeforeMs) + " → " + ms(policy.inflowAfterMs),
        ms(postfix.inflowBeforeMs) + " → " + ms(postfix.inflowAfterMs));
    row("backend down, first-seen address", policy.downFirstSeen, postfix.downFirstSeen);
    row("backend down, cached address", policy.downCached, postfix.downCached);
    row(
        "policy requests straight to the server, 20 connections at once, cached addresses"
            + " (no Postfix in the way)",
        policy.direct,
        postfix.direct);
    System.exit(0);
  }

  private static void row(String what, String policy, String postfix) {
    System.out.println("| " + what + " | " + policy + " | " + postfix + " |");
  }

  private static String ms(double millis) {
    return millis >= 100 ? String.format("%,.0f ms", millis) : String.format("%.1f ms", millis);
  }

  private static Result policyServer() throws Exception {
    PostfixBackend backend = PostfixBackend.start(List.of());
    RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", backend.port())
                .heloName("policy.example.test")
                .cache(Duration.ofHours(1), Duration.ofMinutes(5), 100_000)
                .build());
    PolicyServer server =
        PolicyServer.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .route(PostfixBackend.DOMAIN, verifier, PolicyAnswers.defaults())
            .start();
    PostfixBackend front =
        front(
            backend,
            "smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:"
                + "127.0.0.1:"
                + ((InetSocketAddress) server.address()).getPort());
    try {
      double inflowBefore = firstValidRcptMillis(backend);
      // The JVM compiles the hot path after a few hundred requests; a warm server is what runs in
      // production. 400 other addresses (200..399 and unknown ones), answers not counted.
      rcptLatencies(front, 200, CLIENTS, ADDRESSES / CLIENTS, null, "warm");
      rcptLatencies(front, 300, CLIENTS, ADDRESSES / CLIENTS, null, "warm");
      // The cached path too (JFR: a cold one shared the two cores with about 200 ms of
      // compilation during the measured round): asked straight, as more SMTP sessions would use up
      // the front's inflow tokens (each abandoned transaction keeps one) and delay later ones 1 s.
      policyRequests((InetSocketAddress) server.address(), ADDRESSES);
      Result result = run(backend, front, inflowBefore);
      long[] direct = policyRequests((InetSocketAddress) server.address(), 0);
      return result.withDirect(
          "p50 " + ms(percentile(direct, 50)) + ", p99 " + ms(percentile(direct, 99)));
    } finally {
      front.close();
      server.close();
      verifier.close();
      backend.close();
    }
  }

  private static Result rejectUnverifiedRecipient() throws Exception {
    PostfixBackend backend = PostfixBackend.start(List.of());
    PostfixBackend front =
        front(
            backend,
            "smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient");
    try {
      return run(backend, front, firstValidRcptMillis(backend));
    } finally {
      front.close();
      backend.close();
    }
  }

  private static PostfixBackend front(PostfixBackend backend, String restrictions) {
    return PostfixBackend.start(
        List.of(
            "myhostname = front.example.test",
            "virtual_mailbox_domains =",
            "relay_domains = " + PostfixBackend.DOMAIN,
            "relayhost = [127.0.0.1]:" + backend.port(),
            restrictions));
  }

  /** {@code inflowBefore}: the backend's first valid RCPT before anything was verified. */
  private static Result run(PostfixBackend backend, PostfixBackend front, double inflowBefore)
      throws Exception {
    String[] unknownReply = new String[1];
    long[] firstSeen = rcptLatencies(front, 0, CLIENTS, ADDRESSES / CLIENTS, unknownReply);
    long[] cached = rcptLatencies(front, 0, CLIENTS, ADDRESSES / CLIENTS, null);
    long[] aloneFirstSeen = rcptLatencies(front, 400, 1, 10, null);
    long[] aloneCached = rcptLatencies(front, 400, 1, 10, null);
    double inflowAfter = firstValidRcptMillis(backend);
    backend.close();
    String downFirstSeen = timedReply(front, PostfixBackend.known(700));
    String downCached = timedReply(front, PostfixBackend.known(0));
    return new Result(
        percentile(firstSeen, 50),
        percentile(firstSeen, 99),
        unknownReply[0],
        percentile(cached, 50),
        percentile(cached, 99),
        percentile(aloneFirstSeen, 50),
        percentile(aloneCached, 50),
        inflowBefore,
        inflowAfter,
        downFirstSeen,
        downCached,
        "—");
  }

  /**
   * RCPT latencies from clients at once, each with one session of {@code perClient} addresses,
   * every second one unknown (10 per session stay under the front's error limits).
   */
  private static long[] rcptLatencies(
      PostfixBackend front, int offset, int clientCount, int perClient, String[] unknownReply)
      throws Exception {
    return rcptLatencies(front, offset, clientCount, perClient, unknownReply, "nobody");
  }

  private static long[] rcptLatencies(
      PostfixBackend front,
      int offset,
      int clientCount,
      int perClient,
      String[] unknownReply,
      String unknownPrefix)
      throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(clientCount);
    try {
      List<Future<long[]>> results = new ArrayList<>();
      for (int c = 0; c < clientCount; c++) {
        int first = offset + c * perClient;
        results.add(
            clients.submit(
                () -> {
                  long[] nanos = new long[perClient];
                  try (SmtpClient client = session(front)) {
                    for (int i = 0; i < perClient; i++) {
                      int n = first + i;
                      String address =
                          n % 2 == 0
                              ? PostfixBackend.known(n)
                              : unknownPrefix + n + "@" + PostfixBackend.DOMAIN;
                      long start = System.nanoTime();
                      String reply = client.send("RCPT TO:<" + address + ">");
                      nanos[i] = System.nanoTime() - start;
                      boolean accepted = reply.startsWith("250");
                      if (accepted != (n % 2 == 0)) {
                        System.out.println("  unexpected for " + address + ": " + reply);
                      }
                      if (n % 2 == 1 && unknownReply != null && unknownReply[0] == null) {
                        unknownReply[0] = reply;
                      }
                    }
                  }
                  return nanos;
                }));
      }
      return joinedAndSorted(results);
    } finally {
      clients.shutdown();
    }
  }

  /**
   * 20 connections at once, 50 policy requests each for cached addresses (known ones from {@code
   * first} on), as Postfix asks.
   */
  private static long[] policyRequests(InetSocketAddress server, int first) throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<long[]>> results = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int client = c;
        results.add(
            clients.submit(
                () -> {
                  long[] nanos = new long[50];
                  try (java.net.Socket socket = new java.net.Socket()) {
                    socket.connect(server, 5000);
                    socket.setSoTimeout(10_000);
                    socket.setTcpNoDelay(true);
                    var out = socket.getOutputStream();
                    var in = socket.getInputStream();
                    byte[] answer = new byte[256];
                    for (int i = 0; i < nanos.length; i++) {
                      String address =
                          PostfixBackend.known(first + (client * 10 + i * 2) % ADDRESSES);
                      byte[] request =
                          ("request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient="
                                  + address
                                  + "\nclient_address=192.0.2.1\n\n")
                              .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                      long start = System.nanoTime();
                      out.write(request);
                      int read = 0;
                      while (read < 2 || answer[read - 1] != '\n' || answer[read - 2] != '\n') {
                        int n = in.read(answer, read, answer.length - read);
                        if (n < 0) {
                          throw new IOException("policy server hung up");
                        }
                        read += n;
                      }
                      nanos[i] = System.nanoTime() - start;
                    }
                  }
                  return nanos;
                }));
      }
      return joinedAndSorted(results);
    } finally {
      clients.shutdown();
    }
  }

  private static SmtpClient session(PostfixBackend front) throws IOException {
    SmtpClient client = new SmtpClient("127.0.0.1", front.port());
    expect(client.readReply(), "220");
    expect(client.send("EHLO client.example.net"), "250");
    expect(client.send("MAIL FROM:<someone@client.example.net>"), "250");
    return client;
  }

  /** The time a real client waits for its first valid RCPT on the backend itself. */
  private static double firstValidRcptMillis(PostfixBackend backend) throws IOException {
    try (SmtpClient client = new SmtpClient("127.0.0.1", backend.port())) {
      expect(client.readReply(), "220");
      expect(client.send("EHLO client.example.net"), "250");
      expect(client.send("MAIL FROM:<someone@client.example.net>"), "250");
      long start = System.nanoTime();
      expect(client.send("RCPT TO:<" + PostfixBackend.known(7) + ">"), "250");
      return (System.nanoTime() - start) / 1e6;
    }
  }

  private static String timedReply(PostfixBackend front, String address) throws IOException {
    try (SmtpClient client = session(front)) {
      long start = System.nanoTime();
      String reply = client.send("RCPT TO:<" + address + ">");
      return "`" + reply + "` after " + ms((System.nanoTime() - start) / 1e6);
    }
  }

  private static double percentile(long[] sortedNanos, double p) {
    int index = (int) Math.min(sortedNanos.length - 1, Math.floor(p / 100 * sortedNanos.length));
    return sortedNanos[index] / 1e6;
  }

  private static void expect(String reply, String code) {
    if (reply == null || !reply.startsWith(code)) {
      throw new IllegalStateException("expected " + code + ", got " + reply);
    }
  }

  /** Every client's latencies in one sorted array. */
  private static long[] joinedAndSorted(List<Future<long[]>> results) throws Exception {
    long[] all = new long[0];
    for (Future<long[]> result : results) {
      long[] nanos = result.get();
      long[] joined = Arrays.copyOf(all, all.length + nanos.length);
      System.arraycopy(nanos, 0, joined, all.length, nanos.length);
      all = joined;
    }
    Arrays.sort(all);
    return all;
  }
}
