package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.testing.PostfixBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * RCPTs a second from {@value #CLIENTS} clients at once: straight to a Postfix with {@code
 * in_flow_delay = 0} (so that inflow control does not throttle the baseline), through a gateway
 * without a verdict cache (every RCPT asked of the backend, as for a first-seen address), the same
 * asking by RCPT instead of VRFY (so without the second VRFY a {@code 252} needs), through a
 * gateway whose verdict cache holds every address, through a bare TCP hop ({@link ByteRelay}: a
 * fresh Postfix connection per client, bytes forwarded), and through an {@link RcptMultiplexer}
 * with as many and with fewer Postfix connections than clients (what an event-loop front asking by
 * RCPT over persistent sessions would reach at best; with fewer, what pipelining gives for the
 * parallelism it takes), and through the same front with a thread per client ({@link
 * ThreadedRcptProxy}), asking itself or handing each RCPT to an event loop. The rows alternate in
 * each round (each round in the order opposite to the last), and each is given relative to the
 * direct row of the same round, so that load from elsewhere on the machine hits all of them alike.
 *
 * <p>{@code java -jar rcptproxy-benchmarks/target/benchmarks.jar --gateway-throughput [--quick |
 * --rounds N] [--max-sessions N]} (the gateways' sessions to Postfix; the verifier's default
 * without it)
 */
final class GatewayThroughput {
  static final int CLIENTS = 20;

  /** RCPTs per client per block, in one transaction: under the gateway's max-recipients (100). */
  private static final int RCPTS_PER_CLIENT = 50;

  /**
   * Mailboxes in the benchmark's own Postfix map. Each block asks the next 1,000 of them, whatever
   * the row, so an address comes back only 40 blocks later. A Postfix {@code smtpd} process keeps
   * its last 100 resolved addresses, so no row finds its addresses there. With 1,000 mailboxes,
   * where each client asked the same 50 in every block, a proxy that gave each client the same
   * Postfix session every time was served from that cache: 1.4× the direct row, against 0.8–1.07×
   * with fresh addresses.
   */
  private static final int ADDRESSES = 40_000;

  /** Blocks run so far, every row's: which 1,000 addresses the next one asks. */
  private static final AtomicInteger BLOCKS = new AtomicInteger();

  private GatewayThroughput() {}

  /**
   * One row: where its clients connect, its RCPTs a second in each round, every RCPT's time, and
   * what its measured blocks cost the machine.
   */
  private record Row(
      String name, int port, List<Double> perSecond, List<Long> rcptNanos, Cost cost) {
    Row(String name, int port) {
      this(name, port, new ArrayList<>(), new ArrayList<>(), new Cost());
    }
  }

  /**
   * What a row's measured blocks cost, read around each whole block (its clients' connections
   * opened and closed included): CPU ticks of the machine, of Postfix and of this JVM (the clients,
   * and the gateway or hop the row goes through), context switches, and the wall time.
   */
  private static final class Cost {
    private long machine;
    private long postfix;
    private long jvm;
    private long switches;
    private long nanos;
    private int rcpts;

    /** Runs one block and adds what it cost. */
    double measure(Path postfixQueue, Callable<Double> block) throws Exception {
      long pid = ProcessHandle.current().pid();
      long[] before = {
        CpuTicks.machine(),
        CpuTicks.postfix(postfixQueue),
        CpuTicks.process(pid),
        CpuTicks.contextSwitches(),
        System.nanoTime()
      };
      double perSecond = block.call();
      machine += CpuTicks.machine() - before[0];
      postfix += CpuTicks.postfix(postfixQueue) - before[1];
      jvm += CpuTicks.process(pid) - before[2];
      switches += CpuTicks.contextSwitches() - before[3];
      nanos += System.nanoTime() - before[4];
      rcpts += CLIENTS * RCPTS_PER_CLIENT;
      return perSecond;
    }

    /** {@code machine µs | Postfix µs | JVM µs | idle % | switches} per RCPT, as table cells. */
    String cells() {
      double cores = Runtime.getRuntime().availableProcessors();
      double idle = 1 - machine / CpuTicks.TICKS_PER_SECOND / (nanos / 1e9 * cores);
      return String.format(
          " %s | %s | %s | %.0f %% | %.1f ",
          CpuTicks.perOperation(machine, rcpts),
          CpuTicks.perOperation(postfix, rcpts),
          CpuTicks.perOperation(jvm, rcpts),
          Math.max(0, idle * 100),
          (double) switches / rcpts);
    }
  }

  /** What one client's block took: when its last reply came (nanoTime), and each RCPT. */
  private record ClientBlock(long end, long[] rcptNanos) {}

