package io.github.rcptproxy.postfix;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/** Opens the policy server's listening socket: TCP, a UNIX socket file, or the inherited one. */
final class Listeners {
  private static final int BACKLOG = 4096;
  private static final int S_IFMT = 0170000;
  private static final int S_IFSOCK = 0140000;

  private Listeners() {}

  /** A TCP listener on {@code address}. */
  static ServerSocketChannel tcp(InetSocketAddress address) throws IOException {
    ServerSocketChannel listener = ServerSocketChannel.open();
    try {
      listener.setOption(StandardSocketOptions.SO_REUSEADDR, true); // restart on the same port
      listener.bind(address, BACKLOG);
      return listener;
    } catch (IOException e) {
      listener.close();
      throw e;
    }
  }

  /**
   * A listener on the socket file {@code address}, with {@code permissions} and, unless null,
   * {@code group}. A socket file left by a server that stopped is replaced; any other file, or a
   * socket someone listens on, is left alone and refused.
   */
  static ServerSocketChannel unix(
      UnixDomainSocketAddress address, Set<PosixFilePermission> permissions, GroupPrincipal group)
      throws IOException {
    Path path = address.getPath();
    removeStale(path);
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      listener.bind(address, BACKLOG);
      // By name (chown, chmod): a socket cannot be opened to change it through a descriptor.
      if (group != null) {
        Files.setAttribute(path, "posix:group", group);
      }
      Files.setPosixFilePermissions(path, permissions);
      return listener;
    } catch (IOException e) {
      listener.close();
      Files.deleteIfExists(path);
      throw e;
    }
  }

  /**
   * The listening socket the service manager passed on standard input ({@code
   * StandardInput=socket}, or a launcher that moved {@code LISTEN_FDS}' fd 3 to 0).
   */
  static ServerSocketChannel inherited() throws IOException {
    Channel channel = System.inheritedChannel();
    if (channel instanceof ServerSocketChannel listener) {
      return listener;
    }
    throw new IOException(
        "no listening socket on standard input (found "
            + (channel == null ? "none" : channel.getClass().getSimpleName())
            + "): start it from a systemd socket unit, with StandardInput=socket or through"
            + " the rcptproxy launcher, which moves the socket systemd passes (fd 3) to fd 0");
  }

  /** Deletes {@code path} if it is a socket nobody listens on; refuses any other file. */
  private static void removeStale(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    if ((mode & S_IFMT) != S_IFSOCK) {
      throw new IOException(path + " exists and is not a socket; not replaced");
    }
    try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
      throw new IOException(path + " is in use: another server listens on it");
    } catch (ConnectException stale) {
      Files.delete(path); // a socket whose server is gone, as after a crash
    }
  }
}
