package io.github.rcptproxy.internal;

import io.github.rcptproxy.Verdict;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Single-address verifications gathered into groups, so that one session answers several callers in
 * one pipelined RCPT exchange where each would otherwise wait for a session of its own and cost the
 * backend one or two commands in one exchange each. The first caller to come leads a group: it
 * borrows a session as any verification does; whoever comes while it waits joins its group instead
 * of waiting for a session alone, until the leader's session takes the group's questions. A group
 * of one (a session was free at once) is asked as a lone verification is, with VRFY where it may.
 */
final class Gathering {
  /** The most questions of one group: what one session takes in one exchange at most. */
  private final int maxGroup;

  /** The group that questions join now; a new one starts where it is closed or full. */
  private Group forming;

  Gathering(int maxGroup) {
    this.maxGroup = Math.max(1, maxGroup);
  }

  int maxGroup() {
    return maxGroup;
  }

  /**
   * A caller's place: in which group, its slot there, and whether it leads (asks for) the group.
   */
  record Seat(Group group, int index, boolean leads) {}

  synchronized Seat join(Mailbox mailbox) {
    if (forming != null) {
      int index = forming.queue().join(mailbox, maxGroup);
      if (index >= 0) {
        return new Seat(forming, index, false);
      }
    }
    forming = new Group(QuestionQueue.gathering(Question.of(0, mailbox)));
    return new Seat(forming, 0, true);
  }

  /** One group's questions, and its verdicts once the leader has them. */
  static final class Group {
    private final QuestionQueue queue;
    private final CountDownLatch answered = new CountDownLatch(1);
    private volatile VerdictSlots verdicts;

    private Group(QuestionQueue queue) {
      this.queue = queue;
    }

    QuestionQueue queue() {
      return queue;
    }

    /** The leader's verdicts (a slot left pending goes to the next configuration's backend). */
    void answered(VerdictSlots all) {
      verdicts = all;
      answered.countDown();
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

  /**
   * The verdict with the caller's own time: the leader's deadline started before the caller came.
   */
  static Verdict timedFor(Verdict verdict, Deadline deadline) {
    Duration latency = deadline.elapsed();
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
