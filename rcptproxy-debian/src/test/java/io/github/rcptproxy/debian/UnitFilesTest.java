package io.github.rcptproxy.debian;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.cli.Rcptproxy;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** What the systemd units promise: user, hardening, the gateway's time to drain, the socket. */
class UnitFilesTest {
  private static final Path UNITS = Path.of("src/deb/systemd");

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"rcptproxy-gateway.service", "rcptproxy-policy.service"})
  void runsAsTheSystemUserHardenedWithoutBreakingTheJvm(String name) throws IOException {
    Map<String, String> unit = Commands.unit(UNITS.resolve(name));
    assertThat(unit)
        .containsEntry("Service.User", "rcptproxy")
        .containsEntry("Service.NoNewPrivileges", "yes")
        .containsEntry("Service.ProtectSystem", "strict")
        .containsEntry("Service.ProtectHome", "yes")
        .containsEntry("Service.PrivateTmp", "yes")
        .containsEntry("Service.PrivateDevices", "yes")
        .containsEntry("Service.RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")
        .containsEntry("Service.StateDirectory", "rcptproxy")
        .containsEntry("Service.Restart", "on-failure")
        // the JIT writes the code it runs
        .doesNotContainKey("Service.MemoryDenyWriteExecute");
    assertThat(unit.get("Service.ExecStart"))
        .startsWith("/usr/bin/rcptproxy ")
        .contains(" --config /etc/rcptproxy/")
        // the known-good addresses learnt are kept where postinst and systemd make the directory
        .contains(" --state-dir /var/lib/" + unit.get("Service.StateDirectory"));
  }

  @Test
  void aPolicyServerThatKeepsFailingReachesItsStartLimitSoItsSocketFailsToo() throws IOException {
    Map<String, String> unit = Commands.unit(UNITS.resolve("rcptproxy-policy.service"));
    assertThat(unit).containsEntry("Unit.Requires", "rcptproxy-policy.socket");
    int burst = Integer.parseInt(unit.get("Unit.StartLimitBurst"));
    // restarts RestartSec apart must fit the burst into the interval, else they go on forever
    assertThat(seconds(unit.get("Service.RestartSec")) * burst)
        .isLessThan(seconds(unit.get("Unit.StartLimitIntervalSec")));
  }

  @Test
  void theGatewayMayBindPort25AndHasTimeToDrainMessagesInFlight() throws IOException {
    Map<String, String> unit = Commands.unit(UNITS.resolve("rcptproxy-gateway.service"));
    assertThat(unit).containsEntry("Service.AmbientCapabilities", "CAP_NET_BIND_SERVICE");
    int relayTimeoutS =
        Integer.parseInt(
            new CommandLine(Rcptproxy.class)
                .getSubcommands()
                .get("gateway")
                .getCommandSpec()
                .findOption("--relay-timeout-s")
                .defaultValue());
    // docs/gateway.md: each message in flight may take relay-timeout-s plus 10 minutes
    assertThat(minutes(unit.get("Service.TimeoutStopSec")) * 60)
        .isGreaterThanOrEqualTo(relayTimeoutS + 600);
  }

  @Test
  void thePolicySocketIsWhereChrootedPostfixReachesItAndPostfixMayConnect() throws IOException {
    Map<String, String> socket = Commands.unit(UNITS.resolve("rcptproxy-policy.socket"));
    assertThat(socket)
        .containsEntry("Socket.ListenStream", "/var/spool/postfix/private/rcptproxy-policy")
        .containsEntry("Socket.SocketGroup", "postfix")
        .containsEntry("Socket.SocketMode", "0660")
        .containsEntry("Socket.Accept", "no");
    assertThat(Commands.unit(UNITS.resolve("rcptproxy-policy.service")).get("Service.ExecStart"))
        .endsWith(" --listen systemd");
  }

  private static int seconds(String timeSpan) {
    assertThat(timeSpan).matches("\\d+s");
    return Integer.parseInt(timeSpan.replace("s", ""));
  }

  private static int minutes(String timeSpan) {
    assertThat(timeSpan).matches("\\d+min");
    return Integer.parseInt(timeSpan.replace("min", ""));
  }
}
