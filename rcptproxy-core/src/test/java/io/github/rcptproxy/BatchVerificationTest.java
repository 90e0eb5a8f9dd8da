package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
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
    Wiser wiser = WiserVerificationTest.startWiser(Set.of("alice@example.com", "bob@example.com"));
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
  void batchesNeverCarryMoreRecipientsThanASessionMayStillHaveRejected() throws Exception {
    List<Integer> rcptsPerConnection = new CopyOnWriteArrayList<>();
    try (ScriptedSmtpServer server =
            ScriptedSmtpServer.start(
                connection -> {
                  int rcpts = 0;
                  connection.write("220 strict.test\r\n");
                  for (String line = connection.readLine();
                      line != null;
                      line = connection.readLine()) {
                    if (line.startsWith("EHLO")) {
                      connection.write("250-strict.test\r\n250 PIPELINING\r\n");
                    } else if (line.startsWith("RCPT")) {
                      rcpts++;
                      connection.write("550 5.1.1 unknown\r\n");
                    } else if (line.startsWith("QUIT")) {
                      break;
                    } else {
                      connection.write("250 Ok\r\n");
                    }
                  }
                  rcptsPerConnection.add(rcpts);
                });
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .maxRejectionsPerSession(3)
                    .build())) {
      List<String> addresses = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        addresses.add("nobody" + i + "@example.com");
      }

      assertThat(verifier.verifyAll(addresses)).allMatch(v -> v instanceof Verdict.Rejected);

      verifier.close(); // QUIT on the last, idle session
      // Spread over sessions at once, none of them past its limit of 3 rejections (which shares
      // meet on a returned session depends on scheduling: 3+3+2+2, 3+3+3+1...).
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> rcptsPerConnection.stream().mapToInt(Integer::intValue).sum() == 10);
      assertThat(rcptsPerConnection).allMatch(rcpts -> rcpts <= 3);
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
  void hundredRecipientsAgainstPostfixStayUnderItsErrorLimits() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    postfix.deliverOneMessage();
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder().backend("127.0.0.1", postfix.port()).build())) {
      List<String> addresses = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        addresses.add(i % 2 == 0 ? PostfixBackend.known(i) : PostfixBackend.unknown(i));
      }

      List<Verdict> verdicts = verifier.verifyAll(addresses);

      for (int i = 0; i < 100; i++) {
        assertThat(verdicts.get(i))
            .as(addresses.get(i))
            .isInstanceOf(i % 2 == 0 ? Verdict.Accepted.class : Verdict.Rejected.class);
      }
      // Postfix would delay every reply by a second past 10 errors in a session.
      assertThat(verdicts.get(99).latency().toMillis()).isLessThan(900);
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

  /**
   * A backend whose eighth RCPT is answered only once the test let it: the batch of 16 holds the
   * only session (maxSessions 1) with the second round of 8 not yet put.
   */
  private static ScriptedSmtpServer holdingTheEighthRcpt(
      CountDownLatch eighthAsked, CountDownLatch release) {
    AtomicInteger rcpts = new AtomicInteger();
    return ScriptedSmtpServer.start(
        ScriptedSmtpServer.dialogue(
            address -> {
              if (rcpts.incrementAndGet() == 8) {
                eighthAsked.countDown();
                release.await(5, TimeUnit.SECONDS);
              }
              return "250 2.1.5 Ok\r\n";
            }));
  }

  private static RecipientVerifier oneSession(ScriptedSmtpServer server) {
    return RecipientVerifier.create(
        VerifierConfig.builder()
            .backend("127.0.0.1", server.port())
            .probeMethod(ProbeMethod.RCPT)
            .maxSessions(1)
            .deadline(Duration.ofSeconds(5))
            .build());
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

  @Test
  void questionsNotYetPutWhenReconfiguredAreAnsweredByTheNewBackend() throws Exception {
    CountDownLatch eighthAsked = new CountDownLatch(1);
    CountDownLatch reconfigured = new CountDownLatch(1);
    try (ScriptedSmtpServer server = holdingTheEighthRcpt(eighthAsked, reconfigured);
        RecipientVerifier verifier = oneSession(server)) {
      CompletableFuture<List<Verdict>> verdicts = verifier.verifyAllAsync(addresses(16));
      assertThat(eighthAsked.await(5, TimeUnit.SECONDS)).isTrue();

      verifier.reconfigure(verifier.config().toBuilder().heloName("changed.test").build());
      reconfigured.countDown();

      assertThat(verdicts.get(10, TimeUnit.SECONDS)).allMatch(v -> v instanceof Verdict.Accepted);
      assertThat(server.received()).contains("EHLO changed.test");
    }
  }

  @Test
  void closingUnderABatchEndsItWithVerdictsNotAnException() throws Exception {
    CountDownLatch eighthAsked = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    try (ScriptedSmtpServer server = holdingTheEighthRcpt(eighthAsked, closed);
        RecipientVerifier verifier = oneSession(server)) {
      CompletableFuture<List<Verdict>> verdicts = verifier.verifyAllAsync(addresses(16));
      assertThat(eighthAsked.await(5, TimeUnit.SECONDS)).isTrue();

      verifier.close();
      closed.countDown();

      List<Verdict> answered = verdicts.get(10, TimeUnit.SECONDS);
      assertThat(answered.subList(0, 8)).allMatch(v -> v instanceof Verdict.Accepted);
      assertThat(answered.subList(8, 16))
          .allSatisfy(
              v ->
                  assertThat(v)
                      .isInstanceOfSatisfying(
                          Verdict.Unverified.class,
                          u ->
                              assertThat(u.reason())
                                  .isEqualTo(Verdict.Reason.BACKEND_UNAVAILABLE)));
    }
  }
}
