package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Review: gathered single verifications on fake sessions (no sockets). */
class GatheringTest {
  private final FakeSessions sessions = new FakeSessions();
  private final ExecutorService batchThreads = Executors.newCachedThreadPool();
  private final ExecutorService callers = Executors.newCachedThreadPool();
  private SessionPool<FakeSessions.Session> pool;

  @AfterEach
  void stop() {
    batchThreads.shutdownNow();
    callers.shutdownNow();
    if (pool != null) {
      pool.close();
    }
  }

  /**
   * Sessions take 8 at a time; each use sleeps {@code sleepMillis(open)}, then answers each
   * question with its own local part (odd-numbered ones rejected).
   */
  private BatchRun<FakeSessions.Session> run(
      int maxSessions, java.util.function.ToLongFunction<List<Question>> sleepMillis) {
    return run(maxSessions, sleepMillis, true);
  }

  private BatchRun<FakeSessions.Session> run(
      int maxSessions,
      java.util.function.ToLongFunction<List<Question>> sleepMillis,
      boolean together) {
    BatchRun.Answerer<FakeSessions.Session> dialogue =
        new BatchRun.Answerer<>() {
          @Override
          public int roomFor(FakeSessions.Session session, Question first) {
            return 8;
          }

          @Override
          public boolean asksTogether(Question question) {
            return together;
          }

          @Override
          public void answer(
              FakeSessions.Session session,
              List<Question> open,
              VerdictSlots verdicts,
              Deadline deadline)
              throws IOException {
            long need = sleepMillis.applyAsLong(open);
            long left = deadline.remaining().toMillis();
            try {
              Thread.sleep(Math.min(need, left));
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            if (need > left) {
              throw new java.net.SocketTimeoutException("Read timed out"); // as a real session
            }
            for (Question q : open) {
              String local = q.mailbox().localPart();
              BackendReply reply = new BackendReply(250, "", local);
              int n = Integer.parseInt(local.replaceAll("[^0-9]", "0"));
              verdicts.settle(
                  q.index(),
                  n % 2 == 0
                      ? new Verdict.Accepted(reply, deadline.elapsed())
                      : new Verdict.Rejected(new BackendReply(550, "", local), deadline.elapsed()));
            }
            open.clear();
          }
        };
    FakeSessions.Run made = sessions.batchRun(maxSessions, 8, dialogue, batchThreads);
    pool = made.pool();
    return made.batchRun();
  }

  /**
   * A follower whose deadline began before its group's leader's (a caller that waited for a shared
   * cache lookup, or a question re-asked on the new backend after a reconfiguration) is answered
   * when the leader's group is: past its own deadline.
   */
  @Test
  void aFollowerReturnsWithinItsOwnDeadline() throws Exception {
    BatchRun<FakeSessions.Session> run =
        run(1, open -> open.get(0).mailbox().localPart().equals("a0") ? 1200 : 1200);
    Duration timeout = Duration.ofSeconds(2);
    Deadline followerDeadline = Deadline.after(timeout); // t = 0
    CompletableFuture<VerdictSlots> a =
        CompletableFuture.supplyAsync(
            () -> run.verify(List.of("a0@example.com"), Deadline.after(timeout)), callers);
    Thread.sleep(500);
    CompletableFuture<VerdictSlots> leader =
        CompletableFuture.supplyAsync(
            () -> run.verify(List.of("l0@example.com"), Deadline.after(timeout)), callers);
    Thread.sleep(100);
    long start = System.nanoTime();
    VerdictSlots follower = run.verify(List.of("f2@example.com"), followerDeadline);
    Duration late = followerDeadline.elapsed().minus(timeout);
    System.out.println(
        "follower: " + follower.get(0) + "; past its deadline by " + late.toMillis() + " ms");
    a.get(5, TimeUnit.SECONDS);
    leader.get(5, TimeUnit.SECONDS);
    assertThat(late).isLessThan(Duration.ofMillis(100));
  }

  /** Many callers at once: each gets its own address's verdict. */
  @Test
  void everyCallerGetsItsOwnVerdict() throws Exception {
    BatchRun<FakeSessions.Session> run = run(3, open -> 20);
    List<CompletableFuture<Boolean>> all = new ArrayList<>();
    for (int round = 0; round < 30; round++) {
      for (int i = 0; i < 20; i++) {
        int n = round * 100 + i;
        all.add(
            CompletableFuture.supplyAsync(
                () -> {
                  Verdict v =
                      run.verify(
                              List.of("u" + n + "@example.com"),
                              Deadline.after(Duration.ofSeconds(5)))
                          .get(0);
                  String text =
                      v instanceof Verdict.Accepted ac
                          ? ac.reply().text()
                          : v instanceof Verdict.Rejected rj ? rj.reply().text() : "?" + v;
                  boolean right =
                      text.equals("u" + n) && (n % 2 == 0) == (v instanceof Verdict.Accepted);
                  if (!right) {
                    System.out.println("WRONG u" + n + " -> " + v);
                  }
                  return right;
                },
                callers));
      }
    }
    for (CompletableFuture<Boolean> f : all) {
      assertThat(f.get(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  /**
   * A backend whose every RCPT takes 100 ms (a lookup, a policy service, a tarpit: a pipelined
   * batch's replies come one after the other): 40 callers at once, 8 sessions, a 2 s deadline.
   * Alone on 8 sessions they are all answered in about half a second; gathered, two groups ask at
   * once and most are answered BUSY.
   */
  @Test
  void aSlowBackendAnswersGatheredCallersNoWorseThanDirectOnes() throws Exception {
    int direct = unanswered(run(8, open -> 100L * open.size(), false));
    pool.close();
    int gathered = unanswered(run(8, open -> 100L * open.size(), true));
    System.out.println("unanswered of 40: direct " + direct + ", gathered " + gathered);
    assertThat(gathered).isLessThanOrEqualTo(direct);
  }

  private int unanswered(BatchRun<FakeSessions.Session> run) throws Exception {
    // One verification first: the backend's pace is known before the callers come (a cold burst
    // of callers is still gathered: see the report).
    run.verify(List.of("warm0@example.com"), Deadline.after(Duration.ofSeconds(2)));
    List<CompletableFuture<Verdict>> all = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      int n = i;
      all.add(
          CompletableFuture.supplyAsync(
              () ->
                  run.verify(
                          List.of("u" + n + "@example.com"), Deadline.after(Duration.ofSeconds(2)))
                      .get(0),
              callers));
    }
    int unanswered = 0;
    for (CompletableFuture<Verdict> f : all) {
      unanswered += f.get(10, TimeUnit.SECONDS) instanceof Verdict.Unverified ? 1 : 0;
    }
    return unanswered;
  }

  /**
   * A leader whose thread is interrupted while it waits for its group's turn (a gateway thread
   * stopped, a caller's executor shut down) answers its followers BUSY: another caller's
   * interruption costs them their verdicts, though the session is free long before their deadline.
   */
  @Test
  void aLeadersInterruptionIsNotItsFollowersBusyVerdict() throws Exception {
    BatchRun<FakeSessions.Session> run = run(1, open -> 400);
    Duration timeout = Duration.ofSeconds(3);
    CompletableFuture<VerdictSlots> a =
        CompletableFuture.supplyAsync(
            () -> run.verify(List.of("a0@example.com"), Deadline.after(timeout)), callers);
    Thread.sleep(100);
    Thread[] leaderThread = new Thread[1];
    CompletableFuture<VerdictSlots> leader =
        CompletableFuture.supplyAsync(
            () -> {
              leaderThread[0] = Thread.currentThread();
              return run.verify(List.of("l0@example.com"), Deadline.after(timeout));
            },
            callers);
    Thread.sleep(100);
    CompletableFuture<VerdictSlots> follower =
        CompletableFuture.supplyAsync(
            () -> run.verify(List.of("f2@example.com"), Deadline.after(timeout)), callers);
    Thread.sleep(100);
    leaderThread[0].interrupt();
    Verdict verdict = follower.get(5, TimeUnit.SECONDS).get(0);
    System.out.println("follower of an interrupted leader: " + verdict);
    a.get(5, TimeUnit.SECONDS);
    leader.get(5, TimeUnit.SECONDS);
    assertThat(verdict).isInstanceOf(Verdict.Accepted.class);
  }
}