  public static void main(String[] args) throws Exception {
    List<String> options = List.of(args);
    int roundsAt = options.indexOf("--rounds");
    int rounds =
        roundsAt >= 0
            ? Integer.parseInt(options.get(roundsAt + 1))
            : options.contains("--quick") ? 4 : 10;
    int at = options.indexOf("--max-sessions");
    OptionalInt maxSessions =
        at < 0 ? OptionalInt.empty() : OptionalInt.of(Integer.parseInt(options.get(at + 1)));
    System.out.printf(
        "rcptproxy gateway vs direct, RCPTs/s from %d clients at once (max-sessions %s), %s, %d"
            + " cores, %s, Java %s; %d interleaved rounds of %d RCPTs per row%n%n",
        CLIENTS,
        maxSessions.isPresent() ? maxSessions.getAsInt() : "default",
        Instant.now().truncatedTo(ChronoUnit.MINUTES),
        Runtime.getRuntime().availableProcessors(),
        Benchmarks.cpuModel(),
        System.getProperty("java.version"),
        rounds,
        CLIENTS * RCPTS_PER_CLIENT);
    ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
    try (PostfixBackend postfix =
            PostfixBackend.start(
                // Room for every row's connections: the clients' own, and the sessions the gateways
                // and the multiplexers keep open (over 100 in all, Postfix's default process limit)
                List.of(
                    "in_flow_delay = 0",
                    "smtpd_client_connection_count_limit = 250",
                    "default_process_limit = 250",
                    "virtual_mailbox_maps = texthash:" + mailboxes()));
        RunningGateway uncached =
            RunningGateway.start(settings(postfix.port(), Kind.UNCACHED, maxSessions));
        RunningGateway rcpt =
            RunningGateway.start(settings(postfix.port(), Kind.RCPT, maxSessions));
        RunningGateway cached =
            RunningGateway.start(settings(postfix.port(), Kind.CACHED, maxSessions));
        ByteRelay relay = ByteRelay.start(postfix.port());
        RcptMultiplexer multiplexer = RcptMultiplexer.start(postfix.port(), CLIENTS);
        RcptMultiplexer fewer = RcptMultiplexer.start(postfix.port(), 8);
        ThreadedRcptProxy threaded = ThreadedRcptProxy.start(postfix.port(), CLIENTS);
        RcptMultiplexer loop = RcptMultiplexer.start(postfix.port(), CLIENTS);
        ThreadedRcptProxy handing = ThreadedRcptProxy.handingTo(loop, CLIENTS)) {
      List<Row> rows =
          List.of(
              new Row("straight to Postfix", postfix.port()),
              new Row(
                  "through a bare TCP hop to Postfix (bytes forwarded by one NIO thread, no SMTP)",
                  relay.port()),
              new Row(
                  "through an RCPT multiplexer (one NIO thread, "
                      + CLIENTS
                      + " persistent Postfix connections, no checks)",
                  multiplexer.port()),
              new Row(
                  "the same with a thread per client connection (blocking sockets)",
                  threaded.port()),
              new Row(
                  "the same, each thread handing its RCPTs to an event loop owning the connections",
                  handing.port()),
              new Row("the multiplexer with 8 Postfix connections (RCPTs pipelined)", fewer.port()),
              new Row("through the gateway, uncached (no verdict cache)", uncached.port()),
              new Row(
                  "through the gateway, uncached, probe method RCPT (one command per address)",
                  rcpt.port()),
              new Row("through the gateway, cached (every address in the cache)", cached.port()));
      // Every address into the cached gateway's cache.
      for (int pass = 0; pass < ADDRESSES / (CLIENTS * RCPTS_PER_CLIENT); pass++) {
        block(clients, cached.port(), new ArrayList<>());
      }
      int passes = warmUntilCompiled(clients, rows);
      System.out.printf(
          "warm-up: %d passes of every row until the JIT compilers were idle%n%n", passes);
      for (int round = 0; round < rounds; round++) {
        for (int r = 0; r < rows.size(); r++) {
          Row row = rows.get(round % 2 == 0 ? r : rows.size() - 1 - r);
          row.perSecond()
              .add(
                  row.cost()
                      .measure(
                          postfix.queueDirectory(),
                          () -> block(clients, row.port(), row.rcptNanos())));
        }
      }
      print(rows);
    } finally {
      clients.shutdownNow();
    }
    System.exit(0);
  }

  /**
   * Passes of every row until one leaves the JVM's JIT compiler threads' CPU time unchanged (at
   * most 60): the gateways run in this JVM, and a gateway in production is long warm. Without it C2
   * was this JVM's busiest thread during the measured rounds, on the same two cores.
   */
  private static int warmUntilCompiled(ExecutorService clients, List<Row> rows) throws Exception {
    long pid = ProcessHandle.current().pid();
    long compiled = -1;
    int passes = 0;
    while (passes < 60 && compiled != (compiled = CpuTicks.compilers(pid))) {
      for (Row row : rows) {
        block(clients, row.port(), new ArrayList<>());
      }
      passes++;
    }
    return passes;
  }

