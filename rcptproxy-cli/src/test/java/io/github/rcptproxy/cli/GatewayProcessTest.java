package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gateway as its own process, stopped by SIGTERM while a message is being relayed. */
class GatewayProcessTest {

  @Test
  void sigtermLetsTheMessageInFlightFinish(@TempDir Path dir) throws Exception {
    Path log = dir.resolve("gateway.log");
    CountDownLatch inData = new CountDownLatch(1);
    try (ScriptedSmtpServer backend =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(
                address -> "250 2.1.5 Ok\r\n",
                endOfData -> {
                  inData.countDown();
                  Thread.sleep(1000); // the backend takes its time: SIGTERM arrives meanwhile
                  return "250 2.0.0 queued\r\n";
                }))) {
      try (GatewayProcess gateway =
          GatewayProcess.fromClassPath(
              log,
              "--backend",
              "127.0.0.1:" + backend.port(),
              "--domain",
              "example.com",
              "--bypass",
              "",
              "--bypass-backend",
              "false")) {
        try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
          client.readReply();
          client.send("EHLO client.test");
          client.send("MAIL FROM:<you@example.net>");
          assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
          client.send("DATA");
          client.sendRaw("Subject: sigterm\r\n\r\nhello\r\n.\r\n");
          assertThat(inData.await(10, TimeUnit.SECONDS)).isTrue();

          gateway.process().destroy(); // SIGTERM

          assertThat(client.readReply()).isEqualTo("250 Ok");
        }
        assertThat(gateway.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
        await()
            .atMost(Duration.ofSeconds(5))
            .until(() -> Files.readString(log).contains("gateway stopped"));
        assertThat(backend.received()).contains("hello\r\n.\r\n");
      }
    }
  }
}
