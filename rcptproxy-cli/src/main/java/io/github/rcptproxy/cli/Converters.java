package io.github.rcptproxy.cli;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.UsageException;
import io.github.rcptproxy.policy.FailureMode;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * How option values are read, the same from the command line, the environment and a config file, so
 * that an option declares its limit once and a refused value is reported by picocli as {@code
 * Invalid value for option '--timeout-ms': '-5' is not a positive whole number}.
 */
final class Converters {
  private Converters() {}

  /** A whole number, 1 or more. */
  static final class Positive implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      return number(value, 1, "a positive whole number");
    }
  }

  /** A whole number, 0 or more (0 turns the option's feature off). */
  static final class Whole implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      return number(value, 0, "a whole number (0 or more)");
    }
  }

  private static int number(String value, int least, String what) {
    try {
      int number = Integer.parseInt(value.strip());
      if (number >= least) {
        return number;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new TypeConversionException("'" + value + "' is not " + what);
  }

  /** true or yes, false or no: flags and switches, as a config file may spell them. */
  static final class YesNo implements ITypeConverter<Boolean> {
    @Override
    public Boolean convert(String value) {
      return switch (value.strip().toLowerCase(Locale.ROOT)) {
        case "true", "yes" -> true;
        case "false", "no" -> false;
        default -> throw new TypeConversionException("'" + value + "' is not true or false");
      };
    }
  }

  /** {@code HOST:PORT}, {@code HOST} (port 25) or {@code [IPv6]:PORT}. */
  static final class SmtpAddress implements ITypeConverter<HostPort> {
    @Override
    public HostPort convert(String value) {
      return hostPort(value, 25);
    }
  }

  /** A backend to connect to: {@code HOST:PORT}, {@code HOST} (port 25) or {@code [IPv6]:PORT}. */
  static final class Backend implements ITypeConverter<HostPort> {
    /** A host name: dot-separated labels of letters, digits, hyphens (and _, as resolvers take). */
    private static final Pattern NAME =
        Pattern.compile(
            "[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\\.?");

    /**
     * Also refuses what a resolver would take for a name and never find ({@code a:25:26}, {@code
     * mail server}), and port 0, rather than leaving every verdict to fail at run time.
     */
    @Override
    public HostPort convert(String value) {
      if (!value.equals(value.strip())) {
        throw new TypeConversionException("'" + value + "' has spaces around HOST:PORT");
      }
      HostPort address = hostPort(value, 25);
      String host = address.host();
      boolean literal = host.indexOf(':') >= 0;
      if (literal && !value.startsWith("[")
          || (literal ? !ipv6(host) : !NAME.matcher(host).matches() || host.length() > 253)) {
        throw new TypeConversionException(
            "'" + value + "' is not HOST:PORT (an IPv6 address goes in brackets: [::1]:25)");
      }
      if (address.port() == 0) {
        throw new TypeConversionException("'" + value + "': port 0 is not a port to connect to");
      }
      return address;
    }

    private static boolean ipv6(String host) {
      if (!host.matches("[0-9A-Fa-f:.%A-Za-z]+")) {
        return false;
      }
      try {
        InetAddress.getByName("[" + host + "]"); // in brackets a literal, never looked up
        return true;
      } catch (UnknownHostException e) {
        return false;
      }
    }
  }

  /** {@code HOST:PORT}, {@code HOST} (port 9465, the metrics port) or {@code [IPv6]:PORT}. */
  static final class MetricsAddress implements ITypeConverter<HostPort> {
    @Override
    public HostPort convert(String value) {
      return hostPort(value, 9465);
    }
  }

  /**
   * A fleet member: {@code HOST:PORT}, {@code HOST} (port 5701, Hazelcast's) or {@code
   * [IPv6]:PORT}.
   */
  static final class ClusterAddress implements ITypeConverter<HostPort> {
    @Override
    public HostPort convert(String value) {
      return hostPort(value, 5701);
    }
  }

  /** {@code HOST:PORT}, {@code HOST} (port 10040, the policy port) or {@code [IPv6]:PORT}. */
  static final class PolicyAddress implements ITypeConverter<PolicyListen> {
    @Override
    public PolicyListen convert(String value) {
      String v = value.strip();
      if (v.equals("systemd")) {
        return new PolicyListen(v, null);
      }
      if (v.startsWith("unix:")) {
        Path path = Path.of(v.substring("unix:".length()));
        if (!path.isAbsolute()) {
          throw new TypeConversionException(
              "'"
                  + v
                  + "': a UNIX socket needs an absolute path, as unix:/run/rcptproxy/policy.sock");
        }
        return new PolicyListen(v, UnixDomainSocketAddress.of(path));
      }
      HostPort hostPort = hostPort(v, 10040);
      return new PolicyListen(v, new InetSocketAddress(hostPort.host(), hostPort.port()));
    }
  }

  /** Where the policy server listens, as written; {@code address} is null for {@code systemd}. */
  record PolicyListen(String text, SocketAddress address) {
    @Override
    public String toString() {
      return text;
    }
  }

  /** Octal permissions of a socket file, {@code 0660}; no set-id or sticky bits. */
  static final class SocketMode implements ITypeConverter<SocketPermissions> {
    private static final Pattern OCTAL = Pattern.compile("0?[0-7]{3}");

    @Override
    public SocketPermissions convert(String value) {
      String v = value.strip();
      if (!OCTAL.matcher(v).matches()) {
        throw new TypeConversionException(
            "'" + value + "' is not octal permissions from 000 to 777, as 0660");
      }
      int mode = Integer.parseInt(v, 8);
      StringBuilder rwx = new StringBuilder();
      for (int bit = 8; bit >= 0; bit--) {
        rwx.append((mode & (1 << bit)) != 0 ? "rwx".charAt((8 - bit) % 3) : '-');
      }
      return new SocketPermissions(PosixFilePermissions.fromString(rwx.toString()));
    }
  }

  /** A socket file's permissions (a record: picocli would take a bare Set for a list). */
  record SocketPermissions(Set<PosixFilePermission> permissions) {}

  static HostPort hostPort(String value, int defaultPort) {
    try {
      return HostPort.parse(value.strip(), defaultPort);
    } catch (UsageException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }

  /**
   * One of an enum's constants, named in lower case (as help and the docs show them); also the
   * completion candidates of the option.
   */
  abstract static class Choice<E extends Enum<E>> implements ITypeConverter<E>, Iterable<String> {
    private final Class<E> type;

    Choice(Class<E> type) {
      this.type = type;
    }

    @Override
    public E convert(String value) {
      for (E constant : type.getEnumConstants()) {
        if (constant.name().equalsIgnoreCase(value.strip())) {
          return constant;
        }
      }
      throw new TypeConversionException("'" + value + "' is not one of " + String.join(", ", this));
    }

    @Override
    public Iterator<String> iterator() {
      List<String> names =
          Arrays.stream(type.getEnumConstants())
              .map(c -> c.name().toLowerCase(Locale.ROOT))
              .toList();
      return names.iterator();
    }
  }

  static final class Tls extends Choice<BackendTls> {
    Tls() {
      super(BackendTls.class);
    }
  }

  static final class Protocol extends Choice<BackendProtocol> {
    Protocol() {
      super(BackendProtocol.class);
    }
  }

  static final class Method extends Choice<ProbeMethod> {
    Method() {
      super(ProbeMethod.class);
    }
  }

  static final class Failure extends Choice<FailureMode> {
    Failure() {
      super(FailureMode.class);
    }
  }
}
