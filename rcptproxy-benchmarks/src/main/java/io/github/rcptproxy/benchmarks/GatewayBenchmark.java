package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.testing.PostfixBackend;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

/**
 * The gateway against a real Postfix it starts itself: RCPT p50, a pipelined MAIL and RCPTs, and
 * whole messages a second through a running gateway (its defaults: every RCPT verified, no verdict
 * cache) and straight to the same Postfix, by the same client, in interleaved rounds of one run,
 * every row measured the same way.
 *
 * <p>{@code java -jar rcptproxy-benchmarks/target/benchmarks.jar --gateway [--quick]
 * [--fleet-only]}
 */
final class GatewayBenchmark {
  /** RCPTs per transaction of an RCPT row: under the gateway's max-recipients (100). */
  private static final int RCPTS_PER_TRANSACTION = 50;

  private static final int RECIPIENTS_PER_MESSAGE = 2;

  /** A small message: headers and 1 KiB of text, with its final dot. */
  private static final byte[] CONTENT =
      ("From: bench@client.test\r\nTo: user0@example.test\r\nSubject: benchmark\r\n\r\n"
              + ("x".repeat(62) + "\r\n").repeat(16)
              + ".\r\n")
          .getBytes(StandardCharsets.US_ASCII);

  private GatewayBenchmark() {}

  /** What one sample is: one RCPT in an open transaction, or one whole message. */
  private enum Kind {
    RCPT,
    MESSAGE,
    /** MAIL and its RCPTs in one write (PIPELINING, as MTAs send them), until the last reply. */
    PIPELINED,
    /** One RCPT, every other one to an unknown address: the rejection limits count each. */
    MIXED_RCPT,
    /** One RCPT to an unknown address: each one is the fleet's to count. */
    UNKNOWN_RCPT
  }

  /** One row: a kind of sample against one port, its samples gathered over the rounds. */
  private static final class Row {
    final String name;
    final int port;
    final Kind kind;
    final List<Long> nanos = new ArrayList<>();
    long wallNanos;
    int next;

    Row(String name, int port, Kind kind) {
      this.name = name;
      this.port = port;
      this.kind = kind;
    }

    /** Whether a sample is a message's worth of commands (fewer to a block than single RCPTs). */
    boolean perMessage() {
      return kind == Kind.MESSAGE || kind == Kind.PIPELINED;
    }

    /** One block of {@code samples} on a new connection (connect and EHLO not timed). */
    void block(int samples, boolean keep) throws Exception {
      try (RawSmtp client = new RawSmtp(port)) {
        client.expectCommand("EHLO bench.client.test", '2');
        long start = System.nanoTime();
        for (int i = 0; i < samples; i++) {
          long took =
              switch (kind) {
                case MESSAGE -> message(client);
                case PIPELINED -> pipelined(client);
                default -> rcpt(client, i);
              };
          if (keep) {
            nanos.add(took);
          }
        }
        if (keep) {
          wallNanos += System.nanoTime() - start;
        }
        client.command("QUIT");
      }
    }

    /** One RCPT, timed; the transaction's MAIL and RSET around it are not. */
    private long rcpt(RawSmtp client, int i) throws Exception {
      if (i % RCPTS_PER_TRANSACTION == 0) {
        if (i > 0) {
          client.expectCommand("RSET", '2');
        }
        client.expectCommand("MAIL FROM:<bench@client.test>", '2');
      }
      int n = next++;
      boolean unknown = kind == Kind.UNKNOWN_RCPT || kind == Kind.MIXED_RCPT && n % 2 == 1;
      String rcpt =
          "RCPT TO:<"
              + (unknown
                  ? PostfixBackend.unknown(n)
                  : PostfixBackend.known(n % PostfixBackend.MAILBOXES))
              + ">";
      long t = System.nanoTime();
      client.expectCommand(rcpt, unknown ? '5' : '2');
      return System.nanoTime() - t;
    }

