package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rcptproxy gateway --cluster-*}: read from the command line and the config file, checked.
 */
class GatewayClusterOptionsTest {
  private final CommandRun command = new CommandRun();

  private static GatewaySettings settings(String... options) {
    return CommandRun.parse(GatewayCommand.class, CommandRun.gateway(options)).settings();
  }

  @Test
  void withoutClusterOptionsTheGatewayIsAlone() {
    assertThat(settings().cluster()).isEmpty();
  }

  @Test
  void listenAndMembersMakeTheCluster() {
    assertThat(
            settings(
                    "--cluster-listen",
                    "10.0.0.1",
                    "--cluster-members",
                    "10.0.0.2:5701,10.0.0.3:5801")
                .cluster())
        .hasValue(
            new GatewaySettings.Cluster(
                Optional.of(new HostPort("10.0.0.1", 5701)),
                List.of(new HostPort("10.0.0.2", 5701), new HostPort("10.0.0.3", 5801)),
                Optional.empty()));
  }

  @Test
  void theConfigFileTakesTheSameKeys(@TempDir Path dir) throws IOException {
    Path config = dir.resolve("gateway.properties");
    Files.writeString(
        config,
        "cluster-listen=10.0.0.1:5701\ncluster-members=10.0.0.2:5701,10.0.0.3:5701\n"
            + "cluster-config=/etc/rcptproxy/hazelcast.yaml\n");
    GatewaySettings.Cluster cluster = settings("--config", config.toString()).cluster().get();
    assertThat(cluster.members()).hasSize(2);
    assertThat(cluster.config()).hasValue(Path.of("/etc/rcptproxy/hazelcast.yaml"));
  }

  @Test
  void badClusterOptionsAreRefusedNamingTheOption() {
    assertThat(error("--cluster-members", "10.0.0.2:5701"))
        .contains("--cluster-members needs --cluster-listen HOST:PORT");
    assertThat(error("--cluster-listen", "10.0.0.1:0"))
        .contains("--cluster-listen needs a port from 1 to 65535");
    assertThat(error("--cluster-listen", "10.0.0.1:5701", "--cluster-members", "10.0.0.2:+5"))
        .contains("--cluster-members")
        .contains("bad port");
    assertThat(error("--cluster-listen", "10.0.0.1:5701", "--cluster-members", "10.0.0.1:5701"))
        .contains("--cluster-members names the other members, not this one");
  }

  /** The one line {@code rcptproxy gateway} refuses the options with (exit code 2). */
  private String error(String... options) {
    command.reset();
    assertThat(command.run(CommandRun.gateway(options))).as(command.err()).isEqualTo(2);
    assertThat(command.err().lines()).singleElement();
    return command.err();
  }

  @Test
  void aMissingHazelcastFileIsRefusedAtStart(@TempDir Path dir) {
    assertThat(
            error(
                "--listen",
                "127.0.0.1:0",
                "--cluster-config",
                dir.resolve("missing.yaml").toString()))
        .contains("--cluster-config")
        .contains("no such file");
  }
}
