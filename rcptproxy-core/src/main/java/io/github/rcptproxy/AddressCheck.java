package io.github.rcptproxy;

import io.github.rcptproxy.internal.InvalidAddressException;
import io.github.rcptproxy.internal.Mailbox;
import java.util.Optional;

/**
 * The address validation the verifier applies, for code that writes addresses to an SMTP server
 * itself (a relay, say): the same rules, so nothing unvalidated reaches a backend that way either.
 */
public final class AddressCheck {
  private AddressCheck() {}

  /**
   * Why the address ({@code local@domain}, with or without angle brackets) must not be sent to an
   * SMTP server, or empty if it may: control characters, {@code <} or {@code >} inside, source
   * routes, malformed parts, or RFC 5321 limits exceeded (in bytes).
   */
  public static Optional<String> problem(String address) {
    try {
      Mailbox.parse(address);
      return Optional.empty();
    } catch (InvalidAddressException e) {
      return Optional.of(e.getMessage());
    }
  }
}
