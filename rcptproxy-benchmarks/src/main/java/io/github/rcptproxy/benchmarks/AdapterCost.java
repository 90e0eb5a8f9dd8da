package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.subethasmtp.RecipientPolicy;
import io.github.rcptproxy.subethasmtp.RecipientVerifyingHandlerFactory;
import io.github.rcptproxy.testing.PostfixBackend;
import java.net.InetAddress;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import org.subethamail.smtp.MessageHandlerFactory;
import org.subethamail.smtp.server.SMTPServer;

/**
 * Where the time of a verified RCPT goes: four paths to the same backend, measured in rotating
 * blocks so that every row meets the same conditions (a busy second core, a Postfix process being
 * replaced), and the adapter's own cost derived from them:
 *
 * <ol>
 *   <li>a raw client to the backend (what the backend costs),
 *   <li>a raw client to a SubEthaSMTP front that accepts without verifying (what the front costs),
 *   <li>{@code verify()} on the library (what rcptproxy and the backend cost),
 *   <li>a raw client to the same front wrapped by the adapter, verifying against the backend.
 * </ol>
 *
 * <p>The adapter's own cost is row 4 minus rows 2 and 3 (p50): what wrapping adds beyond the front
 * and the verification it delegates to. {@code java -cp benchmarks.jar
 * io.github.rcptproxy.benchmarks.AdapterCost [--quick]}
 */
public final class AdapterCost {
  private static final int BLOCK = 200;

  private AdapterCost() {}

  public static void main(String[] args) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    int rounds = List.of(args).contains("--quick") ? 10 : 40;
    PostfixBackend postfix = PostfixBackend.shared();
    postfix.deliverOneMessage();
    System.out.printf(
        "adapter cost, %s, %d cores, Java %s; Postfix 3.7 backend, %d interleaved blocks of %d%n%n",
        LocalDate.now(),
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"),
        rounds,
        BLOCK);
    IntFunction<String> known = i -> PostfixBackend.known(i % PostfixBackend.MAILBOXES);

    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder().backend("127.0.0.1", postfix.port()).build())) {
      SMTPServer plainFront = front(context -> new Benchmarks.DiscardingHandler());
      SMTPServer verifyingFront =
          front(
              RecipientVerifyingHandlerFactory.wrap(
                  context -> new Benchmarks.DiscardingHandler(),
                  verifier,
                  RecipientPolicy.builder().bypass().bypassBackend(false).build()));
      try (Client backend = new Client(postfix.port());
          Client plain = new Client(plainFront.getPortAllocated());
          Client adapter = new Client(verifyingFront.getPortAllocated())) {
        List<Row> rows =
            List.of(
                new Row("client → backend (raw socket)", i -> backend.rcpt(known.apply(i))),
                new Row(
                    "client → SubEthaSMTP front, no verification", i -> plain.rcpt(known.apply(i))),
                new Row(
                    "verify() on the library → backend",
                    i -> {
                      if (!(verifier.verify(known.apply(i)) instanceof Verdict.Accepted)) {
                        throw new IllegalStateException("not accepted: " + known.apply(i));
                      }
                    }),
                new Row(
                    "client → SubEthaSMTP front + adapter → backend",
                    i -> adapter.rcpt(known.apply(i))));
        for (int round = -2; round < rounds; round++) { // two rounds of warm-up
          for (Row row : rows) {
            row.block(round * BLOCK, round >= 0);
          }
        }
        System.out.println("| path | p50 µs | p99 µs |");
        System.out.println("|---|---|---|");
        for (Row row : rows) {
          Measurement m = row.measurement();
          System.out.printf(
              "| %s | %.0f | %.0f |%n", row.name, m.percentileMicros(50), m.percentileMicros(99));
        }
        double own =
            rows.get(3).measurement().percentileMicros(50)
                - rows.get(1).measurement().percentileMicros(50)
                - rows.get(2).measurement().percentileMicros(50);
        System.out.printf(
            "%nadapter's own cost (p50 of row 4 − rows 2 and 3): %.0f µs%n", Math.max(0, own));
      } finally {
        plainFront.stop();
        verifyingFront.stop();
      }
    }
    System.exit(0);
  }

  private static SMTPServer front(MessageHandlerFactory factory) {
    SMTPServer server =
        SMTPServer.port(0)
            .bindAddress(InetAddress.getLoopbackAddress())
            .hostName("front.bench")
            .maxRecipients(-1)
            .messageHandlerFactory(factory)
            .build();
    server.start();
    return server;
  }

  /** One path, timed per RCPT, in blocks. */
  private static final class Row {
    final String name;
    final Benchmarks.Operation operation;
    final List<Long> nanos = new ArrayList<>();

    Row(String name, Benchmarks.Operation operation) {
      this.name = name;
      this.operation = operation;
    }

    void block(int first, boolean timed) throws Exception {
      for (int i = first; i < first + BLOCK; i++) {
        long t = System.nanoTime();
        operation.run(Math.floorMod(i, 1_000_000));
        if (timed) {
          nanos.add(System.nanoTime() - t);
        }
      }
    }

    Measurement measurement() {
      long[] all = nanos.stream().mapToLong(Long::longValue).toArray();
      return new Measurement(name, all, 1, 1);
    }
  }

  /** A raw SMTP client that keeps one transaction open and starts a new one now and then. */
  private static final class Client implements AutoCloseable {
    private final RawSmtp raw;
    private int inTransaction;

    Client(int port) throws Exception {
      raw = new RawSmtp(port);
      raw.expectCommand("EHLO bench.test", '2');
      raw.expectCommand("MAIL FROM:<bench@bench.test>", '2');
    }

    void rcpt(String address) throws Exception {
      if (++inTransaction == 500) { // stay under recipient limits
        raw.expectCommand("RSET", '2');
        raw.expectCommand("MAIL FROM:<bench@bench.test>", '2');
        inTransaction = 0;
      }
      raw.expectCommand("RCPT TO:<" + address + ">", '2');
    }

    @Override
    public void close() throws Exception {
      raw.close();
    }
  }
}
