package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.testing.PostfixBackend;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;
import picocli.CommandLine;

/** {@code rcptproxy SUBCOMMAND}: probe, policy, config file and environment, completion. */
class RcptproxyCommandLineTest {
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();

  int run(String... args) {
    return Gateway.run(
        args,
        new ByteArrayInputStream(new byte[0]),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void probeReportsWhatPostfixAnswersAndRecommendsVrfy() {
    PostfixBackend postfix = PostfixBackend.shared();
    int code = run("probe", "--backend", "127.0.0.1:" + postfix.port(), "--domain", "example.test");
    System.out.print(out());
    assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(out())
        .contains("PIPELINING               yes")
        .contains("SMTPUTF8                 yes")
        .contains("STARTTLS                 no")
        .contains("RCPT answers honestly    yes")
        .contains("catch-all                no")
        .contains("VRFY answers honestly    yes")
        .contains("verifies senders         no")
        .containsPattern("rejections per session   delays replies by \\d+ ms after 10\\b")
        .containsPattern("VRFYs per session        delays replies by \\d+ ms after 1[01]\\d\\b")
        .contains("--probe-method vrfy")
        .contains("--max-rejections-per-session 8")
        .containsPattern("--max-vrfy-per-session 9\\d\\b");
  }

  @Test
  void probeFindsEximsSenderVerificationAndWhereItHangsUp() {
    try (io.github.rcptproxy.testing.EximBackend exim =
        io.github.rcptproxy.testing.EximBackend.start(
            io.github.rcptproxy.testing.EximBackend.Options.builder()
                .senderVerify()
                .vrfyAllowed()
                .dropAfterFailures(5)
                .build())) {
      int code = run("probe", "--backend", "127.0.0.1:" + exim.port(), "--domain", "example.test");
      System.out.print(out());
      assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isZero();
      assertThat(out())
          .contains("PIPELINING               yes")
          .contains("RCPT answers honestly    yes")
          .contains("VRFY answers honestly    yes")
          .contains("verifies senders         yes")
          .contains(
              "rejections per session   hangs up (last reply: 550 Administrative prohibition)"
                  + " after 7")
          .containsPattern("VRFYs per session        ends the session \\(554 .*\\) after 10\\b")
          .contains("--probe-sender ''")
          .contains("--max-rejections-per-session 5")
          .contains("--max-vrfy-per-session 9");
    }
  }

  @Test
  void probeOfACatchAllExitsWith4() {
    Wiser wiser =
        Wiser.accepter((from, to) -> true)
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    wiser.start();
    try {
      int code =
          run(
              "probe",
              "--backend",
              "127.0.0.1:" + wiser.getServer().getPortAllocated(),
              "--domain",
              "example.com",
              "--max-rejections",
              "5",
              "--max-vrfy",
              "5");
      assertThat(code).isEqualTo(ProbeCommand.DISHONEST);
      assertThat(out()).contains("catch-all                yes").contains("--probe-method rcpt");
    } finally {
      wiser.stop();
    }
  }

  @Test
  void probeOfABackendThatIsDownExitsWith1() throws IOException {
    int port;
    try (var socket = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    assertThat(run("probe", "--backend", "127.0.0.1:" + port, "--domain", "example.com"))
        .isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("rcptproxy probe: 127.0.0.1:");
  }

  @Test
  void policyFromAConfigFileAnswersPostfixRequests(@TempDir Path dir) throws IOException {
    PostfixBackend postfix = PostfixBackend.shared();
    Path config = dir.resolve("policy.properties");
    Files.writeString(
        config,
        "backend=127.0.0.1:" + postfix.port() + "\nreject-message=Gone: @\nlisten=127.0.0.1:0\n");
    CommandLine commandLine =
        Rcptproxy.commandLine(
            new String[] {"policy", "--config", config.toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    CommandLine.ParseResult parsed =
        commandLine.parseArgs("policy", "--config", config.toString(), "--reject-code", "554");
    PolicyCommand policy = (PolicyCommand) parsed.subcommand().commandSpec().userObject();
    try (PolicyCommand.Running running = policy.start();
        Socket socket = new Socket()) {
      socket.connect(running.server().address(), 5000);
      socket.setSoTimeout(10_000);
      OutputStream toServer = socket.getOutputStream();
      toServer.write(
          ("request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=nobody@example.test\n"
                  + "client_address=192.0.2.1\n\n")
              .getBytes(StandardCharsets.US_ASCII));
      InputStream fromServer = socket.getInputStream();
      byte[] answer = new byte[200];
      int n = fromServer.read(answer);
      assertThat(new String(answer, 0, n, StandardCharsets.US_ASCII))
          .isEqualTo("action=554 5.1.1 Gone: nobody@example.test\n\n");
    }
  }

  @Test
  void commandLineWinsOverEnvironmentWhichWinsOverTheConfigFile() {
    Properties file = new Properties();
    file.setProperty("reject-code", "551");
    file.setProperty("timeout-ms", "700");
    file.setProperty("helo", "from-file.example");
    CommandLine commandLine = new CommandLine(Rcptproxy.class);
    commandLine.setDefaultValueProvider(
        new ConfigDefaults(
            file, Map.of("RCPTPROXY_TIMEOUT_MS", "900", "RCPTPROXY_HELO", "from-env.example")));
    CommandLine.ParseResult parsed =
        commandLine.parseArgs("policy", "--backend", "h:25", "--helo", "from-command-line");
    PolicyCommand policy = (PolicyCommand) parsed.subcommand().commandSpec().userObject();
    assertThat(policy.rejectCode).isEqualTo(551);
    assertThat(policy.timeoutMs).isEqualTo(900);
    assertThat(policy.helo).isEqualTo("from-command-line");
    assertThat(policy.maxSessions).isEqualTo(8);
  }

  @Test
  void badOptionsExitWith2AndSayWhich() {
    assertThat(run("policy", "--backend", "127.0.0.1:25", "--reject-code", "250")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("reject code must be within 400..499 or 500..599, was 250");
    assertThat(run("policy", "--no-such-option")).isEqualTo(2);
    assertThat(run("probe", "--backend", "127.0.0.1:25")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--domain");
  }

  @Test
  void policyTakesTheBackendTransportOptionsOfTheGatewayWithTheSameChecks() {
    assertThat(
            run(
                "policy",
                "--backend",
                "127.0.0.1:25",
                "--backend-tls",
                "sometimes",
                "--listen",
                "127.0.0.1:0"))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("backend-tls");
    assertThat(
            run(
                "policy",
                "--backend",
                "127.0.0.1:25",
                "--backend-auth-user",
                "gateway",
                "--listen",
                "127.0.0.1:0"))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--backend-auth-user and --backend-auth-password-file go together");
    assertThat(run("policy", "--help")).isZero();
    assertThat(out())
        .contains("--backend-tls")
        .contains("--backend-ca")
        .contains("--backend-auth-user")
        .contains("--backend-auth-password-file")
        .contains("--backend-protocol");
  }

  @Test
  void everySubcommandHasItsOwnHelp() {
    for (String command : new String[] {"policy", "probe"}) {
      out.reset();
      assertThat(run(command, "--help")).isZero();
      assertThat(out()).startsWith("Usage: rcptproxy " + command).contains("Exit codes:");
    }
    out.reset();
    assertThat(run("gateway", "--help")).isZero();
    assertThat(out()).contains("listen HOST:PORT").contains("max-connections-per-client N");
    out.reset();
    assertThat(run("help")).isZero();
    assertThat(out()).contains("gateway").contains("policy").contains("probe").contains("demo");
  }

  @Test
  void completionScriptCoversTheSubcommandsAndTheirOptions() {
    assertThat(run("generate-completion")).isZero();
    assertThat(out())
        .contains("complete -F _complete_rcptproxy")
        .contains("policy")
        .contains("--on-unverified")
        .contains("probe")
        .contains("--max-connections-per-client")
        .contains("--tls-cert");
  }

  @Test
  void gatewayOptionsComeFromTheEnvironmentUnderTheCommandLineOverTheConfigFile(@TempDir Path dir)
      throws IOException {
    Path config = dir.resolve("gateway.properties");
    Files.writeString(config, "max-sessions=5\nhelo=from-file.example\nmax-recipients=50\n");
    GatewaySettings settings =
        GatewaySettings.parse(
            new String[] {
              "--config", config.toString(), "--domain", "example.com", "--helo=cli.example"
            },
            Map.of(
                "RCPTPROXY_BACKEND", "127.0.0.1:2525",
                "RCPTPROXY_MAX_SESSIONS", "3",
                "RCPTPROXY_HELO", "env.example"));
    assertThat(settings.verifier().backendPort()).isEqualTo(2525);
    assertThat(settings.verifier().maxSessions()).isEqualTo(3);
    assertThat(settings.verifier().heloName()).isEqualTo("cli.example");
    assertThat(settings.limits().maxRecipients()).isEqualTo(50);
  }

  @Test
  void oldAndNewGatewayCommandLinesAreTheSame() {
    assertThat(run("--listen", "127.0.0.1:0", "--domain", "example.com")).isEqualTo(2);
    String old = err.toString(StandardCharsets.UTF_8);
    err.reset();
    assertThat(run("gateway", "--listen", "127.0.0.1:0", "--domain", "example.com")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .isEqualTo(old)
        .isEqualTo("rcptproxy-gateway: --backend HOST:PORT is required (or --demo)\n");
  }

  @Test
  void oldVerifyInvocationAndTheSubcommandGiveTheSameOutput() {
    PostfixBackend postfix = PostfixBackend.shared();
    String backend = "127.0.0.1:" + postfix.port();
    assertThat(run("verify", "--backend", backend, "user1@example.test", "nobody@example.test"))
        .isZero();
    assertThat(out())
        .contains("user1@example.test\tACCEPTED")
        .contains("nobody@example.test\tREJECTED");
  }
}
