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
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.function.Consumer;

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
    return unix(address, permissions, group, bound -> {});
  }

  /**
   * As above; {@code beforeRename} sees the socket bound in its private directory, for tests.
   *
   * <p>The socket is bound, given its group and mode, in a new directory only this process can
   * enter, next to the final path, and then renamed onto it: chown and chmod go by name (a socket
   * cannot be opened to change it through a descriptor), and at the final path they would follow a
   * symlink swapped in after the bind, and leave the socket open with the umask's mode until the
   * chmod. A rename replaces a symlink instead of following it, and the socket appears at the final
   * path with its mode already set.
   */
  static ServerSocketChannel unix(
      UnixDomainSocketAddress address,
      Set<PosixFilePermission> permissions,
      GroupPrincipal group,
      Consumer<Path> beforeRename)
      throws IOException {
    Path path = address.getPath().toAbsolutePath();
    removeStale(path);
    // same parent: the rename stays within one file system, so it is atomic
    Path privateDir =
        Files.createTempDirectory(
            path.getParent(),
            ".rcptproxy-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path bound = privateDir.resolve("s"); // short: a socket path is limited to 107 bytes
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      listener.bind(UnixDomainSocketAddress.of(bound), BACKLOG);
      if (group != null) {
        Files.setAttribute(bound, "posix:group", group, LinkOption.NOFOLLOW_LINKS);
      }
      Files.setPosixFilePermissions(bound, permissions);
      beforeRename.accept(bound);
      Files.move(bound, path, StandardCopyOption.ATOMIC_MOVE);
      return listener;
    } catch (IOException | RuntimeException e) {
      listener.close();
      Files.deleteIfExists(bound);
      throw e;
    } finally {
      Files.deleteIfExists(privateDir);
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
