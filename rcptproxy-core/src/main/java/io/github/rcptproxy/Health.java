package io.github.rcptproxy;

import java.time.Instant;
import java.util.Optional;

/**
 * Whether the backend answered lately, as the verifier saw it (no extra probe is sent).
 *
 * @param status {@code UP} when the backend's last answer came after its last failure
 * @param lastAnswer when the backend last answered a verification
 * @param lastError the last failure to reach or understand the backend, with its time
 */
public record Health(
    Status status,
    Optional<Instant> lastAnswer,
    Optional<String> lastError,
    Optional<Instant> lastErrorAt) {

  public enum Status {
    /** The last exchange with the backend worked. */
    UP,
    /** The last exchange with the backend failed (down, timed out, garbled). */
    DOWN,
    /** Nothing was asked yet. */
    UNKNOWN,
    /** No backend configured, or its name does not resolve. */
    NOT_CONFIGURED
  }
}
