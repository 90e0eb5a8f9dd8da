package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies a batch of addresses within one deadline on sessions of one pool. A batch larger than
 * one session takes at a time is answered on several sessions at once: the caller's thread and
 * batch threads each take the next questions from one {@link QuestionQueue} as their session can
 * take them, so a session that answers early takes more and a slow one holds up no other; their
 * verdicts are merged in order at the end. A session that fails under its questions is replaced and
 * they are asked again on a fresh one, at most {@value #MAX_RETRIES} times, within the deadline.
 *
 * <p>A single address that goes by RCPT is asked in a {@link Gathering} group with other callers'
 * single addresses: the group's leader answers them all as one batch, on its own thread.
 *
 * @param <S> the sessions: {@link BackendSession}, or a test's fake
 */
final class BatchRun<S> {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  /** Fresh sessions a verification may take after the first one failed under it. */
  static final int MAX_RETRIES = 2;

  /**
   * A full group asked at the backend's recent pace per question must take at most this fraction of
   * the deadline for single verifications to be gathered; else each asks on a session of its own,
   * at once (GatheredSlowBackendTest: a Postfix taking a second per RCPT).
   */
  private static final int GROUP_SHARE_OF_DEADLINE = 4;

  /** How long past its deadline a batch waits for a share on another thread (it never should). */
  private static final long JOIN_MARGIN_MILLIS = 1000;

  /** What answers questions on a session: the dialogue with the backend. */
  interface Answerer<S> {
    /** How many questions one exchange on the session takes, the first of them {@code first}. */
    int roomFor(S session, Question first);

    /**
     * Whether a single address may be asked together with other callers' ({@link Gathering}): where
     * it goes by RCPT anyway, so that gathering adds no transaction the backend would not see.
     */
    default boolean asksTogether(Question question) {
      return true;
    }

    /**
     * Answers what it can of the open questions on the session, removing the answered ones.
     *
     * @throws IOException if the session failed under the questions; those not answered stay open
     */
    void answer(S session, List<Question> open, VerdictSlots verdicts, Deadline deadline)
        throws IOException;

    /**
     * After the session went back to the pool: settles what waited for other verifications' use of
     * it, within the deadline; what it does not settle stays open, to be asked on another session.
     */
    default void afterRelease(List<Question> open, VerdictSlots verdicts, Deadline deadline) {}
  }

  private final int maxSessions;
  private final SessionLimits limits;
  private final SessionPool<S> pool;
  private final Answerer<S> answerer;
  private final FailureVerdicts failures;
  private final ExecutorService batchThreads;
  private final Gathering gathering;

  /**
   * How long a session's use took per question answered, lately (a moving average, nanoseconds; 0
   * before the first, and nothing is gathered until then): a backend that answers each RCPT slowly
   * (a lookup, a policy service, a tarpit) answers a pipelined group's one after the other, so a
   * group of {@link Gathering#maxGroup} would take longer than callers asking on sessions of their
   * own at once.
   */
  private volatile long nanosPerQuestion;

  BatchRun(
      int maxSessions,
      SessionLimits limits,
      SessionPool<S> pool,
      Answerer<S> answerer,
      FailureVerdicts failures,
      ExecutorService batchThreads) {
    this.maxSessions = maxSessions;
    this.limits = limits;
    this.pool = pool;
    this.answerer = answerer;
    this.failures = failures;
    this.batchThreads = batchThreads;
    this.gathering = new Gathering(limits.maxRejections(), maxSessions);
  }

  /**
   * The verdicts of the addresses, in order; a slot stays pending where its question was still
   * unanswered when the pool was closed by a reconfiguration (never put, or to be asked again after
   * its session failed).
   */
  VerdictSlots verify(List<String> addresses, Deadline deadline) {
    VerdictSlots verdicts = new VerdictSlots(addresses.size());
    List<Question> questions = questions(addresses, verdicts, deadline);
    if (questions.isEmpty()) {
      return verdicts;
    }
    if (addresses.size() == 1
        && answerer.asksTogether(questions.get(0))
        && nanosPerQuestion > 0 // the backend's pace known: a cold burst may meet a tarpit
        && nanosPerQuestion * gathering.maxGroup()
            <= deadline.remaining().toNanos() / GROUP_SHARE_OF_DEADLINE) {
      return gathered(questions.get(0).mailbox(), deadline);
    }
    QuestionQueue queue = new QuestionQueue(questions);
    List<Future<VerdictSlots>> helpers =
        helpers(queue, verdicts.size(), deadline, sessionsFor(questions.size()) - 1);
    new Share(queue, verdicts, deadline).answer();
    boolean helperLost = false;
    for (Future<VerdictSlots> helper : helpers) {
      Optional<VerdictSlots> answered = join(helper, deadline);
      answered.ifPresent(verdicts::takeAnswered);
      helperLost |= answered.isEmpty();
    }
    queue.settleLeft(verdicts);
    if (helperLost) {
      verdicts.settlePending(FailureVerdicts.timeout(deadline));
    }
    return verdicts;
  }

  /**
   * One address's verdict, asked in a {@link Gathering} group: by this thread where it leads the
   * group, else by the leader, whose deadline started first (a slot it leaves pending was left for
   * the next configuration's backend).
   */
  private VerdictSlots gathered(Mailbox mailbox, Deadline deadline) {
    Gathering.Seat seat = gathering.join(mailbox, deadline);
    Optional<VerdictSlots> group =
        seat.leads()
            ? Optional.of(lead(seat.group(), deadline))
            : seat.group().await(deadline.remaining().plusMillis(JOIN_MARGIN_MILLIS));
    VerdictSlots verdicts = new VerdictSlots(1);
    if (group.isEmpty()) {
      LOG.warn("a gathered verification's leader did not finish with its deadline");
      verdicts.settle(0, FailureVerdicts.timeout(deadline));
    } else if (!group.get().isPending(seat.index())) {
      verdicts.settle(0, Gathering.timedFor(group.get().get(seat.index()), seat));
    }
    return verdicts;
  }

  /**
   * Answers a group's questions in its turn, on one session after the other (its followers then
   * take theirs); BUSY where the turn did not come until the deadline was nearly spent, as for a
   * session that does not.
   */
  private VerdictSlots lead(Gathering.Group group, Deadline deadline) {
    VerdictSlots verdicts = new VerdictSlots(gathering.maxGroup());
    boolean turn = gathering.startAsking(group, deadline);
    try {
      if (turn && !deadline.nearlySpent()) {
        new Share(group.queue(), verdicts, deadline).answer();
      } else {
        group
            .queue()
            .gaveUp(
                FailureVerdicts.unverified(
                    Verdict.Reason.BUSY,
                    "no turn to ask the backend within the deadline",
                    deadline));
      }
      group.queue().settleLeft(verdicts);
    } finally {
      if (turn) {
        gathering.doneAsking();
      }
      group.answered(verdicts);
    }
    return verdicts;
  }

  /** A use of a session answered {@code answered} questions in {@code nanos}. */
  private void paced(long nanos, int answered) {
    if (answered > 0) {
      long sample = nanos / answered;
      long before = nanosPerQuestion;
      nanosPerQuestion = before == 0 ? sample : (before * 3 + sample) / 4; // a lost update is fine
    }
  }

  /** The pool was closed: leaders waiting for their turn stop waiting. */
  void close() {
    gathering.close();
  }

  /** The valid addresses as questions; an invalid one is answered at once. */
  private static List<Question> questions(
      List<String> addresses, VerdictSlots verdicts, Deadline deadline) {
    List<Question> questions = new ArrayList<>(addresses.size());
    for (int i = 0; i < addresses.size(); i++) {
      try {
        questions.add(Question.of(i, Mailbox.parse(addresses.get(i))));
      } catch (InvalidAddressException e) {
        verdicts.settle(
            i,
            FailureVerdicts.unverified(Verdict.Reason.INVALID_ADDRESS, e.getMessage(), deadline));
      }
    }
    return questions;
  }

  /**
   * How many sessions a batch is answered on at once: as many as it needs (a session takes {@code
   * maxRejectionsPerSession} at a time), at most {@code maxSessions}.
   */
  private int sessionsFor(int questions) {
    int perSession = Math.max(1, limits.maxRejections());
    return Math.min(maxSessions, (questions + perSession - 1) / perSession);
  }

  /** Up to {@code count} batch threads answering from the queue, as many as are free. */
  private List<Future<VerdictSlots>> helpers(
      QuestionQueue queue, int size, Deadline deadline, int count) {
    List<Future<VerdictSlots>> helpers = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      try {
        helpers.add(
            batchThreads.submit(() -> new Share(queue, new VerdictSlots(size), deadline).answer()));
      } catch (RejectedExecutionException e) {
        break; // every batch thread busy: fewer sessions answer this batch
      }
    }
    return helpers;
  }

  /** A helper's verdicts, once it finished (its every wait is bounded by the deadline). */
  private static Optional<VerdictSlots> join(Future<VerdictSlots> helper, Deadline deadline) {
    try {
      return Optional.of(
          helper.get(deadline.remaining().toMillis() + JOIN_MARGIN_MILLIS, TimeUnit.MILLISECONDS));
    } catch (TimeoutException | ExecutionException e) {
      LOG.warn("part of a batch did not finish with its deadline", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return Optional.empty();
  }

  /** What borrowing a session came to. */
  private sealed interface Borrowed<S> {}

  private record Lent<S>(S session) implements Borrowed<S> {}

  /** No session: the deadline passed, every place stayed taken, or none could be opened. */
  private record GaveUp<S>(Verdict verdict) implements Borrowed<S> {}

  /** The pool was closed by a reconfiguration. */
  private record PoolClosed<S>() implements Borrowed<S> {}

  private Borrowed<S> borrow(Deadline deadline) {
    if (deadline.expired()) {
      return new GaveUp<>(FailureVerdicts.timeout(deadline));
    }
    try {
      return new Lent<>(pool.borrow(deadline));
    } catch (NoSuchElementException e) {
      return new GaveUp<>(
          FailureVerdicts.unverified(
              Verdict.Reason.BUSY, "no backend session free within the deadline", deadline));
    } catch (IllegalStateException e) {
      return new PoolClosed<>();
    } catch (Exception e) {
      return new GaveUp<>(failures.of(e, deadline));
    }
  }

  /**
   * One thread's share of the batch: it answers questions from the queue on as many sessions in
   * turn as it takes, within the deadline, until the queue is empty. The questions it took stay
   * pending only if the pool was closed before they were answered.
   */
  private final class Share {
    private final QuestionQueue queue;
    private final VerdictSlots verdicts;
    private final Deadline deadline;

    /** The questions this thread took and has not answered yet. */
    private final List<Question> open = new ArrayList<>();

    private int retries;
    private boolean refusedKnownGood;

    Share(QuestionQueue queue, VerdictSlots verdicts, Deadline deadline) {
      this.queue = queue;
      this.verdicts = verdicts;
      this.deadline = deadline;
    }

    VerdictSlots answer() {
      while (!open.isEmpty() || !queue.isEmpty()) {
        Borrowed<S> borrowed = borrow(deadline);
        if (borrowed instanceof GaveUp<S> gaveUp) {
          giveUp(gaveUp.verdict());
          break;
        }
        if (!(borrowed instanceof Lent<S> lent) || !answerOn(lent.session())) {
          break; // reconfigured: what this thread has not answered goes to the new backend
        }
        answerer.afterRelease(open, verdicts, deadline);
      }
      return verdicts;
    }

    /** One use of the session; false once this thread gave up. */
    private boolean answerOn(S session) {
      try {
        if (open.isEmpty()) {
          queue.take(open, question -> answerer.roomFor(session, question));
          retries = 0;
          refusedKnownGood = false;
        }
        int asked = open.size();
        long started = System.nanoTime();
        answerer.answer(session, open, verdicts, deadline);
        paced(System.nanoTime() - started, asked - open.size());
        return true;
      } catch (IOException e) {
        if (askAgain(e)) {
          LOG.debug("{} failed ({}); asking again on a fresh session", session, e.getMessage());
          if (!(e instanceof SessionFailure failure && failure.reply().isPresent())) {
            pool.discardIdle(); // the connection died: its idle siblings likely did too
          }
          return true;
        }
        giveUp(failures.of(e, deadline));
        return false;
      } finally {
        pool.release(session);
      }
    }

    /**
     * Whether to ask again on a fresh session, within the deadline: after a session that died or
     * ended under us, up to {@value #MAX_RETRIES} times; after a refused known-good address, once
     * (a second refusal on a fresh session is the backend's standing answer).
     */
    private boolean askAgain(IOException e) {
      boolean refused =
          e instanceof SessionFailure failure && failure.reason() == Verdict.Reason.BACKEND_REFUSED;
      boolean retryable =
          e instanceof SessionFailure failure
              ? failure.retryable()
              : !(e instanceof SocketTimeoutException);
      if (retries++ >= MAX_RETRIES
          || refused && refusedKnownGood
          || !retryable
          || deadline.expired()) {
        return false;
      }
      refusedKnownGood |= refused;
      return true;
    }

    /** Answers the open questions, and those no other thread takes, with the verdict. */
    private void giveUp(Verdict verdict) {
      for (Question question : open) {
        verdicts.settle(question.index(), verdict);
      }
      open.clear();
      queue.gaveUp(verdict);
    }
  }
}