    /**
     * MAIL and the RCPTs of a message in one write and their replies, timed; the RSET after not.
     */
    private long pipelined(RawSmtp client) throws Exception {
      List<String> group = new ArrayList<>();
      group.add("MAIL FROM:<bench@client.test>");
      for (int r = 0; r < RECIPIENTS_PER_MESSAGE; r++) {
        group.add("RCPT TO:<" + PostfixBackend.known(next++ % PostfixBackend.MAILBOXES) + ">");
      }
      long t = System.nanoTime();
      client.expectPipelined(group, '2');
      long took = System.nanoTime() - t;
      client.expectCommand("RSET", '2');
      return took;
    }

    /** MAIL, the RCPTs, DATA, the content and the final reply: all of it timed. */
    private long message(RawSmtp client) throws Exception {
      long t = System.nanoTime();
      client.expectCommand("MAIL FROM:<bench@client.test>", '2');
      for (int r = 0; r < RECIPIENTS_PER_MESSAGE; r++) {
        client.expectCommand(
            "RCPT TO:<" + PostfixBackend.known(next++ % PostfixBackend.MAILBOXES) + ">", '2');
      }
      client.expectCommand("DATA", '3');
      client.expectContent(CONTENT, '2');
      return System.nanoTime() - t;
    }

    Measurement measurement() {
      return new Measurement(
          name, nanos.stream().mapToLong(Long::longValue).toArray(), wallNanos, 1);
    }
  }

  public static void main(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    int rounds = quick ? 6 : 20;
    int rcptsPerBlock = 200;
    int messagesPerBlock = 25;
    System.out.printf(
        "rcptproxy gateway vs direct, %s, %d cores, %s, Java %s, %s; %d interleaved rounds of %d"
            + " RCPTs or %d messages (or pipelined groups) per row%n%n",
        Instant.now().truncatedTo(ChronoUnit.MINUTES),
        Runtime.getRuntime().availableProcessors(),
        Benchmarks.cpuModel(),
        System.getProperty("java.version"),
        System.getProperty("os.name") + " " + System.getProperty("os.version"),
        rounds,
        rcptsPerBlock,
        messagesPerBlock);
    Fleet.QUICK_JOIN.forEach(System::setProperty);
    try (PostfixBackend postfix = PostfixBackend.start(List.of());
        RunningGateway gateway = RunningGateway.start(settings(postfix.port()));
        RunningGateway local = RunningGateway.start(unlimited(postfix.port(), List.of()));
        Fleet fleet = Fleet.start(3, ports -> unlimited(postfix.port(), ports))) {
      String message =
          "message (MAIL, " + RECIPIENTS_PER_MESSAGE + " RCPT, DATA, 1 KiB, final reply)";
      String pipelined =
          "MAIL and " + RECIPIENTS_PER_MESSAGE + " RCPT pipelined, until the last reply";
      List<Row> rows =
          List.of(
              new Row("RCPT, straight to Postfix", postfix.port(), Kind.RCPT),
              new Row("RCPT, through the gateway", gateway.port(), Kind.RCPT),
              new Row(message + ", straight to Postfix", postfix.port(), Kind.MESSAGE),
              new Row(message + ", through the gateway", gateway.port(), Kind.MESSAGE),
              new Row(pipelined + ", straight to Postfix", postfix.port(), Kind.PIPELINED),
              new Row(pipelined + ", through the gateway", gateway.port(), Kind.PIPELINED),
              new Row(
                  "RCPT, half unknown, gateway with local limits", local.port(), Kind.MIXED_RCPT),
              new Row(
                  "RCPT, half unknown, gateway in a 3-member fleet (fleet limits; vs local)",
                  fleet.port(),
                  Kind.MIXED_RCPT),
              new Row(
                  "RCPT, all unknown, gateway with local limits", local.port(), Kind.UNKNOWN_RCPT),
              new Row(
                  "RCPT, all unknown, gateway in a 3-member fleet (fleet limits; vs local)",
                  fleet.port(),
                  Kind.UNKNOWN_RCPT),
              new Row("RCPT, gateway with local limits", local.port(), Kind.RCPT),
              new Row(
                  "RCPT, gateway in a 3-member fleet (fleet limits; vs local)",
                  fleet.port(),
                  Kind.RCPT));
      if (List.of(args).contains("--fleet-only")) {
        rows = rows.subList(6, rows.size()); // the fleet's pairs alone: 20 rounds in a minute
      }
      for (Row row : rows) {
        row.block(row.perMessage() ? messagesPerBlock : rcptsPerBlock, false); // warm-up
      }
      for (int round = 0; round < rounds; round++) {
        // Each round in the other order, so that neither side always follows the other.
        for (int r = 0; r < rows.size(); r++) {
          Row row = rows.get(round % 2 == 0 ? r : rows.size() - 1 - r);
          row.block(row.perMessage() ? messagesPerBlock : rcptsPerBlock, true);
        }
      }
      System.out.println("| scenario | ops/s | p50 µs | p99 µs | p99.9 µs | p50 vs direct |");
      System.out.println("|---|---|---|---|---|---|");
      for (int r = 0; r < rows.size(); r++) {
        Measurement direct = rows.get(r - r % 2).measurement();
        System.out.println(rows.get(r).measurement().row(direct));
      }
    }
    System.exit(0);
  }

