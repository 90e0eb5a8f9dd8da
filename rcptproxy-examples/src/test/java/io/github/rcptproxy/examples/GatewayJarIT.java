package io.github.rcptproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded {@code rcptproxy-gateway.jar} as users run it (after {@code package}, by failsafe):
 * its {@code --help} is the README's option list, and the README's gateway promises hold for a
 * client at the edge: STARTTLS, the Received header, postmaster, declared parameters only, limits
 * per client address.
 */
class GatewayJarIT {
  @TempDir Path dir;

  @Test
  void helpListsEveryOption() throws Exception {
    String help = GatewayProcess.runJar(dir.resolve("help.log"), "--help");
    assertThat(help).contains(GatewaySettings.OPTIONS);
  }

  @Test
  void theJarKeepsTheReadmesPromisesAtTheEdge() throws Exception {
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    TestTls.makeCertificate(cert, key, "mx.example.com");
    try (ScriptedSmtpServer backend = EsmtpBackend.wellBehaved().start();
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
                "false",
                "--hostname",
                "mx.example.com",
                "--tls-cert",
                cert.toString(),
                "--tls-key",
                key.toString(),
                "--max-connections-per-client",
                "2")) {
      try (EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
        assertThat(client.reply()).startsWith("220");
        try (EdgeClient second = EdgeClient.connect("127.0.0.2", gateway.port())) {
          assertThat(second.reply()).startsWith("220");
          try (EdgeClient third = EdgeClient.connect("127.0.0.2", gateway.port())) {
            assertThat(third.reply()).startsWith("421 4.7.0"); // two per address at once
          }
        }
        client.send("HELO client.example.net");
        assertThat(client.send("MAIL FROM:<you@example.net> BODY=8BITMIME")).startsWith("555");
        assertThat(client.send("STARTTLS")).startsWith("220");
        client.startTls(TestTls.trusting(cert));
        client.send("EHLO client.example.net");
        assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
        assertThat(client.send("RCPT TO:<postmaster>")).startsWith("250");
        assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
        client.send("DATA");
        assertThat(client.send("Subject: jar\r\n\r\nhello\r\n.")).startsWith("250");
      }
      assertThat(backend.received())
          .contains("RCPT TO:<postmaster@example.com>")
          .contains("Received: from client.example.net ([127.0.0.2])\r\n\t(using TLSv1.")
          .contains("by mx.example.com (rcptproxy-gateway) with ESMTPS id ");
    }
  }
}
