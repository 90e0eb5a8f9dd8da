package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GatewayCommandLineTest {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return Gateway.run(
        args,
        new ByteArrayInputStream(new byte[0]),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @Test
  void helpDocumentsEveryOption() {
    assertThat(run("--help")).isZero();
    String help = out.toString(StandardCharsets.UTF_8);
    for (String option :
        new String[] {
          "--demo",
          "listen",
          "backend",
          "domain",
          "helo",
          "probe-sender",
          "timeout-ms",
          "idle-timeout-s",
          "max-age-s",
          "max-sessions",
          "bypass",
          "reject-code",
          "reject-message",
          "no-disconnect",
          "on-unverified",
          "--config",
          "verify",
          "cache-positive-ttl-s",
          "catch-all-ttl-s",
          "metrics-listen",
          "summary-interval-s"
        }) {
      assertThat(help).contains(option);
    }
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
        "--config /nonexistent/gateway.properties"
      })
  void badArgumentsGiveOneLineAndExitCode2(String commandLine) {
    assertThat(run(commandLine.split(" "))).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8).lines())
        .singleElement()
        .satisfies(line -> assertThat(line).startsWith("rcptproxy-gateway: "));
  }

  @Test
  void commandLineOverridesConfigValuesAndEveryOptionIsApplied() {
    GatewaySettings settings =
        GatewaySettings.parse(
            new String[] {
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
              "--hostname",
              "mx.example"
            });

    assertThat(settings.listen()).isEqualTo(new HostPort("::1", 2526));
    assertThat(settings.hostName()).isEqualTo("mx.example");
    assertThat(settings.domains()).containsExactly("a.example", "*.b.example", "c.example");
    assertThat(settings.verifier().backendHost()).hasValue("backend.example");
    assertThat(settings.verifier().backendPort()).isEqualTo(2525);
    assertThat(settings.verifier().heloName()).isEqualTo("gw.example");
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
                Duration.ofSeconds(12)));
    assertThat(settings.postmaster()).isEqualTo("admin@a.example");
    assertThat(settings.tls())
        .hasValue(new GatewaySettings.Tls(Path.of("cert.pem"), Path.of("key.pem"), true));
  }

  @Test
  void readmeListsEveryOptionAsHelpDoes() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"), StandardCharsets.UTF_8);
    for (String line : GatewaySettings.OPTIONS.lines().toList()) {
      assertThat(readme).as("README.md's gateway section").contains(line);
    }
  }
}
