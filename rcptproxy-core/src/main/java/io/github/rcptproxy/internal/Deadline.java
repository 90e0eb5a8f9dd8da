package io.github.rcptproxy.internal;

import java.net.SocketTimeoutException;
import java.time.Duration;

/** The moment a verification must be answered by; every blocking step takes what is left of it. */
public final class Deadline {
  private final long startNanos;
  private final long expiresAtNanos;

  private Deadline(long startNanos, long expiresAtNanos) {
    this.startNanos = startNanos;
    this.expiresAtNanos = expiresAtNanos;
  }

  public static Deadline after(Duration timeout) {
    long now = System.nanoTime();
    return new Deadline(now, now + timeout.toNanos());
  }

  public Duration elapsed() {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  /** Whether less than a tenth of the whole time is left: too little to start talking. */
  boolean nearlySpent() {
    long left = expiresAtNanos - System.nanoTime();
    return left < (expiresAtNanos - startNanos) / 10;
  }

  public Duration remaining() {
    return Duration.ofNanos(Math.max(0, expiresAtNanos - System.nanoTime()));
  }

  /** Whether this one ends more than {@code slack} after {@code other} does. */
  boolean endsLaterThan(Deadline other, Duration slack) {
    return expiresAtNanos - other.expiresAtNanos > slack.toNanos();
  }

  boolean expired() {
    return expiresAtNanos - System.nanoTime() <= 0;
  }

  /**
   * What is left as a socket timeout in milliseconds: at least 1, since 0 means "forever" to a
   * socket.
   *
   * @throws SocketTimeoutException if nothing is left
   */
  public int socketTimeoutMillis() throws SocketTimeoutException {
    long left = expiresAtNanos - System.nanoTime();
    if (left <= 0) {
      throw new SocketTimeoutException("deadline passed");
    }
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000));
  }
}
