package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The shaded jar under socket activation, as systemd starts it: {@code systemd-socket-activate}
 * binds the socket file and passes it as fd 3 with {@code LISTEN_PID} set to the child it runs,
 * which moves it to standard input ({@code exec java ... 0<&3 3<&-}, as the launcher does); a real
 * client and a real Postfix front then talk to {@code rcptproxy policy --listen systemd}.
 */
@RealServers
class PolicySystemdIT {
  static final Path ACTIVATE = Path.of("/usr/bin/systemd-socket-activate");
  Path dir;
  Path socket;
  Path log;
  Process process;

  @BeforeEach
  void start() throws IOException {
    if (!Files.isExecutable(ACTIVATE)) {
      if ("true".equals(System.getenv("CI"))) {
        fail("CI=true but " + ACTIVATE + " is missing (the systemd package)");
      }
      Assumptions.abort("needs " + ACTIVATE + " (the systemd package)");
    }
    // Postfix's smtpd (user postfix) must reach the socket: a directory it can enter
    dir = Files.createTempDirectory("rcptproxy-systemd-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    socket = dir.resolve("policy.sock");
    log = dir.resolve("policy.log");
    List<String> command =
        new ArrayList<>(
            List.of(
                ACTIVATE.toString(),
                "-l",
                socket.toString(),
                "--",
                "sh",
                "-c",
                "exec \"$0\" -jar \"$1\" policy --listen systemd --backend \"$2\" --known-good"
                    + " \"$3\" 0<&3 3<&-",
                GatewayProcess.java().get(0),
                Path.of("target", "rcptproxy.jar").toAbsolutePath().toString(),
                "127.0.0.1:" + PostfixBackend.shared().port(),
                PostfixBackend.known(0)));
    process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(socket));
    // what the socket unit's SocketGroup=postfix and SocketMode=0660 do
    Files.setAttribute(
        socket,
        "posix:group",
        socket
            .getFileSystem()
            .getUserPrincipalLookupService()
            .lookupPrincipalByGroupName("postfix"));
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
  }

  @AfterEach
  void stop() throws Exception {
    if (process != null) {
      process.destroy();
      process.waitFor(20, TimeUnit.SECONDS);
      System.out.print(Files.readString(log));
      Files.deleteIfExists(socket);
      Files.deleteIfExists(log);
      Files.deleteIfExists(dir);
    }
  }

  static String ask(Path socket, String recipient) throws IOException {
    try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      channel.write(
          StandardCharsets.US_ASCII.encode(
              "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient="
                  + recipient
                  + "\nclient_address=192.0.2.1\n\n"));
      ByteBuffer answer = ByteBuffer.allocate(200);
      while (answer.position() < 2 || answer.get(answer.position() - 1) != '\n') {
        if (channel.read(answer) < 0) {
          break;
        }
      }
      return new String(answer.array(), 0, answer.position(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void servesOnTheSocketSystemdPassedAndLeavesItToSystemd() throws Exception {
    // the first connection makes systemd-socket-activate start the jar; it waits in the backlog
    assertThat(ask(socket, "nobody@example.test"))
        .isEqualTo("action=550 5.1.1 Unable to relay to nobody@example.test\n\n");
    assertThat(ask(socket, PostfixBackend.known(3))).isEqualTo("action=DUNNO\n\n");
    assertThat(Files.readString(log)).contains("listening on " + socket);
    process.destroy();
    assertThat(process.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(socket).as("the service manager's to remove").exists();
  }

  @Test
  void aPostfixFrontAsksItOverTheUnixSocket() throws IOException {
    try (PostfixBackend front =
            PostfixBackend.start(
                List.of(
                    "myhostname = front.example.test",
                    "virtual_mailbox_domains =",
                    "relay_domains = example.test",
                    "relayhost = [127.0.0.1]:" + PostfixBackend.shared().port(),
                    "smtpd_recipient_restrictions = reject_unauth_destination,"
                        + " check_policy_service unix:"
                        + socket));
        SmtpClient client = new SmtpClient("127.0.0.1", front.port())) {
      assertThat(client.readReply()).startsWith("220");
      assertThat(client.send("EHLO client.example.net")).startsWith("250");
      assertThat(client.send("MAIL FROM:<someone@client.example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.test>")).startsWith("550 5.1.1");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(5) + ">")).startsWith("250");
    }
  }
}
