package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped {@code rcptproxy.jar} logs as Postfix admins expect: one line per rejected recipient
 * (client, recipient, reply) and one per relayed message; the accepted recipients only at DEBUG,
 * which is off.
 */
class GatewayJarLoggingIT {
  @TempDir Path dir;

  @Test
  void oneLinePerRejectionAndPerRelayedMessageAndNoneForAcceptedRecipients() throws Exception {
    try (ScriptedSmtpServer backend =
            ScriptedSmtpServer.start(
                ScriptedSmtpServer.dialogue(
                    address ->
                        address.startsWith("nobody")
                            ? "550 5.1.1 User unknown\r\n"
                            : "250 2.1.5 Ok\r\n"));
        GatewayProcess gateway =
            GatewayProcess.fromJar(
                dir.resolve("gateway.log"),
                "--backend",
                "127.0.0.1:" + backend.port(),
                "--domain",
                "example.com",
                "--bypass",
                "",
                "--bypass-backend",
                "false")) {
      try (EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
        assertThat(client.reply()).startsWith("220");
        client.send("EHLO client.example.net");
        assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
        assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
        assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550 5.1.1");
        assertThat(client.send("RCPT TO:<bob@example.com>")).startsWith("250");
        client.send("DATA");
        assertThat(client.send("Subject: log\r\n\r\nhello\r\n.")).startsWith("250");
      }
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> gateway.log().contains("relayed <you@example.net>"));
      List<String> lines = gateway.log().lines().toList();
      assertThat(lines)
          .filteredOn(line -> line.contains("nobody@example.com"))
          .singleElement()
          .asString()
          .contains(
              " INFO ", "127.0.0.2 RCPT nobody@example.com: 550 5.1.1 Unable to relay to nobody");
      assertThat(lines)
          .filteredOn(line -> line.contains("relayed <you@example.net>"))
          .singleElement()
          .asString()
          .contains(" INFO ", "127.0.0.2", "2 recipient(s)");
      assertThat(lines)
          .as("accepted recipients only at DEBUG, which is off")
          .noneMatch(line -> line.contains("alice@example.com") || line.contains("bob@example.com"))
          .noneMatch(line -> line.contains("DEBUG"));
    }
  }
}
