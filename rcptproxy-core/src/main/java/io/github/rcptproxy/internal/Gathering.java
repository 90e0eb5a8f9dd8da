package io.github.rcptproxy.internal;

import io.github.rcptproxy.Verdict;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Single-address verifications that go by RCPT, gathered into groups, so that one session answers
 * several callers in one pipelined RCPT exchange, where each would otherwise wait for a session of
 * its own and cost the backend an exchange of its own. The first caller to come leads a group;
 * whoever comes while the leader waits for its turn to ask joins the group instead of waiting
 * alone, until the leader's turn comes. At most {@value #ASKING_AT_ONCE} groups ask at once: more,
 * and groups stay small (a session and an exchange each); one, and the backend idles while the
 * verifier reads and answers (measured in docs/performance.md, 20 clients at once).
 */
final class Gathering {
  static final int ASKING_AT_ONCE = 2;

  private static final int WAKE_ALL = 1_000_000;

  /**
   * How much later than a caller's own deadline its group's leader's may end: the leader answers
   * the group by its deadline, so a caller whose deadline began earlier (a shared cache lookup
   * waited for, a question asked again after a reconfiguration) would be answered past its own.
   */
  private static final Duration LATER_LEADER = Duration.ofMillis(5);

  /** The most questions of one group: what one session takes in one exchange at most. */
  private final int maxGroup;

  /** A turn to ask, held by a group's leader from its turn until its verdicts are in. */
  private final Semaphore turns;

  /** The group that questions join now; a new one starts where it is closed or full. */
  private Group forming;

  Gathering(int maxGroup, int maxSessions) {
    this.maxGroup = Math.max(1, maxGroup);
    this.turns = new Semaphore(Math.max(1, Math.min(ASKING_AT_ONCE, maxSessions)), true);
  }

  int maxGroup() {
    return maxGroup;
  }

  /**
   * A caller's place: in which group, its slot there, whether it leads (asks for) the group, and
   * how much later than the leader it came (its verdict's time is the leader's less that).
   */
  record Seat(Group group, int index, boolean leads, Duration later) {}

  synchronized Seat join(Mailbox mailbox, Deadline deadline) {
    if (forming != null && !forming.leaderDeadline.endsLaterThan(deadline, LATER_LEADER)) {
      int index = forming.queue().join(mailbox, maxGroup);
      if (index >= 0) {
        return new Seat(
            forming, index, false, forming.leaderDeadline.elapsed().minus(deadline.elapsed()));
      }
    }
    forming = new Group(QuestionQueue.gathering(Question.of(0, mailbox)), deadline);
    return new Seat(forming, 0, true, Duration.ZERO);
  }

  /**
   * Waits for the group's turn to ask, at most until the deadline, and closes the group to others'
   * questions; false where the turn did not come (the group is then answered BUSY).
   */
  boolean startAsking(Group group, Deadline deadline) {
    boolean turn = false;
    boolean interrupted = Thread.interrupted();
    while (true) {
      try {
        turn = turns.tryAcquire(deadline.remaining().toNanos(), TimeUnit.NANOSECONDS);
        break;
      } catch (InterruptedException e) {
        // The leader asks for others too: its own interruption must not answer them BUSY. The
        // wait is bounded by its deadline; the interruption is kept for after the group's answer.
        interrupted = true;
      }
    }
    group.queue().close();
    if (interrupted) {
      group.interruptedLeader = true;
    }
    return turn;
  }

  void doneAsking() {
    turns.release();
  }

  /**
   * The pool was closed (reconfiguration, close): leaders waiting for their turn take it at once,
   * find the pool closed and leave their groups' questions for the next configuration's backend.
   */
  void close() {
    turns.release(WAKE_ALL);
  }

  /** One group's questions, and its verdicts once the leader has them. */
  static final class Group {
    private final QuestionQueue queue;
    private final Deadline leaderDeadline;
    private final CountDownLatch answered = new CountDownLatch(1);
    private volatile VerdictSlots verdicts;

    /** Whether the leader's thread was interrupted while waiting for the turn (set again after). */
    private boolean interruptedLeader;

    private Group(QuestionQueue queue, Deadline leaderDeadline) {
      this.queue = queue;
      this.leaderDeadline = leaderDeadline;
    }

    QuestionQueue queue() {
      return queue;
    }

    /** The leader's verdicts (a slot left pending goes to the next configuration's backend). */
    void answered(VerdictSlots all) {
      verdicts = all;
      answered.countDown();
      if (interruptedLeader) {
        Thread.currentThread().interrupt(); // the leader's own interruption, kept until now
      }
    }

    /** The group's verdicts, once the leader has them; empty if not within {@code wait}. */
    Optional<VerdictSlots> await(Duration wait) {
      try {
        if (answered.await(wait.toNanos(), TimeUnit.NANOSECONDS)) {
          return Optional.of(verdicts);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return Optional.empty();
    }
  }

  /** The verdict with a follower's own time: the leader's less how much later it came. */
  static Verdict timedFor(Verdict verdict, Seat seat) {
    if (seat.leads()) {
      return verdict;
    }
    Duration latency = verdict.latency().minus(seat.later());
    latency = latency.isNegative() ? Duration.ZERO : latency;
    if (verdict instanceof Verdict.Accepted accepted) {
      return new Verdict.Accepted(accepted.reply(), latency);
    }
    if (verdict instanceof Verdict.Rejected rejected) {
      return new Verdict.Rejected(rejected.reply(), latency);
    }
    Verdict.Unverified unverified = (Verdict.Unverified) verdict;
    return new Verdict.Unverified(
        unverified.reason(), unverified.detail(), unverified.reply(), latency);
  }
}
