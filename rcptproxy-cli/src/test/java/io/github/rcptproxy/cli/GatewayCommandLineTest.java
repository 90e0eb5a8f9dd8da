package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** {@code rcptproxy gateway}: its options, their sources and checks, and the reload. */
class GatewayCommandLineTest {
  /** The gateway's options as they were before it became a picocli subcommand: none is lost. */
  private static final List<String> OPTIONS =
      List.of(
          "listen",
          "hostname",
          "backend",
          "domain",
          "helo",
          "backend-tls",
          "backend-ca",
          "backend-auth-user",
          "backend-auth-password-file",
          "backend-protocol",
          "probe-sender",
          "probe-method",
          "timeout-ms",
          "connect-timeout-ms",
          "idle-timeout-s",
          "max-age-s",
          "max-sessions",
          "bypass",
          "bypass-backend",
          "reject-code",
          "reject-message",
          "expose-backend-reply",
          "disconnect-after",
          "no-disconnect",
          "on-unverified",
          "on-backend-tempfail",
          "tarpit-ms",
          "max-message-size",
          "max-recipients",
          "max-connections",
          "max-connections-per-client",
          "max-rejected-per-client",
          "rejected-cooldown-s",
          "postmaster",
          "tls-cert",
          "tls-key",
          "require-tls",
          "command-timeout-s",
          "relay-timeout-s",
          "relay-connections",
          "cache-positive-ttl-s",
          "cache-negative-ttl-s",
          "cache-max-entries",
          "catch-all-ttl-s",
          "state-dir",
          "metrics-listen",
          "summary-interval-s",
          "config");

  private final CommandRun command = new CommandRun();

  private static List<OptionSpec> gatewayOptions() {
    return new CommandLine(Rcptproxy.class)
        .getSubcommands()
        .get("gateway")
        .getCommandSpec()
        .options();
  }

  @Test
  void helpListsEveryOptionWithItsTextAndDefaultFromTheAnnotations() {
    assertThat(command.run("gateway", "--help")).isZero();
    assertThat(command.out()).startsWith("Usage: rcptproxy gateway");
    String help = command.out().replaceAll("\\s+", " "); // as wrapped at any width
    for (OptionSpec option : gatewayOptions()) {
      String text = option.description()[0];
      assertThat(help)
          .contains(option.longestName())
          .contains(text.startsWith("$") ? "" : text.substring(0, text.indexOf(' ', 12)));
    }
    assertThat(gatewayOptions().stream().map(o -> o.longestName().substring(2)))
        .containsAll(OPTIONS);
    assertThat(help)
        .contains("Default: 127.0.0.1:2525")
        .contains("a client is an IPv4 address or an IPv6 /64")
        .contains("none, opportunistic, required, verify")
        .contains("--max-rejections-per-session") // the verifier's, as rcptproxy probe tells
        .contains("RCPTPROXY_TIMEOUT_MS")
        .contains("Exit codes:");
  }

  @Test
  void docsNameEveryOption() throws IOException {
    String docs = Files.readString(Path.of("..", "docs", "configuration.md"));
    for (OptionSpec option : gatewayOptions()) {
      if (!option.usageHelp() && !option.versionHelp()) {
        assertThat(docs).as("docs/configuration.md").contains(option.longestName().substring(2));
      }
    }
  }

  @Test
  void aCommandLineWithoutCommandIsRefusedWithTheListOfCommands() {
    assertThat(command.run("--listen", "127.0.0.1:0", "--backend", "127.0.0.1:25")).isEqualTo(2);
    assertThat(command.err())
        .startsWith("rcptproxy: Unknown options: '--listen'")
        .contains("Usage: rcptproxy")
        .contains("gateway", "policy", "verify", "probe", "demo");
    assertThat(command.out()).isEmpty();
  }

