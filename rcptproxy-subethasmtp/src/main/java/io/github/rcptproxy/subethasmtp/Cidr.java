package io.github.rcptproxy.subethasmtp;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** An IPv4 or IPv6 address range such as {@code 192.0.2.0/24} or {@code ::1/128}. */
record Cidr(byte[] network, int prefixLength, String text) {

  /**
   * Parses {@code ADDRESS} or {@code ADDRESS/PREFIX}; only literal addresses, never a host name.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  static Cidr parse(String text) {
    int slash = text.indexOf('/');
    String address = slash < 0 ? text : text.substring(0, slash);
    if (address.isEmpty()
        || !address.matches("[0-9A-Fa-f:.]+")
        || !(address.contains(".") || address.contains(":"))) {
      throw new IllegalArgumentException(
          "bypass entry '" + text + "' is not an IP address or CIDR range");
    }
    byte[] bytes;
    try {
      bytes = InetAddress.getByName(address).getAddress(); // a literal: no name lookup
    } catch (UnknownHostException e) {
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
    return new Cidr(bytes, prefix, text);
  }

  boolean contains(InetAddress address) {
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
  public String toString() {
    return text;
  }
}
