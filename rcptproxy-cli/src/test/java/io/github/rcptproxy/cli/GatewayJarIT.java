package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.EsmtpBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.TestTls;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The shaded {@code rcptproxy.jar} as users run it (after {@code package}, by failsafe): its {@code
 * --help} is the README's option list, and the README's gateway promises hold for a client at the
 * edge: STARTTLS, the Received header, postmaster, declared parameters only, limits per client
 * address.
 */
@RealServers
class GatewayJarIT {
  @TempDir Path dir;

  @Test
  void theJarsMainIsTheRcptproxyCommandWhoseGatewayHelpListsEveryOption() throws Exception {
    String help = GatewayProcess.runJar(dir.resolve("help.log"), "gateway", "--help");
    assertThat(help).startsWith("Usage: rcptproxy gateway");
    for (OptionSpec option :
        new CommandLine(Rcptproxy.class)
            .getSubcommands()
            .get("gateway")
            .getCommandSpec()
            .options()) {
      assertThat(help).contains(option.longestName());
    }
    assertThat(GatewayProcess.runJar(dir.resolve("usage.log"))).contains("Usage: rcptproxy");
  }

  @Test
  void theJarIsTheRcptproxyCommandWithHelpAndCompletion() throws Exception {
    assertThat(GatewayProcess.runJar(dir.resolve("policy-help.log"), "policy", "--help"))
        .startsWith("Usage: rcptproxy policy");
    assertThat(GatewayProcess.runJar(dir.resolve("completion.log"), "generate-completion"))
        .contains("complete -F _complete_rcptproxy");
  }

  @Test
  void theJarRunsThePolicyServer() throws Exception {
    int port;
    int closed;
    try (java.net.ServerSocket a =
            new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        java.net.ServerSocket b =
            new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = a.getLocalPort();
      closed = b.getLocalPort();
    }
    Path log = dir.resolve("policy.log");
    java.util.List<String> command = new java.util.ArrayList<>(GatewayProcess.java());
    command.addAll(
        java.util.List.of(
            "-jar",
            Path.of("target", "rcptproxy.jar").toString(),
            "policy",
            "--listen",
            "127.0.0.1:" + port,
            "--backend",
            "127.0.0.1:" + closed,
            "--on-unverified",
            "tempfail"));
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(20))
          .until(() -> java.nio.file.Files.readString(log).contains("listening on"));
      try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
        socket.setSoTimeout(10_000);
        socket
            .getOutputStream()
            .write(
                "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=a@example.com\n\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        byte[] answer = new byte[200];
        int n = socket.getInputStream().read(answer);
        assertThat(new String(answer, 0, n, java.nio.charset.StandardCharsets.US_ASCII))
            .isEqualTo(
                "action=DEFER_IF_PERMIT 4.4.3 Recipient verification unavailable,"
                    + " try again later\n\n");
      }
    } finally {
      process.destroy();
      process.waitFor();
    }
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