  @Test
  void noArgumentsPrintUsageAndExit2() {
    assertThat(command.run()).isEqualTo(2);
    assertThat(command.err())
        .startsWith("rcptproxy: Missing required subcommand")
        .contains("Usage: rcptproxy")
        .contains("gateway", "policy", "verify", "probe", "demo");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "--listen 127.0.0.1:0 --domain example.com",
        "--listen 127.0.0.1:0 --backend 127.0.0.1:25",
        "--backend 127.0.0.1:25 --domain example.com --reject-code 300",
        "--backend 127.0.0.1:25 --domain example.com --timeout-ms soon",
        "--backend 127.0.0.1:25 --domain example.com --on-unverified maybe",
        "--backend 127.0.0.1:25 --domain example.com --bypass not-an-ip",
        "--backend 127.0.0.1:25 --domain exa_mple.com --listen 127.0.0.1:0",
        "--backend 127.0.0.1:25 --domain example.com --frobnicate 1",
        "--backend 127.0.0.1:25 --domain example.com stray",
        "--backend 127.0.0.1:25 --domain *.example.com",
        "--backend 127.0.0.1:25 --domain example.com --postmaster nobody",
        "--backend 127.0.0.1:25 --domain example.com --tls-cert cert.pem",
        "--backend 127.0.0.1:25 --domain example.com --require-tls",
        "--backend 127.0.0.1:25 --domain example.com --tls-cert /no/cert --tls-key /no/key",
        "--backend 127.0.0.1:25 --domain example.com --cache-max-entries 5",
        "--backend 127.0.0.1:25 --domain example.com --state-dir /nonexistent/state",
        "--backend 127.0.0.1:25 --domain example.com --hostname bad_name",
        "--backend 127.0.0.1:25 --domain example.com --bypass-backend maybe",
        "--backend 127.0.0.1:25 --domain example.com --listen 127.0.0.1:+25",
        "--backend 127.0.0.1:25 --domain example.com --metrics-listen 127.0.0.1:+9465",
        "--config /nonexistent/gateway.properties"
      })
  void badArgumentsGiveOneLineAndExitCode2(String commandLine) {
    assertThat(command.run(("gateway " + commandLine).split(" "))).isEqualTo(2);
    assertThat(command.err().lines())
        .singleElement()
        .satisfies(line -> assertThat(line).startsWith("rcptproxy gateway: "));
  }

  @Test
  void badBackendOptionCombinationsAreRefusedInOneLine(@TempDir Path dir) throws IOException {
    Path password = dir.resolve("password");
    Files.writeString(password, "secret\n");
    assertThat(gatewayError("--backend-ca", "ca.pem"))
        .contains("tls trust (a CA) is used only with tls VERIFY");
    assertThat(gatewayError("--backend-auth-user", "probe"))
        .contains("--backend-auth-user and --backend-auth-password-file go together");
    assertThat(
            gatewayError(
                "--backend-auth-user",
                "probe",
                "--backend-auth-password-file",
                password.toString()))
        .contains("auth needs tls REQUIRED or VERIFY")
        .doesNotContain("secret");
    assertThat(gatewayError("--backend-tls", "sometimes"))
        .contains("'sometimes' is not one of none, opportunistic, required, verify");
    assertThat(gatewayError("--backend-protocol", "pop3"))
        .contains("'pop3' is not one of smtp, lmtp");
  }

  private String gatewayError(String... options) {
    command.reset();
    String[] args = new String[options.length + 5];
    System.arraycopy(
        new String[] {"gateway", "--backend", "127.0.0.1:25", "--domain", "x.test"}, 0, args, 0, 5);
    System.arraycopy(options, 0, args, 5, options.length);
    assertThat(command.run(args)).as(command.err()).isEqualTo(2);
    return command.err();
  }

  @Test
  void commandLineOverridesConfigValuesAndEveryOptionIsApplied() {
    GatewaySettings settings =
        CommandRun.parse(
                GatewayCommand.class,
                "gateway",
                "--listen",
                "[::1]:2526",
                "--backend",
                "backend.example:2525",
                "--domain",
                "a.example,*.b.example",
                "--domain",
                "c.example",
                "--helo",
                "gw.example",
                "--probe-sender",
                "",
                "--probe-method",
                "vrfy",
                "--timeout-ms",
                "500",
                "--connect-timeout-ms",
                "200",
                "--idle-timeout-s",
                "10",
                "--max-age-s",
                "20",
                "--max-sessions",
                "3",
                "--bypass",
                "10.0.0.0/8",
                "--bypass",
                "2001:db8::/32",
                "--reject-code",
                "554",
                "--reject-message",
                "No @",
                "--no-disconnect",
                "--on-unverified",
                "tempfail",
                "--tarpit-ms",
                "100",
                "--max-message-size",
                "5000",
                "--max-recipients",
                "7",
                "--max-connections",
                "9",
                "--max-connections-per-client",
                "4",
                "--max-rejected-per-client",
                "5",
                "--rejected-cooldown-s",
                "6",
                "--postmaster",
                "admin@a.example",
                "--tls-cert",
                "cert.pem",
                "--tls-key",
                "key.pem",
                "--require-tls",
                "--command-timeout-s",
                "11",
                "--relay-timeout-s",
                "12",
                "--relay-connections",
                "3",
                "--hostname",
                "mx.example")
            .settings();

    assertThat(settings.listen()).isEqualTo(new HostPort("::1", 2526));
    assertThat(settings.hostName()).isEqualTo("mx.example");
    assertThat(settings.domains()).containsExactly("a.example", "*.b.example", "c.example");
    assertThat(settings.verifier().backendHost()).hasValue("backend.example");
    assertThat(settings.verifier().backendPort()).isEqualTo(2525);
    assertThat(settings.verifier().heloName()).contains("gw.example");
    assertThat(settings.verifier().probeSender()).isEmpty();
    assertThat(settings.verifier().deadline()).isEqualTo(Duration.ofMillis(500));
    assertThat(settings.verifier().connectTimeout()).isEqualTo(Duration.ofMillis(200));
    assertThat(settings.verifier().idleTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(settings.verifier().maxSessionAge()).isEqualTo(Duration.ofSeconds(20));
    assertThat(settings.verifier().maxSessions()).isEqualTo(3);
    assertThat(settings.policy().toString())
        .contains(
            "10.0.0.0/8",
            "2001:db8::/32",
            "554",
            "No @",
            "disconnectAfterRejections=0",
            "onUnverified=TEMPFAIL",
            "tarpit=PT0.1S");
    assertThat(settings.limits())
        .isEqualTo(
            new GatewaySettings.Limits(
                5000,
                7,
                9,
                4,
                5,
                Duration.ofSeconds(6),
                Duration.ofSeconds(11),
                Duration.ofSeconds(12),
                3));
    assertThat(settings.postmaster()).isEqualTo("admin@a.example");
    assertThat(settings.tls())
        .hasValue(new GatewaySettings.Tls(Path.of("cert.pem"), Path.of("key.pem"), true));
  }

  @Test
  void withNothingGivenTheGatewayRunsWithTheDefaultsOfItsSettings() {
    GatewaySettings fromCommand =
        CommandRun.parse(
                GatewayCommand.class, "gateway", "--backend", "127.0.0.1:25", "--domain", "x.test")
            .settings();
    GatewaySettings fromBuilder =
        GatewaySettings.builder()
            .verifier(v -> v.backend("127.0.0.1", 25))
            .domains(List.of("x.test"))
            .build();
    assertThat(fromCommand.limits()).isEqualTo(fromBuilder.limits());
    assertThat(fromCommand.listen()).isEqualTo(fromBuilder.listen());
    assertThat(fromCommand.hostName()).isEqualTo(fromBuilder.hostName());
    assertThat(fromCommand.summaryInterval()).isEqualTo(fromBuilder.summaryInterval());
    assertThat(fromCommand.metricsListen()).isEqualTo(fromBuilder.metricsListen());
    assertThat(fromCommand.postmaster()).isEqualTo(fromBuilder.postmaster());
    assertThat(fromCommand.verifier()).hasToString(fromBuilder.verifier().toString());
    assertThat(fromCommand.policy()).hasToString(fromBuilder.policy().toString());
  }

  @Test
  void optionsComeFromTheEnvironmentUnderTheCommandLineOverTheConfigFile(@TempDir Path dir)
      throws IOException {
    Path config = dir.resolve("gateway.properties");
    Files.writeString(
        config,
        "max-sessions=5\nhelo=from-file.example\nmax-recipients=50\ndomain=file.test\n"
            + "no-disconnect=yes\n");
    GatewaySettings settings =
        CommandRun.parse(
                GatewayCommand.class,
                Map.of(
                    "RCPTPROXY_BACKEND", "127.0.0.1:2525",
                    "RCPTPROXY_MAX_SESSIONS", "3",
                    "RCPTPROXY_HELO", "env.example"),
                "gateway",
                "--config",
                config.toString(),
                "--domain",
                "example.com",
                "--helo=first.example",
                "--helo=cli.example") // the last wins, as a wrapper script may rely on
            .settings();
    assertThat(settings.verifier().backendPort()).isEqualTo(2525);
    assertThat(settings.verifier().maxSessions()).isEqualTo(3);
    assertThat(settings.verifier().heloName()).contains("cli.example");
    assertThat(settings.limits().maxRecipients()).isEqualTo(50);
    assertThat(settings.domains()).containsExactly("example.com"); // not added to the file's
    assertThat(settings.policy().toString()).contains("disconnectAfterRejections=0");
  }

  @Test
  void theConfigFileIsReadAgainWhenItChangesAndABrokenOneIsRefused(@TempDir Path dir)
      throws Exception {
    Set<String> mailboxes = Set.of("alice@example.com");
    Wiser backend =
        Wiser.accepter((from, to) -> mailboxes.contains(to))
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    backend.start();
    Path config = dir.resolve("gateway.properties");
    String settings =
        "listen=127.0.0.1:0\nbackend=127.0.0.1:"
            + backend.getServer().getPortAllocated()
            + "\ndomain=example.com\nbypass=\nbypass-backend=false\n";
    Files.writeString(config, settings + "reject-message=First @\n");
    try (RunningGateway gateway =
        CommandRun.parse(GatewayCommand.class, "gateway", "--config", config.toString()).start()) {
      assertThat(rejectionFor(gateway)).isEqualTo("550 5.1.1 First nobody@example.com");

      Files.writeString(config, settings + "reject-message=Second @\n");
      Files.setLastModifiedTime(config, FileTime.fromMillis(System.currentTimeMillis() + 2000));
      await().atMost(Duration.ofSeconds(10)).until(() -> rejectionFor(gateway).contains("Second"));

      // A typo is refused on reload as at start, and the running settings stay.
      Files.writeString(config, settings + "reject-mesage=Third @\n");
      Files.setLastModifiedTime(config, FileTime.fromMillis(System.currentTimeMillis() + 4000));
      await().atMost(Duration.ofSeconds(10)).until(() -> gateway.reloadsRefused() == 1);
      assertThat(rejectionFor(gateway)).contains("Second");
    } finally {
      backend.stop();
    }
  }

  private static String rejectionFor(RunningGateway gateway) throws Exception {
    try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
      client.readReply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<you@example.net>");
      client.send("RCPT TO:<alice@example.com>"); // an address Wiser accepts: the control
      return client.send("RCPT TO:<nobody@example.com>");
    }
  }
}
