package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.VerdictCache;
import java.time.Instant;

/**
 * Where gateways share what their relays learn of the backend, so that one gateway's lesson is the
 * others' without a message of their own tempfailed or a wait of their own: the recipients per
 * message each backend was seen to take (a {@code 452 4.5.3} at relay time), the sender and
 * recipient pairs it refused at relay time although verified, and the relay's breaker (backend
 * addresses that did not answer). A backend is named as the relay names it: its configured hosts
 * and ports, in their order ({@code host:port,...}), the same on every gateway that relays to it.
 *
 * <p><b>Contract:</b> thread-safe. {@link #learnt} and {@link #refused} are called on the thread
 * that relays a message and must neither block on the network nor throw: they hand what was learnt
 * on in the background, and what cannot be handed on stays this gateway's own. {@link #breaker}'s
 * store is read and written on that thread too, on the same terms. {@link #follow} is called once,
 * as the gateway starts; the listener is then called (on the store's own threads) with what is
 * known now and each thing learnt after, this gateway's own included.
 */
public interface SharedRelayMemory {

  /**
   * This gateway learnt that {@code backend} takes {@code limit} recipients, until {@code until}.
   */
  void learnt(String backend, int limit, Instant until);

  /**
   * This gateway's relay to {@code backend} was refused {@code recipient} of mail from {@code from}
   * although it had been verified; that holds until {@code until}.
   */
  void refused(String backend, String from, String recipient, Instant until);

  /**
   * The relay's breaker for the fleet: where its {@code Connector} writes a backend address that
   * did not answer ({@code backend-down:ADDRESS:PORT}, until its cool-down ends) and reads those
   * the other gateways' relays wrote. Its lookups answer from this gateway's copy, never the
   * network.
   */
  VerdictCache breaker();

  /** Tells {@code listener} everything known, now and from now on. */
  void follow(Listener listener);

  /** Told what some gateway's relay learnt. */
  interface Listener {
    void learnt(String backend, int limit, Instant until);

    void refused(String backend, String from, String recipient, Instant until);
  }
}