  /**
   * As {@link #settings}, with a rejection limit no benchmark client reaches (the limits still
   * count every recipient), in a fleet with the members on {@code fleetPorts} (the first its own)
   * if any.
   */
  private static GatewaySettings unlimited(int postfixPort, List<Integer> fleetPorts) {
    GatewaySettings.Builder settings =
        GatewaySettings.builder()
            .listen(new HostPort("127.0.0.1", 0))
            .domains(List.of(PostfixBackend.DOMAIN))
            .verifier(verifier -> verifier.backend("127.0.0.1", postfixPort))
            .policy(
                policy ->
                    policy.bypass(List.of()).bypassBackend(false).disconnectAfterRejections(0))
            .maxRejectedPerClient(1_000_000_000);
    if (!fleetPorts.isEmpty()) {
      settings.cluster(
          new GatewaySettings.Cluster(
              Optional.of(new HostPort("127.0.0.1", fleetPorts.get(0))),
              fleetPorts.stream().skip(1).map(p -> new HostPort("127.0.0.1", p)).toList(),
              Optional.empty()));
    }
    return settings.build();
  }

  /** Gateways in one fleet; the first is measured, the others are members holding its data. */
  private static final class Fleet implements AutoCloseable {
    /** Hazelcast's defaults wait 5 s before a member joins. */
    static final Map<String, String> QUICK_JOIN = Map.of("hazelcast.wait.seconds.before.join", "0");

    private final List<RunningGateway> gateways = new ArrayList<>();

    static Fleet start(int members, Function<List<Integer>, GatewaySettings> settings)
        throws IOException {
      List<Integer> ports = new ArrayList<>();
      for (int i = 0; i < members; i++) {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
          ports.add(socket.getLocalPort());
        }
      }
      Fleet fleet = new Fleet();
      for (int i = 0; i < members; i++) {
        List<Integer> mine = new ArrayList<>(ports);
        Collections.swap(mine, 0, i);
        fleet.gateways.add(RunningGateway.start(settings.apply(mine)));
      }
      fleet.awaitSafe(members);
      return fleet;
    }

    /**
     * Until every member has joined and the partitions have migrated (within a minute): their
     * migration is the fleet's start, not the cost of its limits.
     */
    private void awaitSafe(int members) {
      var member = gateways.get(0).fleet().orElseThrow().member();
      long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
      while ((member.getCluster().getMembers().size() < members
              || !member.getPartitionService().isClusterSafe())
          && System.nanoTime() - until < 0) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
      }
    }

    int port() {
      return gateways.get(0).port();
    }

    @Override
    public void close() {
      gateways.forEach(RunningGateway::close);
    }
  }

  /** The gateway as `rcptproxy gateway` starts it, for Postfix's domain, verifying every client. */
  private static GatewaySettings settings(int postfixPort) {
    return GatewaySettings.builder()
        .listen(new HostPort("127.0.0.1", 0))
        .domains(List.of(PostfixBackend.DOMAIN))
        .verifier(verifier -> verifier.backend("127.0.0.1", postfixPort))
        .policy(policy -> policy.bypass(List.of()).bypassBackend(false))
        .build();
  }
}
