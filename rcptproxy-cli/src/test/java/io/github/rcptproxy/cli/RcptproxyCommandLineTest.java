package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;

/** {@code rcptproxy SUBCOMMAND}: probe, policy, config file and environment, completion. */
@RealServers
class RcptproxyCommandLineTest {
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();

  int run(String... args) {
    return Rcptproxy.run(
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
        "backend=127.0.0.1:"
            + postfix.port()
            + "\nreject-message=Gone: @\nlisten=127.0.0.1:0\nknown-good="
            + PostfixBackend.known(0)
            + "\n");
    PolicyCommand policy =
        CommandRun.parse(
            PolicyCommand.class, "policy", "--config", config.toString(), "--reject-code", "554");
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
  void commandLineWinsOverEnvironmentWhichWinsOverTheConfigFile(@TempDir Path dir)
      throws IOException {
    Path config = dir.resolve("policy.properties");
    Files.writeString(config, "reject-code=551\ntimeout-ms=700\nhelo=from-file.example\n");
    PolicyCommand policy =
        CommandRun.parse(
            PolicyCommand.class,
            Map.of("RCPTPROXY_TIMEOUT_MS", "900", "RCPTPROXY_HELO", "from-env.example"),
            "policy",
            "--config",
            config.toString(),
            "--backend",
            "h:25",
            "--helo",
            "from-command-line");
    assertThat(policy.answers.rejectCode).isEqualTo(551);
    assertThat(policy.verifier.timeoutMs).isEqualTo(900);
    assertThat(policy.verifier.helo).isEqualTo("from-command-line");
    assertThat(policy.sessions.maxSessions).isEqualTo(8);
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

  /** The backends each command would ask, in their order, as HOST:PORT. */
  private static List<String> backends(Map<String, String> environment, String... args) {
    VerifierConfig config =
        switch (args[0]) {
          case "gateway" ->
              CommandRun.parse(GatewayCommand.class, environment, args).settings().verifier();
          case "policy" ->
              CommandRun.parse(PolicyCommand.class, environment, args).verifier.config();
          case "verify" ->
              CommandRun.parse(VerifyCommand.class, environment, args).options.config();
          case "probe" -> CommandRun.parse(ProbeCommand.class, environment, args).options.config();
          default -> throw new IllegalArgumentException(args[0]);
        };
    return config.backends().stream().map(b -> b.getHostString() + ":" + b.getPort()).toList();
  }

  @ParameterizedTest
  @ValueSource(strings = {"gateway", "policy", "verify", "probe"})
  void backendTakesSeveralHostsInOrderRepeatedOrSeparatedByCommas(String command, @TempDir Path dir)
      throws IOException {
    List<String> extra =
        switch (command) {
          case "gateway", "probe" -> List.of("--domain", "example.com");
          default -> List.of();
        };
    List<String> args = new ArrayList<>(List.of(command));
    args.addAll(extra);
    args.addAll(List.of("--backend", "a.example:25,b.example:2525", "--backend", "[::1]:26"));
    args.addAll(List.of("--backend", "c.example"));
    assertThat(backends(Map.of(), args.toArray(String[]::new)))
        .containsExactly("a.example:25", "b.example:2525", "::1:26", "c.example:25");

    Path config = dir.resolve(command + ".properties");
    Files.writeString(config, "backend=mx1.example:25, mx2.example:2525\n");
    List<String> fromFile = new ArrayList<>(List.of(command, "--config", config.toString()));
    fromFile.addAll(extra);
    assertThat(backends(Map.of(), fromFile.toArray(String[]::new)))
        .containsExactly("mx1.example:25", "mx2.example:2525");
    assertThat(
            backends(
                Map.of("RCPTPROXY_BACKEND", "e1.example:25,e2.example:25"),
                fromFile.toArray(String[]::new)))
        .containsExactly("e1.example:25", "e2.example:25");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"gateway --domain example.com", "policy", "verify", "probe --domain example.com"})
  void aMalformedBackendIsRefusedAtStartInOneLineNamingTheOption(String command, @TempDir Path dir)
      throws IOException {
    String name = command.split(" ")[0];
    for (String bad :
        List.of(
            "a.example:25:26",
            "a.example:25,b.example:x",
            "a.example:25,,b.example:25",
            "mail server.example:25",
            "a.example:0",
            "a.example:65536",
            "[::1",
            "[fe80::zz]:25",
            "[::1]25",
            ":25",
            "a.example:25,",
            " a.example:25",
            "a.example:25 ",
            "a.example:+25",
            "::1",
            "::1:25")) {
      err.reset();
      List<String> args = new ArrayList<>(List.of(command.split(" ")));
      args.addAll(List.of("--backend", bad));
      assertThat(run(args.toArray(String[]::new))).as(bad).isEqualTo(2);
      assertThat(err.toString(StandardCharsets.UTF_8).lines())
          .as(bad)
          .singleElement()
          .satisfies(
              line ->
                  assertThat(line).startsWith("rcptproxy " + name + ": ").contains("--backend"));
    }
    Path config = dir.resolve("bad.properties");
    Files.writeString(config, "backend=a.example:25,b.example:25:26\n");
    err.reset();
    assertThat(run((command + " --config " + config).split(" "))).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8).lines())
        .singleElement()
        .satisfies(
            line ->
                assertThat(line)
                    .startsWith("rcptproxy " + name + ": ")
                    .contains("--backend")
                    .contains("b.example:25:26"));
  }

  @Test
  void probeAsksEachBackendInTurn() throws IOException {
    int first;
    int second;
    try (var one = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        var two = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      first = one.getLocalPort();
      second = two.getLocalPort();
    }
    assertThat(
            run(
                "probe",
                "--backend",
                "127.0.0.1:" + first + ",127.0.0.1:" + second,
                "--domain",
                "example.com"))
        .isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8).lines())
        .satisfiesExactly(
            line -> assertThat(line).startsWith("rcptproxy probe: 127.0.0.1:" + first + ": "),
            line -> assertThat(line).startsWith("rcptproxy probe: 127.0.0.1:" + second + ": "));
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
    for (String command : new String[] {"gateway", "policy", "verify", "probe", "demo"}) {
      out.reset();
      assertThat(run(command, "--help")).isZero();
      assertThat(out()).startsWith("Usage: rcptproxy " + command).contains("Exit codes:");
    }
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

  @ParameterizedTest
  @ValueSource(strings = {"gateway", "policy", "verify", "probe --domain example.com"})
  void everyCommandRefusesAConfigFileSettingItDoesNotTake(String commandLine, @TempDir Path dir)
      throws IOException {
    Path config = dir.resolve("rcptproxy.properties");
    Files.writeString(config, "backend=127.0.0.1:25\ntimout-ms=500\n");
    String command = commandLine.split(" ")[0];
    assertThat(run((commandLine + " --config " + config).split(" "))).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8).lines())
        .containsExactly(
            "rcptproxy "
                + command
                + ": unknown setting 'timout-ms' in "
                + config
                + " (rcptproxy "
                + command
                + " --help lists the options)");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "gateway --domain example.com",
        "policy",
        "verify",
        "probe --domain example.com",
      })
  void theSharedOptionsAreCheckedAlikeByEveryCommand(String command) {
    String name = command.split(" ")[0];
    for (String[] bad :
        List.of(
            new String[] {"--timeout-ms -5", "'-5' is not a positive whole number"},
            new String[] {"--backend-tls sometimes", "'sometimes' is not one of none,"},
            new String[] {"--backend-protocol pop3", "'pop3' is not one of smtp, lmtp"},
            new String[] {"--helo bad_helo", "HELO name must be a domain name"})) {
      err.reset();
      String commandLine = command + " --backend 127.0.0.1:25 " + bad[0];
      assertThat(run(commandLine.split(" "))).as(commandLine).isEqualTo(2);
      assertThat(err.toString(StandardCharsets.UTF_8).lines())
          .singleElement()
          .satisfies(
              line -> assertThat(line).startsWith("rcptproxy " + name + ": ").contains(bad[1]));
    }
  }

  @Test
  void probeTakesTheTransportOptionsOfTheOtherCommands(@TempDir Path dir) throws IOException {
    assertThat(run("probe", "--help")).isZero();
    assertThat(out())
        .contains("--backend-tls")
        .contains("--backend-ca")
        .contains("--backend-auth-user")
        .contains("--backend-auth-password-file")
        .contains("--backend-protocol")
        .contains("--helo")
        .contains("--probe-sender")
        .contains("Default: 5000");
    Path password = dir.resolve("password");
    Files.writeString(password, "secret\n");
    Path config = dir.resolve("probe.properties");
    Files.writeString(
        config,
        "backend-tls=required\nbackend-auth-user=probe\nbackend-auth-password-file="
            + password
            + "\n");
    ProbeCommand probe =
        CommandRun.parse(
            ProbeCommand.class,
            "probe",
            "--config",
            config.toString(),
            "--backend",
            "mx.example:2525",
            "--domain",
            "example.com",
            "--helo",
            "probe.example",
            "--probe-sender",
            "probe@example.com");
    VerifierConfig verifier = probe.options.config();
    assertThat(verifier.backendHost()).hasValue("mx.example");
    assertThat(verifier.backendPort()).isEqualTo(2525);
    assertThat(verifier.tls()).isEqualTo(BackendTls.REQUIRED);
    assertThat(verifier.authUser()).hasValue("probe");
    assertThat(verifier.heloName()).contains("probe.example");
    assertThat(verifier.probeSender()).isEqualTo("probe@example.com");
    assertThat(verifier.deadline()).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void policyRefusesCacheSettingsWithoutACache() {
    assertThat(
            run(
                "policy",
                "--backend",
                "127.0.0.1:25",
                "--listen",
                "127.0.0.1:0",
                "--cache-negative-ttl-s",
                "60"))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .isEqualTo(
            "rcptproxy policy: --cache-negative-ttl-s and --cache-max-entries need"
                + " --cache-positive-ttl-s\n");
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