  private static void print(List<Row> rows) {
    System.out.println(
        "| "
            + CLIENTS
            + " clients at once | RCPTs/s, median | per round | vs direct, median |"
            + " per round | RCPT p50 ms | p99 ms | max ms | machine CPU per RCPT | Postfix |"
            + " this JVM | machine idle | context switches per RCPT |");
    System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (Row row : rows) {
      System.out.printf(
          "| %s |%s| %.1f | %.1f | %.0f |%s|%n",
          row.name(),
          PerRound.cells(row.perSecond(), rows.get(0).perSecond()),
          percentileMillis(row.rcptNanos(), 50),
          percentileMillis(row.rcptNanos(), 99),
          percentileMillis(row.rcptNanos(), 100),
          row.cost().cells());
    }
  }

  private static double percentileMillis(List<Long> nanos, double p) {
    long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
    return sorted[(int) Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))] / 1e6;
  }

  /**
   * One block: each client connects, says EHLO and MAIL (not timed), then all send their RCPTs at
   * once, each waiting for its reply; RCPTs a second over the time from the start until the last
   * client has its last reply. Each RCPT's time goes into {@code rcptNanos}.
   */
  private static double block(ExecutorService clients, int port, List<Long> rcptNanos)
      throws Exception {
    CyclicBarrier ready = new CyclicBarrier(CLIENTS + 1);
    List<Future<ClientBlock>> done = new ArrayList<>();
    int addresses = CLIENTS * RCPTS_PER_CLIENT;
    int from = BLOCKS.getAndIncrement() % (ADDRESSES / addresses) * addresses;
    for (int c = 0; c < CLIENTS; c++) {
      int first = from + c * RCPTS_PER_CLIENT;
      done.add(clients.submit(() -> client(port, first, ready)));
    }
    try {
      ready.await(30, TimeUnit.SECONDS);
    } catch (BrokenBarrierException | TimeoutException e) {
      for (Future<ClientBlock> client : done) {
        client.get(); // a client that failed before the start says why
      }
      throw e;
    }
    long start = System.nanoTime();
    long end = start;
    for (Future<ClientBlock> client : done) {
      end = Math.max(end, client.get().end());
      Arrays.stream(client.get().rcptNanos()).forEach(rcptNanos::add);
    }
    return CLIENTS * RCPTS_PER_CLIENT / ((end - start) / 1e9);
  }

  /** One client's block: its RCPTs, one after the other. */
  private static ClientBlock client(int port, int first, CyclicBarrier ready) throws Exception {
    try (RawSmtp client = new RawSmtp(port)) {
      client.expectCommand("EHLO bench.client.test", '2');
      client.expectCommand("MAIL FROM:<bench@client.test>", '2');
      ready.await(30, TimeUnit.SECONDS);
      long[] rcptNanos = new long[RCPTS_PER_CLIENT];
      for (int i = 0; i < RCPTS_PER_CLIENT; i++) {
        String address = address(first + i);
        long start = System.nanoTime();
        client.expectCommand("RCPT TO:<" + address + ">", '2');
        rcptNanos[i] = System.nanoTime() - start;
      }
      long end = System.nanoTime();
      client.command("QUIT");
      return new ClientBlock(end, rcptNanos);
    } catch (Exception e) {
      if (!(e instanceof BrokenBarrierException)) {
        System.out.println("  a client failed on port " + port + ": " + e);
      }
      ready.reset(); // the others and the block stop waiting for this client
      throw e;
    }
  }

  private static String address(int n) {
    return "bench-" + n + "@" + PostfixBackend.DOMAIN;
  }

  /** A Postfix map of {@value #ADDRESSES} mailboxes in a temporary file, readable by Postfix. */
  private static Path mailboxes() throws IOException {
    Path file = Files.createTempFile("rcptproxy-bench-mailboxes-", ".txt");
    file.toFile().deleteOnExit();
    StringBuilder map = new StringBuilder();
    for (int n = 0; n < ADDRESSES; n++) {
      map.append(address(n)).append(" OK\n");
    }
    Files.writeString(file, map);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    return file;
  }

  /** Which gateway: the default one without a cache, the same asking by RCPT, one with a cache. */
  private enum Kind {
    UNCACHED,
    RCPT,
    CACHED
  }

  /** A gateway as `rcptproxy gateway` starts it for Postfix's domain, the clients not limited. */
  private static GatewaySettings settings(int postfixPort, Kind kind, OptionalInt maxSessions) {
    return GatewaySettings.builder()
        .listen(new HostPort("127.0.0.1", 0))
        .domains(List.of(PostfixBackend.DOMAIN))
        .maxConnectionsPerClient(CLIENTS)
        .verifier(
            verifier -> {
              verifier.backend("127.0.0.1", postfixPort);
              maxSessions.ifPresent(verifier::maxSessions);
              if (kind == Kind.RCPT) {
                // A measure of the 252 rule's cost: one pipelinable command per address, no
                // second question after a 252 (not a setting for Postfix: RCPT probes take inflow
                // tokens).
                verifier.probeMethod(ProbeMethod.RCPT);
              }
              if (kind == Kind.CACHED) {
                verifier.cache(Duration.ofHours(1), Duration.ofMinutes(10), 100_000);
              }
            })
        .policy(policy -> policy.bypass(List.of()).bypassBackend(false))
        .build();
  }
}
