package io.github.rcptproxy.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Postfix's own fault-injecting test server, {@code smtp-sink}, on a free loopback port, with its
 * fault flags ({@code -f rcpt}: 5xx, {@code -r rcpt}: 4xx, {@code -Q rcpt}: 421 and hang up, {@code
 * -q rcpt}: hang up, {@code -W rcpt:5}: wait 5 s). Skipped without it, except under CI.
 */
public final class SmtpSink implements AutoCloseable {
  private static final Path BINARY = Path.of("/usr/sbin/smtp-sink");

  private final Process process;
  private final int port;

  private SmtpSink(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  public static SmtpSink start(String... flags) {
    boolean available =
        Files.isExecutable(BINARY) && "root".equals(System.getProperty("user.name"));
    if (!available && "true".equals(System.getenv("CI"))) {
      Assertions.fail("CI=true but smtp-sink is not usable here (needs root and " + BINARY + ")");
    }
    Assumptions.assumeTrue(
        available, "smtp-sink tests skipped: install postfix and run as root (.ci/run does)");
    try {
      int port;
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        port = socket.getLocalPort();
      }
      List<String> command = new ArrayList<>(List.of(BINARY.toString(), "-u", "nobody"));
      command.addAll(List.of(flags));
      command.addAll(List.of("127.0.0.1:" + port, "10"));
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      SmtpSink sink = new SmtpSink(process, port);
      await("smtp-sink on port " + port)
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptions()
          .until(
              () -> {
                try (SmtpClient client = new SmtpClient("127.0.0.1", port)) {
                  return client.readReply().startsWith("220");
                }
              });
      return sink;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public int port() {
    return port;
  }

  @Override
  public void close() {
    process.destroy();
  }
}
