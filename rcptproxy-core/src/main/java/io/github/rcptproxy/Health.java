package io.github.rcptproxy;

import java.time.Instant;
import java.util.Optional;

/**
 * Whether the backend answered lately, as the verifier saw it (no extra probe is sent). A final
 * class rather than a record, so that later versions can add detail without breaking callers.
 */
public final class Health {
  private final Status status;
  private final Instant lastAnswer;
  private final String lastError;
  private final Instant lastErrorAt;

  Health(Status status, Instant lastAnswer, String lastError, Instant lastErrorAt) {
    this.status = status;
    this.lastAnswer = lastAnswer;
    this.lastError = lastError;
    this.lastErrorAt = lastErrorAt;
  }

  /** {@code UP} when the backend's last answer came after its last failure. */
  public Status status() {
    return status;
  }

  /** When the backend last answered a verification. */
  public Optional<Instant> lastAnswer() {
    return Optional.ofNullable(lastAnswer);
  }

  /** The last failure to reach or understand the backend. */
  public Optional<String> lastError() {
    return Optional.ofNullable(lastError);
  }

  /** When {@link #lastError()} happened. */
  public Optional<Instant> lastErrorAt() {
    return Optional.ofNullable(lastErrorAt);
  }

  @Override
  public String toString() {
    return "Health{" + status + ", lastAnswer=" + lastAnswer + ", lastError=" + lastError + "}";
  }

  public enum Status {
    /** The last exchange with the backend worked. */
    UP,
    /** The last exchange with the backend failed (down, timed out, garbled). */
    DOWN,
    /** Nothing was asked yet. */
    UNKNOWN,
    /** No backend configured. */
    NOT_CONFIGURED
  }
}
