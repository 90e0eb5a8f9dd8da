package io.github.rcptproxy.examples;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * What one client address may do, as Postfix's anvil counts it: connections at once, and rejected
 * recipients per minute, after which the address is refused for a cool-down. Keeps one address from
 * starving the rest. Thread-safe; an address is forgotten once it has no connection and no recent
 * rejection.
 */
final class ClientLimits {
  private static final Duration WINDOW = Duration.ofMinutes(1);
  private static final int PURGE_ABOVE = 100_000;

  private final int maxConnections;
  private final int maxRejections;
  private final Duration coolDown;
  private final Clock clock;
  private final ConcurrentMap<InetAddress, Client> clients = new ConcurrentHashMap<>();

  /** One address's counts; changed only inside {@link ConcurrentMap#compute}. */
  private record Client(
      int connections, Instant windowStart, int rejections, Instant refusedUntil) {
    boolean forgettable(Instant now) {
      return connections == 0
          && (rejections == 0 || !now.isBefore(windowStart.plus(WINDOW)))
          && !now.isBefore(refusedUntil);
    }
  }

  /**
   * @param maxConnections connections at once per address
   * @param maxRejections rejected recipients per address per minute; one more starts the cool-down
   * @param coolDown how long an address is refused after too many rejections
   */
  ClientLimits(int maxConnections, int maxRejections, Duration coolDown, Clock clock) {
    this.maxConnections = maxConnections;
    this.maxRejections = maxRejections;
    this.coolDown = coolDown;
    this.clock = clock;
  }

  /**
   * Counts a new connection, or says why it is refused (then nothing is counted and {@link
   * #release} must not be called).
   */
  Optional<String> admit(InetAddress address) {
    Instant now = clock.instant();
    if (clients.size() > PURGE_ABOVE) {
      clients.values().removeIf(c -> c.forgettable(now));
    }
    String[] refusal = new String[1];
    clients.compute(
        address,
        (a, c) -> {
          Client client = c == null ? new Client(0, now, 0, now) : c;
          if (now.isBefore(client.refusedUntil())) {
            refusal[0] = "4.7.0 Too many rejected recipients from your address, try again later";
            return c;
          }
          if (client.connections() >= maxConnections) {
            refusal[0] = "4.7.0 Too many connections from your address, try again later";
            return c;
          }
          return new Client(
              client.connections() + 1,
              client.windowStart(),
              client.rejections(),
              client.refusedUntil());
        });
    return Optional.ofNullable(refusal[0]);
  }

  /** A connection {@link #admit admitted} has ended. */
  void release(InetAddress address) {
    Instant now = clock.instant();
    clients.computeIfPresent(
        address,
        (a, c) -> {
          Client client =
              new Client(
                  Math.max(0, c.connections() - 1),
                  c.windowStart(),
                  c.rejections(),
                  c.refusedUntil());
          return client.forgettable(now) ? null : client;
        });
  }

  /** Counts a rejected recipient; returns whether the address has now had too many. */
  boolean rejected(InetAddress address) {
    Instant now = clock.instant();
    Client counted =
        clients.compute(
            address,
            (a, c) -> {
              Client client = c == null ? new Client(0, now, 0, now) : c;
              boolean newWindow = !now.isBefore(client.windowStart().plus(WINDOW));
              int rejections = (newWindow ? 0 : client.rejections()) + 1;
              return new Client(
                  client.connections(),
                  newWindow ? now : client.windowStart(),
                  rejections,
                  rejections > maxRejections ? now.plus(coolDown) : client.refusedUntil());
            });
    return counted.rejections() > maxRejections;
  }

  /** Addresses remembered now: those connected or recently refused. */
  int remembered() {
    return clients.size();
  }
}
