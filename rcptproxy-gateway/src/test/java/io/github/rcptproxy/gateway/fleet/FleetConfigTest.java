package io.github.rcptproxy.gateway.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.UsageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Hazelcast configuration a fleet member starts with: no member is started here. */
class FleetConfigTest {

  @Test
  void listenAndMembersMakeATcpIpJoinOnThatAddressOnly() {
    Config config =
        Fleet.config(
            new GatewaySettings.Cluster(
                Optional.of(new HostPort("127.0.0.1", 5801)),
                List.of(new HostPort("127.0.0.2", 5801)),
                Optional.empty()));
    JoinConfig join = config.getNetworkConfig().getJoin();
    assertThat(join.getMulticastConfig().isEnabled()).isFalse();
    assertThat(join.getAutoDetectionConfig().isEnabled()).isFalse();
    assertThat(join.getTcpIpConfig().getMembers())
        .containsExactly("127.0.0.1:5801", "127.0.0.2:5801");
    assertThat(config.getNetworkConfig().getPort()).isEqualTo(5801);
    assertThat(config.getNetworkConfig().isPortAutoIncrement()).isFalse();
    assertThat(config.getNetworkConfig().getInterfaces().getInterfaces())
        .containsExactly("127.0.0.1");
    assertThat(config.getProperty("hazelcast.phone.home.enabled")).isEqualTo("false");
    assertThat(config.getClusterName()).isEqualTo("rcptproxy");
  }

  @Test
  void aHazelcastFileGivesEverythingElseAndTheOptionsItsNetwork(@TempDir Path dir)
      throws IOException {
    Path yaml = dir.resolve("hazelcast.yaml");
    Files.writeString(
        yaml,
        """
        hazelcast:
          cluster-name: mx-fleet
          network:
            port:
              port: 6000
            join:
              multicast:
                enabled: true
        """);
    Config config =
        Fleet.config(
            new GatewaySettings.Cluster(
                Optional.of(new HostPort("127.0.0.1", 5801)), List.of(), Optional.of(yaml)));
    assertThat(config.getClusterName()).isEqualTo("mx-fleet");
    assertThat(config.getNetworkConfig().getPort()).isEqualTo(5801);
    assertThat(config.getNetworkConfig().getJoin().getMulticastConfig().isEnabled()).isFalse();
  }

  @Test
  void aBrokenHazelcastFileIsRefusedNamingTheOption(@TempDir Path dir) throws IOException {
    Path xml = dir.resolve("hazelcast.xml");
    Files.writeString(xml, "<hazelcast><network><port>not a port</port></network></hazelcast>");
    assertThatThrownBy(
            () ->
                Fleet.config(
                    new GatewaySettings.Cluster(Optional.empty(), List.of(), Optional.of(xml))))
        .isInstanceOf(UsageException.class)
        .hasMessageStartingWith("--cluster-config " + xml);
  }
}
