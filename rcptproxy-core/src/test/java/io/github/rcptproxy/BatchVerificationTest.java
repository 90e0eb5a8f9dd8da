package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.subethamail.wiser.Wiser;

/** verifyAll: many recipients of one message, pipelined within the backend's limits. */
class BatchVerificationTest {

  @Test
  void verdictsComeBackInOrderWithInvalidAddressesInPlace() {
    Wiser wiser =
        RecipientVerificationTest.startWiser(Set.of("alice@example.com", "bob@example.com"));
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", wiser.getServer().getPortAllocated())
                .build())) {
      List<Verdict> verdicts =
          verifier.verifyAll(
              List.of(
                  "alice@example.com",
                  "nobody@example.com",
                  "bad\r\naddress@example.com",
                  "bob@example.com"));

      assertThat(verdicts).hasSize(4);
      assertThat(verdicts.get(0)).isInstanceOf(Verdict.Accepted.class);
      assertThat(verdicts.get(1)).isInstanceOf(Verdict.Rejected.class);
      assertThat(verdicts.get(2))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.INVALID_ADDRESS));
      assertThat(verdicts.get(3)).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.stats().verifications()).isEqualTo(4);
    } finally {
      wiser.stop();
    }
  }

  @Test
  void pipelinesRecipientsIntoFewWrites() throws Exception {
    AtomicInteger rcpts = new AtomicInteger();
    CountDownLatch allEight = new CountDownLatch(8);
    try (ScriptedSmtpServer server =
            ScriptedSmtpServer.start(
                connection -> {
                  allEight.countDown();
                  // No session answers before all eight are open: the batch is spread over eight.
                  allEight.await(5, TimeUnit.SECONDS);
                  ScriptedSmtpServer.dialogue(
                          a -> {
                            rcpts.incrementAndGet();
                            return "250 2.1.5 Ok\r\n";
                          })
                      .play(connection);
                });
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .build())) {
      List<String> addresses = addresses(100);

      assertThat(verifier.verifyAll(addresses)).allMatch(v -> v instanceof Verdict.Accepted);

      // 100 accepted recipients: spread over the 8 sessions, at most one transaction each (a
      // session that finds the queue empty opens none).
      assertThat(server.connections()).isEqualTo(8);
      assertThat(verifier.stats().transactionsOpened()).isBetween(2L, 8L);
      assertThat(rcpts).hasValue(100);
    }
  }

  @Test
  void aLargeBatchIsSpreadOverSeveralSessionsAtOnce() throws Exception {
    CountDownLatch allEight = new CountDownLatch(8);
    List<Integer> rcptsPerConnection = new CopyOnWriteArrayList<>();
    try (ScriptedSmtpServer server =
            ScriptedSmtpServer.start(
                connection -> {
                  allEight.countDown();
                  // Each session answers only once eight are open: one session alone would wait.
                  allEight.await(5, TimeUnit.SECONDS);
                  int[] rcpts = {0};
                  ScriptedSmtpServer.dialogue(
                          address -> {
                            rcpts[0]++;
                            return "250 2.1.5 Ok\r\n";
                          })
                      .play(connection);
                  rcptsPerConnection.add(rcpts[0]);
                });
        RecipientVerifier verifier = rcptOnEightSessions(server.port(), Duration.ofSeconds(3))) {
      List<String> batch = addresses(64);

      List<Verdict> verdicts = verifier.verifyAll(batch);

      assertThat(verdicts).allMatch(v -> v instanceof Verdict.Accepted);
      // Eight sessions were open at once (none answered before all eight were) for one batch.
      assertThat(server.connections()).isEqualTo(8);
      verifier.close();
      await().atMost(Duration.ofSeconds(5)).until(() -> rcptsPerConnection.size() == 8);
      assertThat(rcptsPerConnection.stream().mapToInt(Integer::intValue).sum()).isEqualTo(64);
      // How the 64 split depends on which session answered first (each takes the next 8 free).
      assertThat(rcptsPerConnection.stream().filter(n -> n > 0).count()).isGreaterThan(1);
    }
  }

  @Test
  void aSlowSessionHoldsUpNoOtherQuestionsThanItsOwn() throws Exception {
    AtomicInteger connectionNumber = new AtomicInteger();
    AtomicInteger answeredElsewhere = new AtomicInteger();
    CountDownLatch othersDone = new CountDownLatch(1);
    List<Integer> slowSessionRcpts = new CopyOnWriteArrayList<>();
    try (ScriptedSmtpServer server =
            ScriptedSmtpServer.start(
                connection -> {
                  boolean slow = connectionNumber.incrementAndGet() == 1;
                  int[] rcpts = {0};
                  ScriptedSmtpServer.dialogue(
                          address -> {
                            rcpts[0]++;
                            if (slow) {
                              // answers only once the other sessions answered all the rest
                              othersDone.await(10, TimeUnit.SECONDS);
                            } else if (answeredElsewhere.incrementAndGet() == 92) {
                              othersDone.countDown();
                            }
                            return "250 2.1.5 Ok\r\n";
                          })
                      .play(connection);
                  if (slow) {
                    slowSessionRcpts.add(rcpts[0]);
                  }
                });
        RecipientVerifier verifier = rcptOnEightSessions(server.port(), Duration.ofSeconds(20))) {
      List<String> batch = addresses(100);

      List<Verdict> verdicts = verifier.verifyAll(batch);

      assertThat(verdicts).allMatch(v -> v instanceof Verdict.Accepted);
      verifier.close();
      await().atMost(Duration.ofSeconds(5)).until(() -> slowSessionRcpts.size() == 1);
      // One pipelined round (8, the rejection budget); the other sessions took the 92 left.
      assertThat(slowSessionRcpts).containsExactly(8);
    }
  }

  private static RecipientVerifier rcptOnEightSessions(int port, Duration deadline) {
    return RecipientVerifier.create(
        VerifierConfig.builder()
            .backend("127.0.0.1", port)
            .probeMethod(ProbeMethod.RCPT)
            .maxSessions(8)
            .deadline(deadline)
            .build());
  }

  private static List<String> addresses(int count) {
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      addresses.add("user" + i + "@example.com");
    }
    return addresses;
  }
}
