package io.github.rcptproxy.gateway.front;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's hang-ups after refused recipients: every refused RCPT counts toward {@code
 * disconnect-after}, as toward Postfix's {@code smtpd_hard_error_limit}; past it, or past the
 * per-client cool-down limit, the next MAIL or RCPT gets {@code 421} and the connection is closed,
 * the {@code 421} read by the client whatever it pipelined.
 */
class HangUpTest {
  /** A mailbox the backend has, so that its refusals are confirmed from the first one. */
  private static final Consumer<GatewaySettings.Builder> KNOWN_GOOD =
      s -> s.verifier(v -> v.knownGood("alice@example.com"));

  private ScriptedSmtpServer backend;

  @BeforeEach
  void start() {
    backend =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(
                address ->
                    address.contains("nobody")
                        ? "550 5.1.1 User unknown\r\n"
                        : "250 2.1.5 Ok\r\n"));
  }

  @AfterEach
  void stop() throws Exception {
    backend.close();
  }

  private RunningGateway disconnectingAfter(int rejections) {
    return TestGateway.start(
        backend.port(),
        "example.com",
        KNOWN_GOOD.andThen(s -> s.policy(p -> p.disconnectAfterRejections(rejections))));
  }

  /** A RCPT past disconnect-after gets 421, then the connection is closed. */
  private static void assertHungUp(EdgeClient client) throws IOException {
    assertThat(client.send("RCPT TO:<alice@example.com>"))
        .isEqualTo("421 4.7.0 Too many rejected recipients, closing connection");
    assertThat(client.reply()).as("the connection is closed").isNull();
  }

  private static EdgeClient inTransaction(RunningGateway gateway) throws Exception {
    EdgeClient client = EdgeClient.connect(gateway.port());
    assertThat(client.reply()).startsWith("220");
    assertThat(client.send("EHLO client.test")).startsWith("250");
    assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
    return client;
  }

  @Test
  void relayingDeniedAndMalformedRcptLinesCountTowardDisconnectAfter() throws Exception {
    try (RunningGateway gateway = disconnectingAfter(3);
        EdgeClient client = inTransaction(gateway)) {
      assertThat(client.send("RCPT TO:<someone@elsewhere.test>"))
          .isEqualTo("550 5.7.1 Relaying denied");
      assertThat(client.send("RCPT TO:<alice@example.com> FOO=1")).startsWith("555 5.5.4");
      assertThat(client.send("RCPT TO:")).startsWith("501");
      assertHungUp(client);
    }
  }

  @Test
  void rcptWithoutMailPastTheLimitGets421AndTheClose() throws Exception {
    try (RunningGateway gateway = disconnectingAfter(1);
        EdgeClient client = inTransaction(gateway)) {
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550 5.1.1");
      assertThat(client.send("RSET")).startsWith("250");
      assertHungUp(client);
    }
  }

  /** A reloaded configuration keeps the sessions' counts: a client cannot wait for a reload. */
  @Test
  void refusalsBeforeAConfigReloadStillCount(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("reject-message.txt");
    Files.writeString(config, "First @");
    Supplier<GatewaySettings> reader =
        () ->
            TestGateway.settings(
                backend.port(),
                "example.com",
                KNOWN_GOOD.andThen(
                    s ->
                        s.policy(p -> p.disconnectAfterRejections(2).rejectMessage(read(config)))));
    try (RunningGateway gateway =
            RunningGateway.start(reader.get(), new RunningGateway.ConfigFile(config, reader));
        EdgeClient client = inTransaction(gateway)) {
      assertThat(client.send("RCPT TO:<nobody1@example.com>")).contains("First");
      Files.writeString(config, "Second @");
      Files.setLastModifiedTime(config, FileTime.fromMillis(System.currentTimeMillis() + 2000));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                try (EdgeClient other = inTransaction(gateway)) {
                  return other.send("RCPT TO:<nobody@example.com>").contains("Second");
                }
              });
      assertThat(client.send("RSET")).startsWith("250");
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody2@example.com>")).contains("Second");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("421 4.7.0");
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Closing a socket with unread input sends a TCP reset, which can destroy the {@code 421} before
   * the client reads it: what the client pipelined behind is read first.
   */
  @Test
  void coolDownHangUpIsReadByAClientThatPipelinedMuchMore() throws Exception {
    try (RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                "example.com",
                TestGateway.noDisconnect()
                    .andThen(KNOWN_GOOD)
                    .andThen(s -> s.maxRejectedPerClient(1)));
        EdgeClient client = inTransaction(gateway)) {
      client.raw(
          "RCPT TO:<nobody1@example.com>\r\nRCPT TO:<nobody2@example.com>\r\n"
              + "RCPT TO:<alice@example.com>\r\n"
              + "NOOP\r\n".repeat(20_000));
      assertThat(client.reply()).startsWith("550");
      assertThat(client.reply()).startsWith("550");
      assertThat(client.reply())
          .isEqualTo("421 4.7.0 Too many rejected recipients from your address, try again later");
      assertThat(client.reply()).isNull();
      // Closed with its input read, the connection ended with a FIN, not a reset: a client's QUIT
      // after the 421 is still written, where a reset makes it fail ("lost connection").
      assertThatCode(() -> client.raw("QUIT\r\n")).doesNotThrowAnyException();
    }
  }
}
