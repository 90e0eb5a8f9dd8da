package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code rcptproxy policy --listen unix:PATH | systemd} and the socket file's options. */
@RealServers
class PolicyListenTest {
  final ByteArrayOutputStream err = new ByteArrayOutputStream();
  @TempDir Path dir;

  int run(String... args) {
    return Rcptproxy.run(
        args,
        new ByteArrayInputStream(new byte[0]),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void listensOnAUnixSocketWithTheModeAndGroupGiven() throws IOException {
    Path socket = dir.resolve("policy.sock");
    PolicyCommand policy =
        policyOnTheBackend(
            "--listen", "unix:" + socket, "--socket-mode", "0600", "--socket-group", "postfix");
    try (PolicyCommand.Running running = policy.start();
        SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)))
          .isEqualTo("rw-------");
      assertThat(Files.getAttribute(socket, "posix:group", LinkOption.NOFOLLOW_LINKS))
          .hasToString("postfix");
      channel.write(
          StandardCharsets.US_ASCII.encode(
              "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=nobody@example.test\n"
                  + "client_address=192.0.2.1\n\n"));
      ByteBuffer answer = ByteBuffer.allocate(200);
      while (answer.position() < 2 || answer.get(answer.position() - 1) != '\n') {
        assertThat(channel.read(answer)).isPositive();
      }
      assertThat(new String(answer.array(), 0, answer.position(), StandardCharsets.US_ASCII))
          .isEqualTo("action=550 5.1.1 Unable to relay to nobody@example.test\n\n");
    }
    assertThat(socket).doesNotExist();
  }

  /** Postfix's relay_domains covers sub.example.test too: unrouted, it is answered DUNNO. */
  @Test
  void aDomainRoutedWithoutItsSubdomainsIsWarnedOfOnce() {
    String warning = "example.test is verified, its subdomains are not";
    assertThat(warningsStarting("example.test"))
        .containsOnlyOnce(warning)
        .contains("add *.example.test");
    assertThat(warningsStarting("example.test,*.example.test"))
        .doesNotContain("subdomains are not");
  }

  /** {@code policy} verifying against the shared backend, with {@code options}, parsed. */
  static PolicyCommand policyOnTheBackend(String... options) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "policy",
                "--backend",
                "127.0.0.1:" + PostfixBackend.shared().port(),
                "--known-good",
                PostfixBackend.known(0)));
    args.addAll(List.of(options));
    return CommandRun.parse(PolicyCommand.class, args.toArray(String[]::new));
  }

  /** What {@code policy --domain domains} printed to standard error as it started. */
  String warningsStarting(String domains) {
    StringWriter printed = new StringWriter();
    PolicyCommand policy = policyOnTheBackend("--domain", domains, "--listen", "127.0.0.1:0");
    policy.spec.commandLine().setErr(new PrintWriter(printed, true));
    try (PolicyCommand.Running running = policy.start()) {
      return printed.toString();
    }
  }

  /** The exit code of {@code policy} on a UNIX socket with {@code option value}. */
  int onUnixSocketWith(String option, String value) {
    String socket = "unix:" + dir.resolve("p.sock");
    return run("policy", "--backend", "h:25", "--listen", socket, option, value);
  }

  @ParameterizedTest
  @ValueSource(strings = {"0888", "1777", "rw-rw----", "66", "00660"})
  void aSocketModeThatIsNotOctalPermissionsIsRefused(String mode) {
    assertThat(onUnixSocketWith("--socket-mode", mode)).isEqualTo(2);
    assertThat(err())
        .contains("--socket-mode")
        .contains("'" + mode + "' is not octal permissions from 000 to 777, as 0660");
  }

  @Test
  void anUnknownSocketGroupIsRefused() {
    assertThat(onUnixSocketWith("--socket-group", "no-such-group-here")).isEqualTo(2);
    assertThat(err()).contains("socket group 'no-such-group-here' does not exist");
  }

  @Test
  void socketOptionsWithoutAUnixSocketAreRefused() {
    assertThat(run("policy", "--backend", "h:25", "--socket-mode", "0660")).isEqualTo(2);
    assertThat(err()).contains("--socket-mode and --socket-group apply to --listen unix:PATH only");
  }

  @Test
  void aRelativeUnixSocketPathIsRefused() {
    assertThat(run("policy", "--backend", "h:25", "--listen", "unix:private/policy")).isEqualTo(2);
    assertThat(err()).contains("'unix:private/policy': a UNIX socket needs an absolute path");
  }

  @Test
  void systemdWithoutAnInheritedSocketDoesNotStart() {
    assertThat(run("policy", "--backend", "127.0.0.1:25", "--listen", "systemd")).isEqualTo(1);
    assertThat(err())
        .contains("cannot listen on systemd: no listening socket on standard input")
        .contains("StandardInput=socket");
  }
}
