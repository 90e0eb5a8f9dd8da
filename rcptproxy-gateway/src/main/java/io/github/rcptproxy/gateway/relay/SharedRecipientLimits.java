package io.github.rcptproxy.gateway.relay;

import java.time.Instant;

/**
 * Where gateways share the recipients per message each backend was seen to take (a {@code 452
 * 4.5.3} at relay time), so that one gateway's lesson is the others' without a message of their own
 * tempfailed. A backend is named as the relay names it: its configured hosts and ports, in their
 * order ({@code host:port,...}), the same on every gateway that relays to it.
 *
 * <p><b>Contract:</b> thread-safe. {@link #learnt} is called on the thread that relays a message
 * and must neither block on the network nor throw: it hands the limit on in the background, and a
 * limit it cannot hand on stays this gateway's own. {@link #follow} is called once, as the gateway
 * starts; the listener is then called (on the store's own threads) with the limits known now and
 * each one learnt after, this gateway's own included.
 */
public interface SharedRecipientLimits {

  /**
   * This gateway learnt that {@code backend} takes {@code limit} recipients, until {@code until}.
   */
  void learnt(String backend, int limit, Instant until);

  /** Tells {@code listener} every limit known, now and from now on. */
  void follow(Listener listener);

  /** Told a limit some gateway learnt. */
  @FunctionalInterface
  interface Listener {
    void learnt(String backend, int limit, Instant until);
  }
}
