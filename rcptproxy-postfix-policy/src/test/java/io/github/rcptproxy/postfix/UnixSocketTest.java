package io.github.rcptproxy.postfix;

import static io.github.rcptproxy.postfix.PolicyClient.rcpt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The policy server on a UNIX socket file: its permissions, a stale file, and its removal. */
class UnixSocketTest {
  final ScriptedVerifier verifier = new ScriptedVerifier(PolicyServerTest::script);
  @TempDir Path dir;
  PolicyServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  PolicyServer.Builder builder(Path socket) {
    return PolicyServer.builder()
        .listen(UnixDomainSocketAddress.of(socket))
        .route("example.test", verifier, PolicyAnswers.defaults());
  }

  String ask() throws IOException {
    try (PolicyClient client = new PolicyClient(server.address())) {
      return client.ask(rcpt("nobody@example.test", "192.0.2.1"));
    }
  }

  @Test
  void servesOnTheSocketFileWithItsModeAndGroupAndDeletesItOnClose() throws IOException {
    Path socket = dir.resolve("policy.sock");
    server = builder(socket).socketGroup("postfix").start();
    assertThat(server.address()).isEqualTo(UnixDomainSocketAddress.of(socket));
    assertThat(ask()).isEqualTo("action=550 5.1.1 Unable to relay to nobody@example.test");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)))
        .isEqualTo("rw-rw----");
    assertThat(Files.getAttribute(socket, "posix:group", LinkOption.NOFOLLOW_LINKS))
        .hasToString("postfix");
    server.close();
    assertThat(socket).doesNotExist();
  }

  /**
   * The socket gets its group and mode before it appears at its path, and a symlink swapped in at
   * that path meanwhile is replaced, not followed: chmod by name at the path made a file the link
   * pointed to group-writable, and the socket was open with the umask's mode until then.
   */
  @Test
  void theSocketAppearsWithItsModeByARenameThatASymlinkSwappedInDoesNotRedirect()
      throws IOException {
    Path socket = dir.resolve("policy.sock");
    Path victim = Files.createFile(dir.resolve("victim"));
    Files.setPosixFilePermissions(victim, PosixFilePermissions.fromString("rw-------"));
    server =
        builder(socket)
            .socketGroup("postfix")
            .beforeRename(
                bound -> {
                  assertThat(socket).doesNotExist();
                  try {
                    assertThat(mode(bound)).isEqualTo("rw-rw----");
                    assertThat(mode(bound.getParent())).isEqualTo("rwx------");
                    Files.createSymbolicLink(socket, victim);
                  } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                  }
                })
            .start();
    assertThat(mode(victim)).isEqualTo("rw-------");
    assertThat(Files.isSymbolicLink(socket)).isFalse();
    assertThat(mode(socket)).isEqualTo("rw-rw----");
    assertThat(Files.getAttribute(socket, "posix:group", LinkOption.NOFOLLOW_LINKS))
        .hasToString("postfix");
    assertThat(ask()).isEqualTo("action=550 5.1.1 Unable to relay to nobody@example.test");
    try (var left = Files.list(dir)) {
      assertThat(left.map(p -> p.getFileName().toString()))
          .as("the private directory is gone")
          .containsExactlyInAnyOrder("policy.sock", "victim");
    }
  }

  static String mode(Path path) throws IOException {
    return PosixFilePermissions.toString(
        Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void theModeCanBeSet() throws IOException {
    Path socket = dir.resolve("policy.sock");
    server =
        builder(socket).socketPermissions(PosixFilePermissions.fromString("rw-------")).start();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)))
        .isEqualTo("rw-------");
  }

  @Test
  void aSocketFileNobodyListensOnIsReplaced() throws IOException {
    Path socket = dir.resolve("policy.sock");
    try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      crashed.bind(UnixDomainSocketAddress.of(socket)); // closing it leaves the file, as a crash
    }
    assertThat(socket).exists();
    server = builder(socket).start();
    assertThat(ask()).startsWith("action=550");
  }

  @Test
  void aSocketSomeoneListensOnIsRefusedAndLeftAlone() throws IOException {
    Path socket = dir.resolve("policy.sock");
    try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      other.bind(UnixDomainSocketAddress.of(socket));
      assertThatThrownBy(() -> builder(socket).start())
          .isInstanceOf(IOException.class)
          .hasMessage(socket + " is in use: another server listens on it");
      assertThat(socket).exists();
    }
  }

  @Test
  void aFileThatIsNotASocketIsRefusedAndLeftAlone() throws IOException {
    Path file = Files.writeString(dir.resolve("policy.sock"), "mine");
    assertThatThrownBy(() -> builder(file).start())
        .isInstanceOf(IOException.class)
        .hasMessage(file + " exists and is not a socket; not replaced");
    assertThat(file).hasContent("mine");
  }

  @Test
  void anUnknownGroupIsRefused() {
    assertThatThrownBy(() -> PolicyServer.builder().socketGroup("no-such-group-here"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("socket group 'no-such-group-here' does not exist");
  }

  @Test
  void inheritedWithoutAListeningSocketOnStandardInputFailsToStart() {
    assertThatThrownBy(
            () ->
                PolicyServer.builder()
                    .listenInherited()
                    .route("example.test", verifier, PolicyAnswers.defaults())
                    .start())
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("no listening socket on standard input");
  }
}
