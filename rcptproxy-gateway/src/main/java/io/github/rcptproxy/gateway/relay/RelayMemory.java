package io.github.rcptproxy.gateway.relay;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the relay learnt from the backend, for an hour each, and kept across config reloads: the
 * recipients per message it takes, and the sender and recipient pairs it refused at relay time
 * although they had been verified (each then asked with the client's envelope at {@code RCPT}); in
 * a fleet, also what the other gateways' relays learnt of it.
 */
final class RelayMemory {
  /** How long something learnt holds: a backend's configuration changes, a mailbox comes back. */
  static final Duration HOLDS = Duration.ofHours(1);

  private static final int MAX_PAIRS = 10_000;

  private final Clock clock;
  private volatile int recipientLimit = Integer.MAX_VALUE;
  private volatile Instant limitUntil = Instant.MIN;
  private final Map<String, Instant> refused = new ConcurrentHashMap<>();

  RelayMemory(Clock clock) {
    this.clock = clock;
  }

  /** The recipients per message the backend was seen to take; {@code MAX_VALUE} if unknown. */
  int recipientLimit() {
    return clock.instant().isBefore(limitUntil) ? recipientLimit : Integer.MAX_VALUE;
  }

  /**
   * The backend answered "too many recipients" after {@code accepted}; returns until when that
   * holds.
   */
  synchronized Instant recipientLimit(int accepted) {
    recipientLimit = Math.min(recipientLimit(), accepted);
    limitUntil = clock.instant().plus(HOLDS);
    return limitUntil;
  }

  /**
   * Another gateway learnt that the backend takes {@code limit} recipients, until {@code until}:
   * the lower limit holds, until the later of the two.
   */
  synchronized void heard(int limit, Instant until) {
    if (!clock.instant().isBefore(until)) {
      return;
    }
    recipientLimit = Math.min(recipientLimit(), limit);
    limitUntil = until.isAfter(limitUntil) ? until : limitUntil;
  }

  boolean refused(String from, String recipient) {
    Instant until = refused.get(pair(from, recipient));
    return until != null && clock.instant().isBefore(until);
  }

  /**
   * The backend refused the pair at relay time (or accepted it, {@code value} false); returns until
   * when the refusal holds, null if none is kept.
   */
  Instant refused(String from, String recipient, boolean value) {
    if (!value) {
      refused.remove(pair(from, recipient));
      return null;
    }
    Instant until = clock.instant().plus(HOLDS);
    return keep(pair(from, recipient), until) ? until : null;
  }

  /** Another gateway's relay was refused the pair, until {@code until}: the later end holds. */
  void heardRefused(String from, String recipient, Instant until) {
    if (clock.instant().isBefore(until)) {
      keep(pair(from, recipient), until);
    }
  }

  private boolean keep(String pair, Instant until) {
    Instant now = clock.instant();
    if (refused.size() >= MAX_PAIRS) {
      refused.values().removeIf(end -> !now.isBefore(end));
      if (refused.size() >= MAX_PAIRS) {
        return false; // full of live pairs: this one costs its sender a retry, never a message
      }
    }
    refused.merge(pair, until, (before, after) -> after.isAfter(before) ? after : before);
    return true;
  }

  private static String pair(String from, String recipient) {
    return from + "\n" + recipient.toLowerCase(Locale.ROOT);
  }
}
