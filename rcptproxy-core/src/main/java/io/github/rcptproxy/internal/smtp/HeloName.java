package io.github.rcptproxy.internal.smtp;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The name given in {@code EHLO} when none is configured: this host's fully qualified name, else
 * the address literal of the connection's local end ({@code [192.0.2.1]}, {@code [IPv6:::1]}).
 * Either passes Postfix's {@code reject_invalid_helo_hostname} and {@code
 * reject_non_fqdn_helo_hostname}; a bare name ({@code world}, an unqualified host name) does not.
 * The host's name is looked up once, on a thread of its own, so a slow resolver never delays a
 * session: until it is known, the address literal is given.
 */
public final class HeloName {
  private static final CompletableFuture<Optional<String>> HOST_NAME = lookUp();

  private HeloName() {}

  /** The name for a connection whose local end is {@code local}. */
  public static String of(InetAddress local) {
    return HOST_NAME.getNow(Optional.empty()).orElseGet(() -> literal(local));
  }

  /** {@code name} where it is a fully qualified domain name, else empty. */
  static Optional<String> fullyQualified(String name) {
    if (name == null || name.endsWith(".") || !name.contains(".")) {
      return Optional.empty();
    }
    boolean valid =
        name.length() <= 253
            && name.matches(
                "([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z][A-Za-z0-9-]*")
            && !name.endsWith("-");
    return valid ? Optional.of(name) : Optional.empty();
  }

  /** The address literal of RFC 5321, section 4.1.3. */
  static String literal(InetAddress address) {
    String text = address.getHostAddress();
    int scope = text.indexOf('%');
    if (scope >= 0) {
      text = text.substring(0, scope);
    }
    return address instanceof Inet6Address ? "[IPv6:" + text + "]" : "[" + text + "]";
  }

  private static CompletableFuture<Optional<String>> lookUp() {
    CompletableFuture<Optional<String>> name = new CompletableFuture<>();
    Thread thread =
        new Thread(
            () -> {
              try {
                InetAddress local = InetAddress.getLocalHost();
                name.complete(
                    fullyQualified(local.getCanonicalHostName())
                        .or(() -> fullyQualified(local.getHostName())));
              } catch (UnknownHostException | RuntimeException e) {
                name.complete(Optional.empty());
              }
            },
            "rcptproxy-host-name");
    thread.setDaemon(true);
    thread.start();
    return name;
  }
}
