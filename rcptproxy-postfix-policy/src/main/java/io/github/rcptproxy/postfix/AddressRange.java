package io.github.rcptproxy.postfix;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 range such as {@code 192.0.2.0/24}. Same rules as the SubEthaSMTP adapter's
 * {@code Cidr}; both should move to core (see the module's README section). Client addresses from
 * requests are parsed without ever asking DNS.
 */
record AddressRange(byte[] network, int prefixLength, String text) {

  /**
   * Parses {@code ADDRESS} or {@code ADDRESS/PREFIX}.
   *
   * @throws IllegalArgumentException naming the entry
   */
  static AddressRange parse(String text) {
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

  /** The bytes of an IPv4 or IPv6 literal, or null if {@code text} is not one. Never asks DNS. */
  static byte[] literal(String text) {
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

  boolean contains(byte[] candidate) {
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
  public String toString() {
    return text;
  }
}
