package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import java.time.Duration;

/**
 * A {@code 252} to VRFY that waits for a refusal after it on the same session ({@link VrfyRun}):
 * only that shows it was not a blanket answer. Settled once, by whoever holds the session then, or
 * given up by the caller waiting for it.
 */
final class Held252 {
  private enum State {
    WAITING,
    CONFIRMED,
    NOT_CONFIRMED
  }

  private final String domain;
  private final BackendReply reply;
  private final long sinceNanos = System.nanoTime();
  private State state = State.WAITING;

  Held252(String domain, BackendReply reply) {
    this.domain = domain;
    this.reply = reply;
  }

  String domain() {
    return domain;
  }

  BackendReply reply() {
    return reply;
  }

  long ageNanos() {
    return System.nanoTime() - sinceNanos;
  }

  /** What the session showed after the {@code 252}; the first word counts. */
  synchronized void settle(boolean confirmed) {
    if (state == State.WAITING) {
      state = confirmed ? State.CONFIRMED : State.NOT_CONFIRMED;
      notifyAll();
    }
  }

  /**
   * Whether a refusal confirmed it, waiting at most {@code max}; not settled by then, it is given
   * up (a refusal after that no longer counts): the caller asks otherwise.
   */
  synchronized boolean confirmed(Duration max) {
    long until = System.nanoTime() + max.toNanos();
    boolean interrupted = false;
    while (state == State.WAITING) {
      long left = until - System.nanoTime();
      if (left <= 0) {
        state = State.NOT_CONFIRMED;
        break;
      }
      try {
        wait(Math.max(1, left / 1_000_000), 0);
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return state == State.CONFIRMED;
  }
}
