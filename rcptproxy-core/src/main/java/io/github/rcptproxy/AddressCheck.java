package io.github.rcptproxy;

import io.github.rcptproxy.internal.Canonical;
import io.github.rcptproxy.internal.InvalidAddressException;
import io.github.rcptproxy.internal.Mailbox;
import java.util.Optional;

/**
 * The address validation the verifier applies, for code that writes addresses to an SMTP server
 * itself (a relay, say): the same rules, so nothing unvalidated reaches a backend that way either;
 * and the one form of an address that the SubEthaSMTP wrapper, the gateway and the Postfix policy
 * server verify, route and relay.
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

  /**
   * The address in its one form: the mailbox a Postfix in front would deliver to. A source route is
   * dropped, a quoted local part that needs no quotes unquoted, the domain put in A-labels and
   * lower case without the root's trailing dot ({@code user@Example.COM.} is {@code
   * user@example.com}). Nothing else is changed: a form that cannot be brought to it is returned as
   * it is, for {@link #problem} to refuse.
   */
  public static String canonical(String address) {
    return Canonical.of(address);
  }

  /**
   * A recipient as Postfix hands it to a policy service, in the same one form. Postfix passes its
   * internal form, with the local part unquoted ({@code user 9@example.com} for {@code "user
   * 9"@example.com}): it is quoted again where it needs it, as a client would have written it.
   */
  public static String canonicalFromPostfix(String address) {
    return Canonical.ofInternal(address);
  }
}
