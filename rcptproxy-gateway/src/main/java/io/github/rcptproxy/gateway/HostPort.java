package io.github.rcptproxy.gateway;

/**
 * {@code HOST:PORT}, {@code HOST}, or {@code [IPv6]:PORT} from a command line or a config file; the
 * one reader of them for every option that takes an address ({@code --listen}, {@code
 * --metrics-listen}, {@code --backend}, ...).
 */
public record HostPort(String host, int port) {

  public static HostPort parse(String text, int defaultPort) {
    String host = text;
    String port = null;
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close < 0) {
        throw new UsageException("bad address '" + text + "': missing ]");
      }
      host = text.substring(1, close);
      if (close + 1 < text.length()) {
        if (text.charAt(close + 1) != ':') {
          throw new UsageException("bad address '" + text + "'");
        }
        port = text.substring(close + 2);
      }
    } else if (text.indexOf(':') >= 0 && text.indexOf(':') == text.lastIndexOf(':')) {
      host = text.substring(0, text.indexOf(':'));
      port = text.substring(text.indexOf(':') + 1);
    }
    if (host.isEmpty()) {
      throw new UsageException("bad address '" + text + "': no host");
    }
    if (port == null) {
      return new HostPort(host, defaultPort);
    }
    // Digits only: Integer.parseInt also takes a sign (+25) and non-ASCII digits (\u0662\u0665).
    if (port.matches("0*[0-9]{1,5}") && Integer.parseInt(port) <= 65535) {
      return new HostPort(host, Integer.parseInt(port));
    }
    throw new UsageException("bad port in '" + text + "': 0 to 65535, in digits only");
  }

  /** {@code HOST:PORT}, or {@code [IPv6]:PORT}: as {@link #parse} reads it. */
  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
