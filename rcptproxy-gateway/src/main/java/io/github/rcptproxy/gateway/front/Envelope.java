package io.github.rcptproxy.gateway.front;

import io.github.rcptproxy.gateway.ops.Trace;
import java.util.List;

/**
 * One message as the client declared it: the relay passes on these addresses and parameters and
 * adds none of its own (no {@code SMTPUTF8} or {@code BODY=8BITMIME} on the client's behalf).
 *
 * @param from the reverse-path, empty for {@code <>}
 * @param recipients the accepted recipients, in the canonical form that was verified
 * @param smtputf8 whether the client gave {@code SMTPUTF8} with MAIL
 * @param eightBitMime whether the client gave {@code BODY=8BITMIME} with MAIL
 * @param trace who the client was
 */
public record Envelope(
    String from, List<String> recipients, boolean smtputf8, boolean eightBitMime, Trace trace) {
  public Envelope {
    recipients = List.copyOf(recipients);
  }

  /** The same message for {@code recipients}. */
  public Envelope with(List<String> recipients) {
    return new Envelope(from, recipients, smtputf8, eightBitMime, trace);
  }
}
