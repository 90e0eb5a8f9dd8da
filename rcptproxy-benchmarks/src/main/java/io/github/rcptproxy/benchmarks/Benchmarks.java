package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.subethasmtp.RecipientPolicy;
import io.github.rcptproxy.subethasmtp.RecipientVerifyingHandlerFactory;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.TestCertificates;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;

/**
 * Measures, side by side in one run and against the same backend, what a recipient check costs: a
 * raw socket client (the floor), the naive alternatives, rcptproxy alone and behind the SubEthaSMTP
 * adapter. Prints Markdown tables with ratios to the baseline of the same run.
 *
 * <p>{@code java -jar rcptproxy-benchmarks/target/benchmarks.jar [--quick] [--million] [--tls-only]
 * [--network-only]}; {@code --gateway} measures the gateway instead ({@link GatewayBenchmark}),
 * {@code --gateway-throughput} its RCPTs a second under 20 clients ({@link GatewayThroughput}),
 * {@code --cache-contention} the local verdict cache under 20 threads ({@link CacheContention}).
 */
public final class Benchmarks {
  private final int operations;

  private Benchmarks(int operations) {
    this.operations = operations;
  }

  /** An operation measured once per sample. */
  @FunctionalInterface
  interface Operation {
    void run(int i) throws Exception;
  }

  record Target(
      String name, int port, IntFunction<String> knownAddress, Runnable refillInflowTokens) {}

  public static void main(String[] args) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    List<String> options = List.of(args);
    if (options.contains("--postfix-front")) {
      PostfixFrontBenchmark.main(args);
      return;
    }
    if (options.contains("--cache-contention")) {
      CacheContention.main(args);
      return;
    }
    if (options.contains("--gateway-throughput")) {
      GatewayThroughput.main(args);
      return;
    }
    if (options.contains("--gateway")) {
      GatewayBenchmark.main(args);
      return;
    }
    Benchmarks benchmarks = new Benchmarks(options.contains("--quick") ? 1000 : 5000);
    System.out.printf(
        "rcptproxy benchmarks, %s, %d cores, %s, Java %s, %s%n%n",
        LocalDate.now(),
        Runtime.getRuntime().availableProcessors(),
        cpuModel(),
        System.getProperty("java.version"),
        System.getProperty("os.name") + " " + System.getProperty("os.version"));

