package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A Postfix front verifying recipients against a Postfix backend, three ways side by side in one
 * interleaved run: rcptproxy's policy server ({@code check_policy_service}) over TCP and over a
 * UNIX socket, and Postfix's own {@code reject_unverified_recipient}. Each way has its own front
 * and its own fresh backend, so none disturbs another's inflow control; the cached rounds take
 * turns, so that all three share whatever else the machine is doing.
 *
 * <p>{@code java -jar rcptproxy-benchmarks/target/benchmarks.jar --postfix-front} (root, Postfix)
 */
public final class PostfixFrontBenchmark {
  static final int ADDRESSES = 200;
  static final int CLIENTS = 20;
  static final int CACHED_ROUNDS = 30;

  private PostfixFrontBenchmark() {}

  /** One way of verifying: its backend and front, the policy server if any, what it measured. */
  private static final class Way implements AutoCloseable {
    final String name;
    final PostfixBackend backend;
    final PostfixBackend front;
    final Process server; // the policy server's own process; null for Postfix's own
    final SocketAddress address; // the policy server's
    final double inflowBefore;
    final String[] unknownReply = new String[1];
    final List<long[]> cached = new ArrayList<>();
    long machineTicks; // the whole machine's busy CPU time during this way's cached rounds
    long serverTicks; // the policy server process's own
    long frontTicks; // the front Postfix's (smtpd, and verify for Postfix's own way)
    int warmUpPasses;
    long[] firstSeen;
    long[] aloneFirstSeen;
    long[] aloneCached;
    double inflowAfter;
    String downFirstSeen;
    String downCached;
    String direct = "—";

    Way(String name, PostfixBackend backend, Process server, SocketAddress address)
        throws IOException {
      this.name = name;
      this.backend = backend;
      this.server = server;
      this.address = address;
      this.inflowBefore = firstValidRcptMillis(backend);
      this.front =
          front(
              backend,
              "smtpd_recipient_restrictions = reject_unauth_destination, "
                  + (server == null
                      ? "reject_unverified_recipient"
                      : "check_policy_service " + service(address)));
    }

    long[] allCached() {
      long[] all = cached.stream().flatMapToLong(Arrays::stream).sorted().toArray();
      return all;
    }

    @Override
    public void close() {
      front.close();
      if (server != null) {
        try {
          server.getOutputStream().close(); // it stops at the end of its input
          server.waitFor(20, java.util.concurrent.TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
          server.destroyForcibly();
        }
      }
      backend.close();
    }
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    System.out.printf(
        "Postfix in front: rcptproxy policy server vs reject_unverified_recipient, %s UTC, %d"
            + " cores, %s, Java %s%n%n",
        java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).withNano(0),
        Runtime.getRuntime().availableProcessors(),
        Benchmarks.cpuModel(),
        System.getProperty("java.version"));
    Path dir = Files.createTempDirectory("rcptproxy-bench-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    try (Way tcp = policyWay("TCP", "tcp");
        Way unix = policyWay("UNIX socket", dir.resolve("policy.sock").toString());
        Way postfix = new Way("Postfix", PostfixBackend.start(List.of()), null, null)) {
      List<Way> ways = List.of(tcp, unix, postfix);
      measure(ways);
      print(tcp, unix, postfix);
    } finally {
      Files.deleteIfExists(dir.resolve("policy.sock"));
      Files.deleteIfExists(dir);
    }
    System.exit(0);
  }

