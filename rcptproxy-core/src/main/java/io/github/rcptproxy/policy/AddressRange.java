package io.github.rcptproxy.policy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.Optional;

/**
 * An IPv4 or IPv6 address range such as {@code 192.0.2.0/24} or {@code ::1/128}: the clients that
 * skip verification. Only literal addresses are parsed, never a host name, and DNS is never asked.
 * Immutable.
 */
public final class AddressRange {
  private final byte[] network;
  private final int prefixLength;
  private final String text;

  private AddressRange(byte[] network, int prefixLength, String text) {
    this.network = network;
    this.prefixLength = prefixLength;
    this.text = text;
  }

  /**
   * Parses {@code ADDRESS} or {@code ADDRESS/PREFIX}.
   *
   * @throws IllegalArgumentException naming the entry and what is wrong with it
   */
  public static AddressRange parse(String text) {
    int slash = text.indexOf('/');
    byte[] bytes = literal(slash < 0 ? text : text.substring(0, slash));
    if (bytes == null) {
      throw new IllegalArgumentException(
          "bypass entry '" + text + "' is not an IP address or CIDR range");
    }
    int bits = bytes.length * 8;
    int prefix = bits;
    if (slash >= 0) {
      try {
        prefix = Integer.parseInt(text.substring(slash + 1));
      } catch (NumberFormatException e) {
        prefix = -1;
      }
      if (prefix < 0 || prefix > bits) {
        throw new IllegalArgumentException(
            "bypass entry '" + text + "' has a prefix length outside 0.." + bits);
      }
    }
    return new AddressRange(bytes, prefix, text);
  }

  /**
   * The address an IPv4 or IPv6 literal ({@code 192.0.2.1}, {@code 2001:db8::1}) names, or empty if
   * {@code text} is not one (a host name included). Never asks DNS.
   */
  public static Optional<InetAddress> address(String text) {
    byte[] bytes = text == null ? null : literal(text);
    if (bytes == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(InetAddress.getByAddress(bytes)); // from bytes: no name lookup
    } catch (UnknownHostException e) {
      return Optional.empty(); // cannot happen: 4 or 16 bytes
    }
  }

  /** The bytes of an IPv4 or IPv6 literal, or null if {@code text} is not one. Never asks DNS. */
  private static byte[] literal(String text) {
    if (text.isEmpty() || text.length() > 45) {
      return null;
    }
    if (text.indexOf(':') < 0) {
      String[] parts = text.split("\\.", -1);
      if (parts.length != 4) {
        return null;
      }
      byte[] bytes = new byte[4];
      for (int i = 0; i < 4; i++) {
        if (!parts[i].matches("[0-9]{1,3}") || Integer.parseInt(parts[i]) > 255) {
          return null;
        }
        bytes[i] = (byte) Integer.parseInt(parts[i]);
      }
      return bytes;
    }
    if (!text.matches("[0-9A-Fa-f:.]+")) {
      return null;
    }
    try {
      // With a ':' the JDK parses an IPv6 literal or fails; it never falls back to DNS.
      return InetAddress.getByName(text).getAddress();
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** Whether {@code address} lies in this range; an IPv4 address is never in an IPv6 range. */
  public boolean contains(InetAddress address) {
    byte[] candidate = address.getAddress();
    if (candidate.length != network.length) {
      return false;
    }
    int whole = prefixLength / 8;
    for (int i = 0; i < whole; i++) {
      if (candidate[i] != network[i]) {
        return false;
      }
    }
    int rest = prefixLength % 8;
    if (rest == 0) {
      return true;
    }
    int mask = 0xff << (8 - rest) & 0xff;
    return (candidate[whole] & mask) == (network[whole] & mask);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AddressRange other
        && prefixLength == other.prefixLength
        && Arrays.equals(network, other.network);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(network) + prefixLength;
  }

  /** The range as it was written. */
  @Override
  public String toString() {
    return text;
  }
}
