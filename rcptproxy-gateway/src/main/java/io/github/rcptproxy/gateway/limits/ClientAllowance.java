package io.github.rcptproxy.gateway.limits;

import java.net.InetAddress;
import java.util.Optional;

/**
 * What the SMTP front asks about a client: whether it may connect, and whether its rejected
 * recipients have grown into a dictionary attack. {@link ClientLimits} counts in this process; a
 * fleet counts across its gateways. Thread-safe; every call answers in bounded time.
 */
public interface ClientAllowance {

  /**
   * Counts a new connection, or says why it is refused (then nothing is counted and {@link
   * #release} must not be called).
   */
  Optional<String> admit(InetAddress address);

  /** A connection {@link #admit admitted} has ended. */
  void release(InetAddress address);

  /**
   * Counts a rejected recipient; returns whether the client has now had too many, and is refused
   * for the cool-down.
   */
  boolean rejected(InetAddress address);

  /** Counts an accepted recipient, which weighs against the client's rejected ones. */
  void accepted(InetAddress address);
}
