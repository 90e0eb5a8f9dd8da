package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The batch run on fake sessions and a fake dialogue: order, sharing a batch between sessions,
 * asking again after a failed session, giving up, and questions left for the next backend. No
 * sockets.
 */
class BatchRunTest {
  private static final BackendReply OK = new BackendReply(250, "2.1.5", "Ok");

  private final FakeSessions sessions = new FakeSessions();
  private final ExecutorService batchThreads = Executors.newCachedThreadPool();
  private SessionPool<FakeSessions.Session> pool;

  /** What the fake dialogue does on each use of a session, before it accepts every question. */
  private interface Use {
    void on(FakeSessions.Session session, List<Question> open) throws IOException;
  }

  /** The questions each use of a session was given, in order. */
  private final List<List<String>> uses = new ArrayList<>();

  @AfterEach
  void stop() {
    batchThreads.shutdownNow();
    if (pool != null) {
      pool.close();
    }
  }

  /**
   * A batch run whose sessions take {@code perSession} questions at a time and whose dialogue
   * accepts them all after {@code use}.
   */
  private BatchRun<FakeSessions.Session> run(int maxSessions, int perSession, Use use) {
    BatchRun.Answerer<FakeSessions.Session> dialogue =
        new BatchRun.Answerer<>() {
          @Override
          public int roomFor(FakeSessions.Session session, Question first) {
            return perSession;
          }

          @Override
          public void answer(
              FakeSessions.Session session,
              List<Question> open,
              VerdictSlots verdicts,
              Deadline deadline)
              throws IOException {
            synchronized (uses) {
              uses.add(open.stream().map(q -> q.mailbox().localPart()).toList());
            }
            try {
              use.on(session, open);
            } catch (IOException e) {
              session.wornOut = true; // as a backend session: its state is unknown now
              throw e;
            }
            for (Question question : open) {
              verdicts.settle(question.index(), new Verdict.Accepted(OK, deadline.elapsed()));
            }
            open.clear();
          }
        };
    FakeSessions.Run made = sessions.batchRun(maxSessions, perSession, dialogue, batchThreads);
    pool = made.pool();
    return made.batchRun();
  }

