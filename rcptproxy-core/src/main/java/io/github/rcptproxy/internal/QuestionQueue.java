package io.github.rcptproxy.internal;

import io.github.rcptproxy.Verdict;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.function.ToIntFunction;

/**
 * The questions of one batch not yet taken by a session, shared by the threads answering it; and
 * what a thread that gave up (no session within the deadline, none could be opened) answered, for
 * the questions no other thread took. A {@link Gathering} group's queue takes other callers'
 * questions until it is closed, when its leader's turn to ask comes.
 */
final class QuestionQueue {
  private final ArrayDeque<Question> questions;
  private Optional<Verdict> gaveUp = Optional.empty();

  /** Whether other callers' questions may still join: a gathering group's, until {@link #close}. */
  private boolean joinable;

  QuestionQueue(List<Question> questions) {
    this.questions = new ArrayDeque<>(questions);
  }

  /** A gathering group's queue, with its leader's question: open to others until closed. */
  static QuestionQueue gathering(Question first) {
    QuestionQueue queue = new QuestionQueue(List.of(first));
    queue.joinable = true;
    return queue;
  }

  /**
   * Adds another caller's question, its slot the next index, while the queue is not closed and
   * holds fewer than {@code max}; the slot's index, or -1 where it may not join.
   */
  synchronized int join(Mailbox mailbox, int max) {
    if (!joinable || questions.size() >= max) {
      return -1;
    }
    int index = questions.size();
    questions.add(Question.of(index, mailbox));
    return index;
  }

  synchronized boolean isEmpty() {
    return questions.isEmpty();
  }

  /**
   * Moves the next questions into {@code into}: as many as {@code room} says one exchange on the
   * taking thread's session holds, with the first of them first.
   */
  synchronized void take(List<Question> into, ToIntFunction<Question> room) {
    Question first = questions.peek();
    for (int n = first == null ? 0 : room.applyAsInt(first); n > 0 && !questions.isEmpty(); n--) {
      into.add(questions.poll());
    }
  }

  /**
   * Closes a gathering group's queue to other callers' questions; where it holds several, marks its
   * questions to be asked together (pipelined RCPT). (Counted under the same lock: a question that
   * joined between a count and the close went unmarked.)
   */
  synchronized void close() {
    joinable = false;
    if (questions.size() > 1) {
      for (int n = questions.size(); n > 0; n--) {
        questions.add(questions.poll().gatheredWithOthers());
      }
    }
  }

  /** A thread gave up with this verdict: the questions no thread takes get it. */
  synchronized void gaveUp(Verdict verdict) {
    gaveUp = Optional.of(verdict);
  }

  /**
   * Answers the questions no thread took with what the last one to give up answered; leaves them
   * pending (for the new backend) where no thread gave up: they stopped because of a
   * reconfiguration.
   */
  synchronized void settleLeft(VerdictSlots verdicts) {
    for (Question question : questions) {
      gaveUp.ifPresent(verdict -> verdicts.settle(question.index(), verdict));
    }
    questions.clear();
  }
}
