package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.VerifierStats;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * 50 concurrent clients × 200 recipients through the gateway into the real Postfix, half of them
 * unknown: every verdict right, no timeouts, never more backend sessions than the pool allows, and
 * every accepted message delivered exactly once. Prints throughput and latency (not asserted: speed
 * belongs to the benchmarks).
 *
 * <p>The gateway probes with VRFY, the configuration to use in front of Postfix: with RCPT probes
 * each replaced session that had a valid recipient keeps one of Postfix's inflow-control tokens,
 * and at this rate (about 600 sessions) every new probe transaction soon waits a second for its
 * first valid RCPT, which pushes a few verifications past the deadline (measured: 2 of 10,000
 * answered TIMEOUT, 43 s instead of a few).
 */
@RealServers
class GatewayLoadTest {
  private static final int CLIENTS = 50;
  private static final int RECIPIENTS = 200;
  private static final int MAX_SESSIONS = 8;

  @Test
  void fiftyClientsTimesTwoHundredRecipientsAgainstPostfix() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    postfix.deliverOneMessage();
    String run = Long.toHexString(System.nanoTime());
    try (RunningGateway gateway =
        TestGateway.start(
            postfix.port(),
            PostfixBackend.DOMAIN,
            TestGateway.noDisconnect()
                .andThen(
                    s ->
                        s.maxRecipients(RECIPIENTS)
                            .maxConnections(CLIENTS * 2)
                            // all clients come from 127.0.0.1, half their recipients are unknown:
                            // no edge limits
                            .maxConnectionsPerClient(CLIENTS)
                            .maxRejectedPerClient(CLIENTS * RECIPIENTS)
                            .verifier(
                                v -> v.maxSessions(MAX_SESSIONS).probeMethod(ProbeMethod.VRFY))))) {
      AtomicInteger mostSessions = new AtomicInteger();
      ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
      sampler.scheduleAtFixedRate(
          () -> {
            VerifierStats stats = gateway.verifier().stats();
            mostSessions.accumulateAndGet(
                (int) (stats.sessionsOpened() - stats.sessionsClosed()), Math::max);
          },
          0,
          5,
          TimeUnit.MILLISECONDS);
      List<Long> rcptMicros = Collections.synchronizedList(new ArrayList<>());
      List<String> wrongReplies = Collections.synchronizedList(new ArrayList<>());
      ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
      long start = System.nanoTime();
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int client = c;
        done.add(
            clients.submit(
                () -> {
                  sendOneMessage(gateway.port(), run, client, rcptMicros, wrongReplies);
                  return null;
                }));
      }
      for (Future<?> future : done) {
        future.get(5, TimeUnit.MINUTES);
      }
      Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
      sampler.shutdownNow();
      clients.shutdown();

      VerifierStats stats = gateway.verifier().stats();
      System.out.println("LOAD stats " + stats);
      assertThat(wrongReplies).isEmpty();
      assertThat(stats.accepted()).isEqualTo(CLIENTS * RECIPIENTS / 2);
      assertThat(stats.rejected()).isEqualTo(CLIENTS * RECIPIENTS / 2);
      assertThat(stats.unverified().values())
          .allMatch(count -> count == 0, "no timeouts, no busy pool");
      assertThat(mostSessions.get()).isLessThanOrEqualTo(MAX_SESSIONS);

      List<Long> sorted = new ArrayList<>(rcptMicros);
      Collections.sort(sorted);
      System.out.printf(
          "LOAD %d clients x %d RCPT (50%% unknown) through the gateway into Postfix: %.1f s, %.0f RCPT/s,"
              + " RCPT latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d backend sessions (at most %d at once),"
              + " %d probe transactions (VRFY)%n",
          CLIENTS,
          RECIPIENTS,
          elapsed.toMillis() / 1000.0,
          CLIENTS * RECIPIENTS / (elapsed.toMillis() / 1000.0),
          sorted.get(sorted.size() / 2) / 1000.0,
          sorted.get(sorted.size() * 99 / 100) / 1000.0,
          sorted.get(sorted.size() - 1) / 1000.0,
          stats.sessionsOpened(),
          mostSessions.get(),
          stats.transactionsOpened());
    }
    // Exactly once: Postfix queued each client's message once, with its 100 valid recipients.
    await().atMost(Duration.ofSeconds(30)).until(() -> countQueued(postfix.log(), run) == CLIENTS);
    for (int c = 0; c < CLIENTS; c++) {
      Matcher queued =
          Pattern.compile(
                  "from=<load-" + run + "-" + c + "@client\\.test>, size=\\d+, nrcpt=(\\d+)")
              .matcher(postfix.log());
      assertThat(queued.find()).isTrue();
      assertThat(queued.group(1)).isEqualTo(String.valueOf(RECIPIENTS / 2));
      assertThat(queued.find()).as("message of client %d queued twice", c).isFalse();
    }
  }

  private static long countQueued(String log, String run) {
    return Pattern.compile("from=<load-" + run + "-\\d+@client\\.test>, size=")
        .matcher(log)
        .results()
        .count();
  }

  private static void sendOneMessage(
      int port, String run, int client, List<Long> rcptMicros, List<String> wrongReplies)
      throws Exception {
    try (SmtpClient smtp = new SmtpClient("127.0.0.1", port)) {
      smtp.readReply();
      smtp.send("EHLO client" + client + ".test");
      assertThat(smtp.send("MAIL FROM:<load-" + run + "-" + client + "@client.test>"))
          .startsWith("250");
      for (int i = 0; i < RECIPIENTS; i++) {
        boolean known = i % 2 == 0;
        String address =
            known
                ? PostfixBackend.known((client * RECIPIENTS / 2 + i / 2) % PostfixBackend.MAILBOXES)
                : PostfixBackend.unknown(client * RECIPIENTS + i);
        long start = System.nanoTime();
        String reply = smtp.send("RCPT TO:<" + address + ">");
        rcptMicros.add((System.nanoTime() - start) / 1000);
        if (!reply.startsWith(known ? "250" : "550 5.1.1")) {
          wrongReplies.add(address + " -> " + reply);
        }
      }
      assertThat(smtp.send("DATA")).startsWith("354");
      assertThat(
              smtp.send(
                  "Subject: load " + client + "\r\n\r\nhello from client " + client + "\r\n."))
          .startsWith("250");
      smtp.send("QUIT");
    }
  }
}
