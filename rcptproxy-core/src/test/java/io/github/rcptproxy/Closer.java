package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What a test opened (backends, verifiers), closed after it, the last opened first. A verifier
 * handed to {@link #leakFree} is checked first for sessions it still holds.
 */
final class Closer implements AutoCloseable {
  private final Deque<AutoCloseable> open = new ArrayDeque<>();

  <T extends AutoCloseable> T later(T closeable) {
    open.push(closeable);
    return closeable;
  }

  /** Closes the verifier later, once it showed no session still borrowed. */
  RecipientVerifier leakFree(RecipientVerifier verifier) {
    later(
        () -> {
          try (verifier) {
            assertThat(verifier.stats().sessionsActive()).as("sessions leaked").isZero();
          }
        });
    return verifier;
  }

  @Override
  public void close() throws Exception {
    while (!open.isEmpty()) {
      open.pop().close();
    }
  }
}