  /** A backend and the policy server asking it, in a process of its own, as deployed. */
  private static Way policyWay(String name, String listen) throws IOException {
    PostfixBackend backend = PostfixBackend.start(List.of());
    List<String> command = new ArrayList<>();
    command.add("setsid"); // its own session, as a service: not the benchmark's scheduling group
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // JVM options with -Dserver.jvm="...", e.g.
    // -XX:StartFlightRecording=filename=/tmp/NAME.jfr,settings=profile (NAME: TCP or UNIX).
    String options = System.getProperty("server.jvm", "").replace("NAME", name.split(" ")[0]);
    if (!options.isBlank()) {
      command.addAll(List.of(options.trim().split("\\s+")));
    }
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            PolicyServerProcess.class.getName(),
            Integer.toString(backend.port()),
            listen));
    Process server =
        new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    java.io.BufferedReader out =
        new java.io.BufferedReader(
            new java.io.InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
    String first = out.readLine();
    while (first != null && first.startsWith("[")) { // the JVM's own lines (JFR's) come first
      first = out.readLine();
    }
    if (first == null || !first.startsWith("listening ")) {
      server.destroyForcibly();
      throw new IOException("the policy server did not start: " + first);
    }
    String where = first.substring("listening ".length());
    SocketAddress address =
        listen.equals("tcp")
            ? new InetSocketAddress(
                "127.0.0.1", Integer.parseInt(where.substring(where.lastIndexOf(':') + 1)))
            : UnixDomainSocketAddress.of(listen);
    return new Way(name, backend, server, address);
  }

  private static String service(SocketAddress address) {
    return address instanceof InetSocketAddress inet
        ? "inet:127.0.0.1:" + inet.getPort()
        : "unix:" + ((UnixDomainSocketAddress) address).getPath();
  }

  /** Every round, the ways taking turns; the ones that close a backend last. */
  private static void measure(List<Way> ways) throws Exception {
    for (Way way : ways) {
      if (way.server != null) {
        // The JVM compiles the hot path after a few hundred requests; a warm server is what runs
        // in production. 400 other addresses (200..399 and unknown ones), answers not counted.
        rcptLatencies(way.front, 200, CLIENTS, ADDRESSES / CLIENTS, null, "warm");
        rcptLatencies(way.front, 300, CLIENTS, ADDRESSES / CLIENTS, null, "warm");
        // Then the cached path until the server's JIT compilers have nothing left to do: a server
        // in production is long warm. JFR showed C2 compiling the answering methods during the
        // measured rounds after 20,000 requests asked straight (its process then used 72-157 µs
        // of CPU a cached request, the compiler most of it). Each pass: a round through the front
        // (Postfix's own connections and requests) and 1,000 requests straight, half unknown.
        long compiled = -1;
        while (way.warmUpPasses < 100
            && compiled != (compiled = CpuTicks.compilers(way.server.pid()))) {
          rcptLatencies(way.front, 200 + way.warmUpPasses % 2 * 100, CLIENTS, 10, null, "warm");
          policyRequests(way.address, ADDRESSES, "warm");
          way.warmUpPasses++;
        }
      }
    }
    for (Way way : ways) {
      way.firstSeen = rcptLatencies(way.front, 0, CLIENTS, ADDRESSES / CLIENTS, way.unknownReply);
    }
    for (int round = 0; round < CACHED_ROUNDS; round++) {
      for (int i = 0; i < ways.size(); i++) {
        Way way = ways.get((round + i) % ways.size()); // each way first in turn
        long machine = CpuTicks.machine();
        long server = way.server == null ? 0 : CpuTicks.process(way.server.pid());
        long front = CpuTicks.postfix(way.front.queueDirectory());
        way.cached.add(rcptLatencies(way.front, 0, CLIENTS, ADDRESSES / CLIENTS, null));
        way.machineTicks += CpuTicks.machine() - machine;
        way.serverTicks += way.server == null ? 0 : CpuTicks.process(way.server.pid()) - server;
        way.frontTicks += CpuTicks.postfix(way.front.queueDirectory()) - front;
      }
    }
    for (Way way : ways) {
      way.aloneFirstSeen = rcptLatencies(way.front, 400, 1, 10, null);
      way.aloneCached = rcptLatencies(way.front, 400, 1, 10, null);
      way.inflowAfter = firstValidRcptMillis(way.backend);
      if (way.server != null) {
        long[] direct = policyRequests(way.address, 0, "nobody");
        way.direct = "p50 " + ms(percentile(direct, 50)) + ", p99 " + ms(percentile(direct, 99));
      }
    }
    for (Way way : ways) {
      way.backend.close();
      way.downFirstSeen = timedReply(way.front, PostfixBackend.known(700));
      way.downCached = timedReply(way.front, PostfixBackend.known(0));
    }
  }

  private static void print(Way tcp, Way unix, Way postfix) {
    System.out.println(
        "| "
            + ADDRESSES
            + " addresses (50 % unknown), "
            + CLIENTS
            + " clients at once | rcptproxy `check_policy_service` over TCP | over a UNIX socket |"
            + " Postfix `reject_unverified_recipient` |");
    System.out.println("|---|---|---|---|");
    List<Way> all = List.of(tcp, unix, postfix);
    row(all, "first-seen address, RCPT p50", w -> ms(percentile(w.firstSeen, 50)));
    row(all, "first-seen address, RCPT p99", w -> ms(percentile(w.firstSeen, 99)));
    row(all, "first-seen unknown address, client hears", w -> "`" + w.unknownReply[0] + "`");
    row(
        all,
        "cached address, RCPT p50 (" + CACHED_ROUNDS + " rounds, interleaved)",
        w -> ms(percentile(w.allCached(), 50)));
    row(all, "cached address, RCPT p99", w -> ms(percentile(w.allCached(), 99)));
    row(
        all,
        "cached address, RCPT p50 per round (min–max)",
        w -> {
          double[] p50s = w.cached.stream().mapToDouble(r -> percentile(sorted(r), 50)).toArray();
          return ms(Arrays.stream(p50s).min().orElse(0))
              + "–"
              + ms(Arrays.stream(p50s).max().orElse(0));
        });
    row(
        all,
        "machine CPU per cached RCPT (all processes, busy time / RCPTs)",
        w -> CpuTicks.perOperation(w.machineTicks, w.allCached().length));
    row(
        all,
        "of which the policy server process",
        w -> w.server == null ? "—" : CpuTicks.perOperation(w.serverTicks, w.allCached().length));
    row(
        all,
        "of which the front Postfix (its smtpd processes; Postfix's own way: and verify)",
        w -> CpuTicks.perOperation(w.frontTicks, w.allCached().length));
    row(
        all,
        "cached rounds where this way's p50 was the lowest of the three",
        w -> lowestIn(w, all) + " of " + CACHED_ROUNDS);
    row(
        all,
        "warm-up passes until the server's JIT compilers were idle (200 RCPTs, 1,000 requests each)",
        w -> w.server == null ? "—" : Integer.toString(w.warmUpPasses));
    row(
        all,
        "one client alone, first-seen address, RCPT p50 (10 addresses)",
        w -> ms(percentile(w.aloneFirstSeen, 50)));
    row(all, "one client alone, cached address, RCPT p50", w -> ms(percentile(w.aloneCached, 50)));
    row(
        all,
        "backend inflow damage: a real client's first valid RCPT on the backend, before → after",
        w -> ms(w.inflowBefore) + " → " + ms(w.inflowAfter));
    row(all, "backend down, first-seen address", w -> w.downFirstSeen);
    row(all, "backend down, cached address", w -> w.downCached);
    row(
        all,
        "policy requests straight to the server, 20 connections at once, cached addresses"
            + " (no Postfix in the way)",
        w -> w.direct);
  }

  /** In how many cached rounds {@code way}'s p50 was the lowest (round r of every way). */
  private static int lowestIn(Way way, List<Way> all) {
    int lowest = 0;
    for (int r = 0; r < CACHED_ROUNDS; r++) {
      double mine = percentile(sorted(way.cached.get(r)), 50);
      int round = r;
      if (all.stream().allMatch(o -> percentile(sorted(o.cached.get(round)), 50) >= mine)) {
        lowest++;
      }
    }
    return lowest;
  }

  private static void row(List<Way> ways, String what, java.util.function.Function<Way, String> f) {
    StringBuilder line = new StringBuilder("| " + what + " |");
    for (Way way : ways) {
      line.append(' ').append(f.apply(way)).append(" |");
    }
    System.out.println(line);
  }

  private static long[] sorted(long[] nanos) {
    long[] copy = nanos.clone();
    Arrays.sort(copy);
    return copy;
  }

  private static String ms(double millis) {
    return millis >= 100 ? String.format("%,.0f ms", millis) : String.format("%.1f ms", millis);
  }

  private static PostfixBackend front(PostfixBackend backend, String restrictions) {
    return PostfixBackend.start(
        List.of(
            "myhostname = front.example.test",
            "virtual_mailbox_domains =",
            "relay_domains = " + PostfixBackend.DOMAIN,
            "relayhost = [127.0.0.1]:" + backend.port(),
            // Every session here abandons its transaction, keeping one of the front's inflow
            // tokens, so after a few hundred the first accepted RCPT of each session (where
            // smtpd_delay_open_until_valid_rcpt opens the transaction) waited in_flow_delay, 1 s,
            // on every front alike; not what is measured here.
            "in_flow_delay = 0s",
            restrictions));
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
   * 20 connections at once, 50 policy requests each for cached addresses from {@code first} on,
   * every second one unknown ({@code unknownPrefix} and its number), as Postfix asks.
   */
  private static long[] policyRequests(SocketAddress server, int first, String unknownPrefix)
      throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<long[]>> results = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int client = c;
        results.add(clients.submit(() -> policyClient(server, first, client, unknownPrefix)));
      }
      return joinedAndSorted(results);
    } finally {
      clients.shutdown();
    }
  }

  /** One connection's 50 requests, as Postfix asks: one, its answer, the next. */
  private static long[] policyClient(
      SocketAddress server, int first, int client, String unknownPrefix) throws IOException {
    long[] nanos = new long[50];
    try (SocketChannel channel = SocketChannel.open(server)) {
      if (server instanceof InetSocketAddress) {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      }
      ByteBuffer answer = ByteBuffer.allocate(512);
      for (int i = 0; i < nanos.length; i++) {
        int n = first + (client * 10 + i) % ADDRESSES;
        String address =
            n % 2 == 0 ? PostfixBackend.known(n) : unknownPrefix + n + "@" + PostfixBackend.DOMAIN;
        ByteBuffer request = StandardCharsets.US_ASCII.encode(postfixRequest(address));
        long start = System.nanoTime();
        while (request.hasRemaining()) {
          channel.write(request);
        }
        answer.clear();
        while (answer.position() < 2
            || answer.get(answer.position() - 1) != '\n'
            || answer.get(answer.position() - 2) != '\n') {
          if (channel.read(answer) < 0) {
            throw new IOException("policy server hung up");
          }
        }
        nanos[i] = System.nanoTime() - start;
      }
    }
    return nanos;
  }

  /** A request with every attribute Postfix 3.7's smtpd sends at RCPT, in its order. */
  private static String postfixRequest(String recipient) {
    return "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
        + "client_address=192.0.2.1\nclient_name=unknown\nclient_port=40000\n"
        + "reverse_client_name=unknown\nserver_address=127.0.0.1\nserver_port=25\n"
        + "helo_name=client.example.net\nsender=someone@client.example.net\nrecipient="
        + recipient
        + "\nrecipient_count=0\nqueue_id=\ninstance=2f1a.6561d5a2.9c4e3.0\nsize=0\n"
        + "etrn_domain=\nstress=\nsasl_method=\nsasl_username=\nsasl_sender=\n"
        + "ccert_subject=\nccert_issuer=\nccert_fingerprint=\nccert_pubkey_fingerprint=\n"
        + "encryption_protocol=\nencryption_cipher=\nencryption_keysize=0\npolicy_context=\n"
        + "compatibility_level=3.6\nmail_version=3.7.11\n\n";
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