  private static List<String> addresses(int count) {
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      addresses.add("user" + i + "@example.com");
    }
    return addresses;
  }

  private static Deadline deadline() {
    return Deadline.after(Duration.ofSeconds(5));
  }

  private static void unverified(Verdict verdict, Verdict.Reason reason) {
    assertThat(verdict)
        .isInstanceOfSatisfying(
            Verdict.Unverified.class, u -> assertThat(u.reason()).isEqualTo(reason));
  }

  @Test
  void verdictsComeBackInOrderWithInvalidAddressesAnsweredWithoutASession() {
    BatchRun<FakeSessions.Session> run = run(1, 8, (session, open) -> {});

    VerdictSlots verdicts =
        run.verify(List.of("alice@example.com", "bad\r\naddress", "bob@example.com"), deadline());

    assertThat(verdicts.pending()).isEmpty();
    assertThat(verdicts.get(0)).isInstanceOf(Verdict.Accepted.class);
    unverified(verdicts.get(1), Verdict.Reason.INVALID_ADDRESS);
    assertThat(verdicts.get(2)).isInstanceOf(Verdict.Accepted.class);
    assertThat(uses).containsExactly(List.of("alice", "bob"));
  }

  @Test
  void onlyInvalidAddressesTakeNoSession() {
    BatchRun<FakeSessions.Session> run = run(1, 8, (session, open) -> {});

    VerdictSlots verdicts = run.verify(List.of("not an address"), deadline());

    unverified(verdicts.get(0), Verdict.Reason.INVALID_ADDRESS);
    assertThat(sessions.opened).isEmpty();
  }

  @Test
  void aBatchLargerThanASessionTakesIsAnsweredOnSeveralSessionsAtOnce() {
    CountDownLatch fourAtOnce = new CountDownLatch(4);
    Set<FakeSessions.Session> used = ConcurrentHashMap.newKeySet();
    BatchRun<FakeSessions.Session> run =
        run(
            4,
            2,
            (session, open) -> {
              used.add(session);
              fourAtOnce.countDown();
              try {
                // no session answers before four are answering: one thread alone would wait here
                fourAtOnce.await(5, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });

    VerdictSlots verdicts = run.verify(addresses(8), deadline());

    assertThat(verdicts.verdicts()).allMatch(v -> v instanceof Verdict.Accepted);
    assertThat(fourAtOnce.getCount()).isZero();
    assertThat(used).hasSize(4);
    assertThat(uses).allMatch(questions -> questions.size() == 2);
  }

  @Test
  void questionsOfASessionThatFailedAreAskedAgainOnAFreshOne() {
    AtomicInteger useCount = new AtomicInteger();
    BatchRun<FakeSessions.Session> run =
        run(
            1,
            8,
            (session, open) -> {
              if (useCount.incrementAndGet() == 1) {
                throw SessionFailure.closedByBackend();
              }
            });

    VerdictSlots verdicts = run.verify(addresses(3), deadline());

    assertThat(verdicts.verdicts()).allMatch(v -> v instanceof Verdict.Accepted);
    assertThat(uses)
        .containsExactly(List.of("user0", "user1", "user2"), List.of("user0", "user1", "user2"));
    assertThat(sessions.opened).hasSize(2);
  }

  @Test
  void afterTwoFreshSessionsFailedTooTheQuestionsGetTheFailure() {
    BatchRun<FakeSessions.Session> run =
        run(
            1,
            8,
            (session, open) -> {
              throw SessionFailure.closedByBackend();
            });

    VerdictSlots verdicts = run.verify(addresses(2), deadline());

    assertThat(uses).hasSize(1 + BatchRun.MAX_RETRIES);
    assertThat(verdicts.verdicts())
        .allSatisfy(v -> unverified(v, Verdict.Reason.BACKEND_UNAVAILABLE));
  }

  @Test
  void aTimeoutIsNotAskedAgain() {
    BatchRun<FakeSessions.Session> run =
        run(
            1,
            8,
            (session, open) -> {
              throw new SocketTimeoutException("Read timed out");
            });

    VerdictSlots verdicts = run.verify(addresses(1), deadline());

    assertThat(uses).hasSize(1);
    unverified(verdicts.get(0), Verdict.Reason.BACKEND_UNAVAILABLE);
  }

  @Test
  void aRefusedKnownGoodAddressIsAskedOnceMoreOnly() {
    BatchRun<FakeSessions.Session> run =
        run(
            1,
            8,
            (session, open) -> {
              throw new SessionFailure(
                  Verdict.Reason.BACKEND_REFUSED,
                  true,
                  "the backend refused the known-good address too",
                  new BackendReply(550, "", "Verification failed"));
            });

    VerdictSlots verdicts = run.verify(addresses(1), deadline());

    assertThat(uses).hasSize(2);
    unverified(verdicts.get(0), Verdict.Reason.BACKEND_REFUSED);
  }

  @Test
  void whenNoSessionCanBeOpenedEveryQuestionGetsTheFailure() {
    sessions.openFails = FakeSessions.connectionRefused();
    BatchRun<FakeSessions.Session> run = run(2, 1, (session, open) -> {});

    VerdictSlots verdicts = run.verify(addresses(4), deadline());

    assertThat(verdicts.verdicts())
        .allSatisfy(v -> unverified(v, Verdict.Reason.BACKEND_UNAVAILABLE));
    assertThat(uses).isEmpty();
  }

  @Test
  void withEverySessionTakenUntilTheDeadlineEveryQuestionIsBusy() throws Exception {
    BatchRun<FakeSessions.Session> run = run(1, 8, (session, open) -> {});
    pool.borrow(deadline()); // held elsewhere for longer than the batch's deadline

    VerdictSlots verdicts = run.verify(addresses(3), Deadline.after(Duration.ofMillis(200)));

    assertThat(verdicts.verdicts()).allSatisfy(v -> unverified(v, Verdict.Reason.BUSY));
  }

  @Test
  void questionsNotYetAnsweredWhenThePoolIsClosedStayPendingForTheNextBackend() {
    AtomicInteger useCount = new AtomicInteger();
    BatchRun<FakeSessions.Session> run =
        run(
            1,
            1,
            (session, open) -> {
              if (useCount.incrementAndGet() == 1) {
                pool.close(); // a reconfiguration, while the first question is being answered
              }
            });

    VerdictSlots verdicts = run.verify(addresses(3), deadline());

    assertThat(verdicts.get(0)).isInstanceOf(Verdict.Accepted.class);
    assertThat(verdicts.pending()).containsExactly(1, 2);
  }
}
