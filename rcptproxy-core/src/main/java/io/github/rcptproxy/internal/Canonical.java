package io.github.rcptproxy.internal;

import java.net.IDN;
import java.util.Locale;

/**
 * The one form of an address that is verified, routed and relayed: the mailbox a Postfix in front
 * would deliver to, whatever equivalent form the client wrote. Only forms that name the same
 * mailbox are changed, and nothing doubtful is repaired: what cannot be brought to that form is
 * returned as it is, for {@link Mailbox#parse} to refuse.
 *
 * <ul>
 *   <li>a source route ({@code @a,@b:user@example.com}) is dropped, as RFC 5321 §4.1.1.3 asks of a
 *       server and Postfix does;
 *   <li>a quoted local part that needs no quotes ({@code "user"}) is unquoted (RFC 5321 §4.1.2: the
 *       same mailbox), as Postfix does;
 *   <li>the domain is in A-labels ({@code ｅｘａｍｐｌｅ.com}, {@code example。com}), lower case, and
 *       without the root's trailing dot ({@code example.com.}, which Postfix takes and delivers to
 *       {@code example.com}; two dots it refuses, and so does {@link Mailbox#parse}).
 * </ul>
 */
public final class Canonical {
  private Canonical() {}

  /** {@code address} ({@code local@domain}, with or without angle brackets) in its one form. */
  public static String of(String address) {
    String bare = address;
    if (bare.length() >= 2 && bare.charAt(0) == '<' && bare.charAt(bare.length() - 1) == '>') {
      bare = bare.substring(1, bare.length() - 1);
    }
    if (bare.startsWith("@")) {
      int colon = bare.indexOf(':');
      if (colon < 0 || !isRoute(bare.substring(0, colon))) {
        return address;
      }
      bare = bare.substring(colon + 1);
    }
    int at = bare.lastIndexOf('@');
    if (at <= 0 || at == bare.length() - 1) {
      return address;
    }
    String domain = domain(bare.substring(at + 1));
    return domain == null ? address : localPart(bare.substring(0, at)) + "@" + domain;
  }

  /**
   * A local part as Postfix hands it to a policy service (its internal form: unquoted, {@code user
   * 9} for {@code "user 9"}) written as an SMTP client would write it, then in its one form.
   */
  public static String ofInternal(String address) {
    int at = address.lastIndexOf('@');
    if (at <= 0) {
      return address;
    }
    String local = address.substring(0, at);
    if (Mailbox.dotAtomProblem(local) != null) {
      local = "\"" + local.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
    return of(local + address.substring(at));
  }

  private static String localPart(String local) {
    if (local.length() > 2 && local.charAt(0) == '"' && local.charAt(local.length() - 1) == '"') {
      String inner = local.substring(1, local.length() - 1);
      if (Mailbox.dotAtomProblem(inner) == null) {
        return inner;
      }
    }
    return local;
  }

  /** The domain in A-labels, lower case, without a trailing dot; null if it is not a name. */
  private static String domain(String domain) {
    if (domain.startsWith("[")) {
      return domain; // an address literal: Mailbox checks it
    }
    String ascii = domain;
    if (!Mailbox.isAscii(ascii)) {
      try {
        ascii = IDN.toASCII(domain, IDN.USE_STD3_ASCII_RULES);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
    if (ascii.endsWith(".") && !ascii.endsWith("..")) {
      ascii = ascii.substring(0, ascii.length() - 1);
    }
    return ascii.isEmpty() ? null : ascii.toLowerCase(Locale.ROOT);
  }

  /** {@code @host} or {@code @host,@host...}: RFC 5321's A-d-l. */
  private static boolean isRoute(String route) {
    for (String hop : route.split(",", -1)) {
      if (hop.length() < 2 || hop.charAt(0) != '@' || !Mailbox.isHostName(hop.substring(1))) {
        return false;
      }
    }
    return true;
  }
}