    Wiser wiser =
        Wiser.accepter((from, to) -> true)
            .server(
                SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()).maxRecipients(-1));
    wiser.start();
    boolean tlsOnly = options.contains("--tls-only");
    boolean networkOnly = options.contains("--network-only");
    if (!tlsOnly && !networkOnly) {
      benchmarks.compare(
          new Target(
              "Wiser (in-process SubEthaSMTP, accepts all)",
              wiser.getServer().getPortAllocated(),
              i -> "user" + i + "@example.test",
              () -> {}));
      benchmarks.memory(wiser.getServer().getPortAllocated(), options.contains("--million"));
    }

    PostfixBackend postfix = null;
    try {
      postfix = PostfixBackend.shared();
    } catch (RuntimeException | Error e) {
      System.out.println("Postfix not measured: " + e.getMessage());
    }
    if (postfix != null) {
      PostfixBackend started = postfix;
      Target target =
          new Target(
              "Postfix 3.7 (real, default limits)",
              postfix.port(),
              i -> PostfixBackend.known(i % PostfixBackend.MAILBOXES),
              () -> {
                try {
                  started.deliverOneMessage();
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              });
      if (networkOnly) {
        benchmarks.acrossNetwork(target);
      } else if (!tlsOnly) {
        benchmarks.compare(target);
        benchmarks.acrossNetwork(target);
      }
      if (!networkOnly) {
        benchmarks.tls();
      }
    }
    wiser.stop();
    System.exit(0);
  }

  /**
   * STARTTLS against a Postfix that offers it ({@code may}): pooled verifications with and without
   * TLS, interleaved in blocks on the same backend, and the first verification of a new verifier
   * (connect, greeting, EHLO, with TLS the handshake and EHLO again, VRFY) with and without TLS.
   */
  private void tls() throws Exception {
    TestCertificates certificates = TestCertificates.shared();
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "smtpd_tls_security_level = may",
                "smtpd_tls_cert_file = " + certificates.serverCertificate(),
                "smtpd_tls_key_file = " + certificates.serverKey()))) {
      System.out.println(
          "### Postfix 3.7 with STARTTLS (`smtpd_tls_security_level = may`, ECDSA P-256)");
      System.out.println();
      System.out.println("| scenario | ops/s | p50 µs | p99 µs | p99.9 µs | p50 vs plain |");
      System.out.println("|---|---|---|---|---|---|");
      VerifierConfig plainConfig =
          VerifierConfig.builder().backend("127.0.0.1", postfix.port()).build();
      VerifierConfig tlsConfig = plainConfig.toBuilder().tls(BackendTls.REQUIRED).build();
      IntFunction<String> address = i -> PostfixBackend.known(i % PostfixBackend.MAILBOXES);
      try (RecipientVerifier plain = RecipientVerifier.create(plainConfig);
          RecipientVerifier tls = RecipientVerifier.create(tlsConfig)) {
        Operation plainVerify = i -> expectAccepted(plain.verify(address.apply(i)));
        Operation tlsVerify = i -> expectAccepted(tls.verify(address.apply(i)));
        measure("warm-up", operations, 1, plainVerify);
        measure("warm-up", operations, 1, tlsVerify);
        Measurement[] pair = interleaved(operations, plainVerify, tlsVerify, () -> {});
        Measurement plainRow =
            new Measurement(
                "rcptproxy verify(), pooled session, plain", pair[0].nanos, pair[0].wallNanos, 1);
        System.out.println(plainRow.row(plainRow));
        System.out.println(
            new Measurement(
                    "rcptproxy verify(), pooled session, STARTTLS (TLS 1.3)",
                    pair[1].nanos,
                    pair[1].wallNanos,
                    1)
                .row(plainRow));
      }
      int firsts = Math.max(50, operations / 50);
      Operation firstPlain =
          i -> {
            try (RecipientVerifier verifier = RecipientVerifier.create(plainConfig)) {
              expectAccepted(verifier.verify(address.apply(i)));
            }
          };
      Operation firstTls =
          i -> {
            try (RecipientVerifier verifier = RecipientVerifier.create(tlsConfig)) {
              expectAccepted(verifier.verify(address.apply(i)));
            }
          };
      measure("warm-up", 20, 1, firstPlain);
      measure("warm-up", 20, 1, firstTls);
      Measurement[] first = interleaved(firsts, firstPlain, firstTls, () -> {});
      Measurement firstPlainRow =
          new Measurement(
              "first verify() of a new verifier, plain (" + firsts + " times)",
              first[0].nanos,
              first[0].wallNanos,
              1);
      System.out.println(firstPlainRow.row(firstPlainRow));
      System.out.println(
          new Measurement(
                  "first verify() of a new verifier, STARTTLS handshake included",
                  first[1].nanos,
                  first[1].wallNanos,
                  1)
              .row(firstPlainRow));
      System.out.println();
    }
  }

  /**
   * Every row measured in alternating blocks with its own baseline (a raw client sending RCPT after
   * RCPT on one connection to the same backend, the same number of RCPTs per sample), so that drift
   * of the backend (a busy second core, a Postfix process being replaced) hits each row and its
   * baseline alike; the ratio of each row is to its own baseline.
   */
  private void compare(Target target) throws Exception {
    System.out.println("### " + target.name());
    System.out.println();
    System.out.println(
        "| scenario | ops/s | p50 µs | p99 µs | p99.9 µs | its baseline p50 µs | p50 vs its"
            + " baseline |");
    System.out.println("|---|---|---|---|---|---|---|");
    VerifierConfig config = VerifierConfig.builder().backend("127.0.0.1", target.port()).build();
    int[] inTransaction = {0};
    try (RawSmtp raw = new RawSmtp(target.port());
        RecipientVerifier verifier = RecipientVerifier.create(config);
        RecipientVerifier cached =
            RecipientVerifier.create(
                config.toBuilder()
                    .cache(Duration.ofHours(1), Duration.ofMinutes(5), 100_000)
                    .build())) {
      raw.expectCommand("EHLO bench.test", '2');
      raw.expectCommand("MAIL FROM:<bench@bench.test>", '2');
      Operation rcpt =
          i -> {
            if (++inTransaction[0] == 500) { // stay under smtpd_recipient_limit
              raw.expectCommand("RSET", '2');
              raw.expectCommand("MAIL FROM:<bench@bench.test>", '2');
              inTransaction[0] = 0;
            }
            raw.expectCommand("RCPT TO:<" + target.knownAddress().apply(i) + ">", '2');
          };
      Paired paired = new Paired(rcpt, target.refillInflowTokens());
      Operation verify = i -> expectAccepted(verifier.verify(target.knownAddress().apply(i)));
      measure("warm-up", operations, 1, rcpt);
      measure("warm-up", operations, 1, verify);

      Measurement[] single =
          paired.row("rcptproxy verify(), 1 caller", operations, 1, sequential(verify));
      // On Postfix each of these keeps an inflow-control token: past about 100, each waits 1 s.
      int connections = target.name().startsWith("Postfix") ? 120 : operations / 5;
      Measurement[] connection =
          paired.row(
              "connection per verification (connect, EHLO, MAIL, RCPT, QUIT), "
                  + connections
                  + " times",
              connections,
              1,
              sequential(
                  i -> {
                    try (RawSmtp fresh = new RawSmtp(target.port())) {
                      fresh.expectCommand("EHLO bench.test", '2');
                      fresh.expectCommand("MAIL FROM:<bench@bench.test>", '2');
                      fresh.expectCommand("RCPT TO:<" + target.knownAddress().apply(i) + ">", '2');
                      fresh.command("QUIT");
                    }
                  }));
      Operation hit = i -> expectAccepted(cached.verify(target.knownAddress().apply(i % 500)));
      measure("warm-up", operations, 1, hit);
      paired.row("rcptproxy verify(), verdict cache hit", operations, 1, sequential(hit));
      for (int callers : new int[] {4, 16, 64}) {
        paired.row(
            "rcptproxy verify(), " + callers + " callers (8 sessions)",
            operations,
            1,
            concurrent(callers, verify));
      }

      List<String> hundred = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        hundred.add(target.knownAddress().apply(i));
      }
      Operation batch = i -> verifier.verifyAll(hundred).forEach(Benchmarks::expectAccepted);
      Operation singles = i -> hundred.forEach(a -> expectAccepted(verifier.verify(a)));
      measure("warm-up", 20, 100, batch);
      Measurement[] batches =
          paired.row(
              "rcptproxy verifyAll(100 recipients), per 100",
              operations / 100,
              100,
              sequential(batch));
      Measurement[] sequentially =
          paired.row(
              "rcptproxy 100 × verify(), per 100", operations / 100, 100, sequential(singles));

      SMTPServer front =
          SMTPServer.port(0)
              .bindAddress(InetAddress.getLoopbackAddress())
              .maxRecipients(-1)
              .messageHandlerFactory(
                  RecipientVerifyingHandlerFactory.wrap(
                      context -> new DiscardingHandler(),
                      verifier,
                      RecipientPolicy.builder()
                          .bypass()
                          .bypassBackend(false)
                          .disconnectAfterRejections(0)
                          .build()))
              .build();
      front.start();
      Measurement[] adapter;
      try (RawSmtp client = new RawSmtp(front.getPortAllocated())) {
        client.expectCommand("EHLO bench.test", '2');
        client.expectCommand("MAIL FROM:<bench@bench.test>", '2');
        Operation through =
            i -> client.expectCommand("RCPT TO:<" + target.knownAddress().apply(i) + ">", '2');
        measure("warm-up", operations, 1, through);
        adapter =
            paired.row(
                "client → SubEthaSMTP + rcptproxy adapter → backend",
                operations,
                1,
                sequential(through));
      } finally {
        front.stop();
      }

      int cycles = target.name().startsWith("Postfix") ? 120 : operations;
      try (RawSmtp cycling = new RawSmtp(target.port())) {
        cycling.expectCommand("EHLO bench.test", '2');
        paired.row(
            "transaction per verification (MAIL, RCPT, RSET), " + cycles + " cycles",
            cycles,
            1,
            sequential(
                i -> {
                  cycling.expectCommand("MAIL FROM:<bench@bench.test>", '2');
                  cycling.expectCommand("RCPT TO:<" + target.knownAddress().apply(i) + ">", '2');
                  cycling.expectCommand("RSET", '2');
                }));
      }
      target.refillInflowTokens().run();
      System.out.printf(
          "%nrcptproxy p50 / its baseline p50: %.2f (target ≤ 1.3); connection per verification"
              + " p50 / rcptproxy p50: %.2f (target ≥ 3)%n",
          ratio(single), connection[0].percentileMicros(50) / single[0].percentileMicros(50));
      System.out.printf(
          "adapter path p50 / its baseline p50: %.2f (target < 1.6); 100 × verify() /"
              + " verifyAll(100): %.2f%n%n",
          ratio(adapter), sequentially[0].percentileMicros(50) / batches[0].percentileMicros(50));
    }
  }

  private static double ratio(Measurement[] rowAndBaseline) {
    return rowAndBaseline[0].percentileMicros(50) / rowAndBaseline[1].percentileMicros(50);
  }

  /** A block of samples {@code [from, to)} measured one way: each sample's nanoseconds. */
  @FunctionalInterface
  interface Block {
    long[] run(int from, int to) throws Exception;
  }

  static Block sequential(Operation operation) {
    return (from, to) -> {
      long[] nanos = new long[to - from];
      for (int i = from; i < to; i++) {
        long t = System.nanoTime();
        operation.run(i);
        nanos[i - from] = System.nanoTime() - t;
      }
      return nanos;
    };
  }

  static Block concurrent(int callers, Operation operation) {
    return (from, to) ->
        measureConcurrently("block", to - from, callers, i -> operation.run(from + i), false).nanos;
  }

  /** Rows measured each against its own baseline, in alternating blocks. */
  private static final class Paired {
    private final Operation baseline;
    private final Runnable betweenBlocks;

    Paired(Operation baseline, Runnable betweenBlocks) {
      this.baseline = baseline;
      this.betweenBlocks = betweenBlocks;
    }

    /** Measures, prints and returns the row and its baseline. */
    Measurement[] row(String name, int samples, int perSample, Block row) throws Exception {
      Block base =
          sequential(
              i -> {
                for (int k = 0; k < perSample; k++) {
                  baseline.run(i * perSample + k);
                }
              });
      int block = Math.max(1, Math.min(500, samples / 5));
      long[] rowNanos = new long[samples];
      long[] baseNanos = new long[samples];
      long rowWall = 0;
      long baseWall = 0;
      for (int from = 0; from < samples; from += block) {
        int to = Math.min(samples, from + block);
        betweenBlocks.run();
        long start = System.nanoTime();
        System.arraycopy(base.run(from, to), 0, baseNanos, from, to - from);
        baseWall += System.nanoTime() - start;
        start = System.nanoTime();
        System.arraycopy(row.run(from, to), 0, rowNanos, from, to - from);
        rowWall += System.nanoTime() - start;
      }
      Measurement measured = new Measurement(name, rowNanos, rowWall, perSample);
      Measurement own = new Measurement("its baseline", baseNanos, baseWall, perSample);
      System.out.println(measured.row(own, own.percentileMicros(50)));
      return new Measurement[] {measured, own};
    }
  }

  /** Samples of a batch of 100 across the 1 ms round trip (each of its singles takes ~0.13 s). */
  private static final int BATCH_SAMPLES = 50;

  /** The same comparisons across a 1 ms round trip: where saved round trips show. */
  private void acrossNetwork(Target target) throws Exception {
    try (LatencyProxy network = new LatencyProxy(target.port(), 500_000);
        RawSmtp raw = new RawSmtp(network.port());
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", network.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .build())) {
      System.out.println(
          "### " + target.name() + " behind a 1 ms round trip (0.5 ms each way, latency proxy)");
      System.out.println();
      System.out.println(
          "| scenario | ops/s | p50 µs | p99 µs | p99.9 µs | its baseline p50 µs | p50 vs its"
              + " baseline |");
      System.out.println("|---|---|---|---|---|---|---|");
      raw.expectCommand("EHLO bench.test", '2');
      raw.expectCommand("MAIL FROM:<bench@bench.test>", '2');
      int[] inTransaction = {0};
      Paired paired =
          new Paired(
              i -> {
                if (++inTransaction[0] == 500) {
                  raw.expectCommand("RSET", '2');
                  raw.expectCommand("MAIL FROM:<bench@bench.test>", '2');
                  inTransaction[0] = 0;
                }
                raw.expectCommand("RCPT TO:<" + target.knownAddress().apply(i) + ">", '2');
              },
              target.refillInflowTokens());
      int samples = operations / 10;
      Measurement[] connection =
          paired.row(
              "connection per verification, 50 times",
              50,
              1,
              sequential(
                  i -> {
                    try (RawSmtp fresh = new RawSmtp(network.port())) {
                      fresh.expectCommand("EHLO bench.test", '2');
                      fresh.expectCommand("MAIL FROM:<bench@bench.test>", '2');
                      fresh.expectCommand("RCPT TO:<" + target.knownAddress().apply(i) + ">", '2');
                      fresh.command("QUIT");
                    }
                  }));
      Measurement[] single =
          paired.row(
              "rcptproxy verify(), 1 caller",
              samples,
              1,
              sequential(i -> expectAccepted(verifier.verify(target.knownAddress().apply(i)))));
      List<String> hundred = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        hundred.add(target.knownAddress().apply(i));
      }
      Operation batchOf100 = i -> verifier.verifyAll(hundred).forEach(Benchmarks::expectAccepted);
      measure("warm-up", 5, 100, batchOf100); // opens the sessions a batch spreads over
      Measurement[] batch =
          paired.row(
              "rcptproxy verifyAll(100 recipients, RCPT probes), per 100",
              BATCH_SAMPLES,
              100,
              sequential(batchOf100));
      Measurement[] singles =
          paired.row(
              "rcptproxy 100 × verify() (RCPT probes), per 100",
              BATCH_SAMPLES,
              100,
              sequential(i -> hundred.forEach(a -> expectAccepted(verifier.verify(a)))));
      target.refillInflowTokens().run();
      System.out.printf(
          "%nconnection per verification p50 / rcptproxy p50: %.2f; 100 × verify() /"
              + " verifyAll(100): %.2f%n%n",
          connection[0].percentileMicros(50) / single[0].percentileMicros(50),
          singles[0].percentileMicros(50) / batch[0].percentileMicros(50));
    }
  }

  /**
   * Allocation per verification, and heap after many session cycles (and a million verifications).
   */
  private void memory(int port, boolean million) throws Exception {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    try (RecipientVerifier verifier =
        RecipientVerifier.create(VerifierConfig.builder().backend("127.0.0.1", port).build())) {
      for (int i = 0; i < 20_000; i++) {
        verifier.verify("user" + i + "@example.test");
      }
      String[] addresses = new String[10_000];
      for (int i = 0; i < addresses.length; i++) {
        addresses[i] = "user" + i + "@example.test";
      }
      long before = threads.getCurrentThreadAllocatedBytes();
      for (String address : addresses) {
        verifier.verify(address);
      }
      long perVerification = (threads.getCurrentThreadAllocatedBytes() - before) / addresses.length;
      System.out.printf(
          "Allocation: %,d bytes per verify() (Wiser, single thread, 10,000 calls)%n",
          perVerification);

      if (million) {
        long heapStart = usedHeapAfterGc();
        for (int i = 0; i < 1_000_000; i++) {
          verifier.verify(addresses[i % addresses.length]);
        }
        System.out.printf(
            "Heap after GC: %,d KiB before, %,d KiB after 1,000,000 verifications%n",
            heapStart / 1024, usedHeapAfterGc() / 1024);
      }
    }
    try (RecipientVerifier recycling =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", port)
                .maxRecipientsPerTransaction(1)
                .maxVrfyPerSession(1) // the first RSET ends a session: one every 2 verifications
                .build())) {
      long heapStart = usedHeapAfterGc();
      for (int i = 0; i < 10_000; i++) {
        recycling.verify("user" + i + "@example.test");
      }
      System.out.printf(
          "Heap after GC: %,d KiB before, %,d KiB after 10,000 verifications on sessions replaced every 2 (%,d opened)%n%n",
          heapStart / 1024, usedHeapAfterGc() / 1024, recycling.stats().sessionsOpened());
    }
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100); // a benchmark settling the heap, not a test waiting for an outcome
    }
    Runtime runtime = Runtime.getRuntime();
    return runtime.totalMemory() - runtime.freeMemory();
  }

  private static void expectAccepted(Verdict verdict) {
    if (!(verdict instanceof Verdict.Accepted)) {
      throw new IllegalStateException("expected Accepted, got " + verdict);
    }
  }

  private static Measurement measure(
      String name, int samples, int operationsPerSample, Operation operation) throws Exception {
    long[] nanos = new long[samples];
    long start = System.nanoTime();
    for (int i = 0; i < samples; i++) {
      long t = System.nanoTime();
      operation.run(i);
      nanos[i] = System.nanoTime() - t;
    }
    Measurement measurement =
        new Measurement(name, nanos, System.nanoTime() - start, operationsPerSample);
    if (!name.equals("warm-up")) {
      System.out.println(measurement.row(measurement).replaceFirst("\\| [0-9.]+× \\|$", "| |"));
    }
    return measurement;
  }

  /**
   * Two operations measured in alternating blocks of 500, with {@code betweenBlocks} run (untimed)
   * before each block; returns their two measurements.
   */
  private static Measurement[] interleaved(
      int samples, Operation first, Operation second, Runnable betweenBlocks) throws Exception {
    long[] a = new long[samples];
    long[] b = new long[samples];
    long wallA = 0;
    long wallB = 0;
    for (int block = 0; block < samples; block += 500) {
      int end = Math.min(samples, block + 500);
      betweenBlocks.run();
      long start = System.nanoTime();
      for (int i = block; i < end; i++) {
        long t = System.nanoTime();
        first.run(i);
        a[i] = System.nanoTime() - t;
      }
      wallA += System.nanoTime() - start;
      start = System.nanoTime();
      for (int i = block; i < end; i++) {
        long t = System.nanoTime();
        second.run(i);
        b[i] = System.nanoTime() - t;
      }
      wallB += System.nanoTime() - start;
    }
    return new Measurement[] {
      new Measurement("first", a, wallA, 1), new Measurement("second", b, wallB, 1)
    };
  }

  private static Measurement measureConcurrently(
      String name, int samples, int callers, Operation operation) throws Exception {
    return measureConcurrently(name, samples, callers, operation, true);
  }

  private static Measurement measureConcurrently(
      String name, int samples, int callers, Operation operation, boolean print) throws Exception {
    long[] nanos = new long[samples];
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    AtomicReference<Exception> failure = new AtomicReference<>();
    for (int c = 0; c < callers; c++) {
      int caller = c;
      Thread thread =
          new Thread(
              () -> {
                try {
                  go.await();
                  for (int i = caller; i < samples; i += callers) {
                    long t = System.nanoTime();
                    operation.run(i);
                    nanos[i] = System.nanoTime() - t;
                  }
                } catch (Exception e) {
                  failure.set(e);
                }
              });
      thread.start();
      threads.add(thread);
    }
    long start = System.nanoTime();
    go.countDown();
    for (Thread thread : threads) {
      thread.join();
    }
    long wall = System.nanoTime() - start;
    if (failure.get() != null) {
      throw failure.get();
    }
    Measurement measurement = new Measurement(name, nanos, wall, 1);
    if (print) {
      System.out.println(measurement.row(measurement).replaceFirst("\\| [0-9.]+× \\|$", "| |"));
    }
    return measurement;
  }

  static String cpuModel() {
    try {
      return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
          .filter(l -> l.startsWith("model name"))
          .findFirst()
          .map(l -> l.substring(l.indexOf(':') + 1).trim())
          .orElse("unknown CPU");
    } catch (Exception e) {
      return "unknown CPU";
    }
  }

  /** The front's own handler: takes nothing further (the benchmarks never send DATA). */
  static final class DiscardingHandler implements MessageHandler {
    @Override
    public void from(String from) {}

    @Override
    public void recipient(String recipient) {}

    @Override
    public String data(InputStream data) {
      return null;
    }

    @Override
    public void done() {}
  }
}
