package io.github.rcptproxy.gateway.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.limits.ClientAllowance;
import io.github.rcptproxy.gateway.limits.ClientLimits;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Review: two gateways (two FleetLimits on one lone member share the fleet's bucket). Gateway A saw
 * the client once, early, when its bucket was full; gateway B then took the bucket nearly empty.
 * A's rejections of the client, 2 ms apart, must be cut about where the fleet's bucket ends (the
 * docs: one or two more per gateway while the answer travels), not held 100 ms because of what A
 * saw long ago.
 */
class FleetLimitsHoldTest {
  private static final int LIMIT = 800;

  @Test
  void aGatewayThatSawTheClientLongAgoDoesNotHoldItsRejectionsPastTheFleetsLimit()
      throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0)) {
      port = free.getLocalPort();
    }
    try (Fleet fleet =
        Fleet.join(
            new GatewaySettings.Cluster(
                Optional.of(new HostPort("127.0.0.1", port)), List.of(), Optional.empty()))) {
      Duration coolDown = Duration.ofMinutes(5);
      ClientAllowance a =
          fleet.limits(
              new ClientLimits(100, 100_000, coolDown, Clock.systemUTC()), LIMIT, coolDown);
      ClientAllowance b =
          fleet.limits(
              new ClientLimits(100, 100_000, coolDown, Clock.systemUTC()), LIMIT, coolDown);
      InetAddress client = InetAddress.getByName("192.0.2.7");

      assertThat(a.rejected(client)).isFalse(); // A learns the bucket's nearly full
      Thread.sleep(1500);
      for (int i = 0; i < LIMIT - 10; i++) {
        assertThat(b.rejected(client)).isFalse();
        if (i % 50 == 0) {
          Thread.sleep(20);
        }
      }
      Thread.sleep(1500); // B's rejections all in the fleet: 9 tokens left

      int passed = 0;
      while (!a.rejected(client) && passed < 200) {
        passed++;
        Thread.sleep(2);
      }
      System.out.println("rejections A let through with 9 left in the fleet: " + passed);
      assertThat(passed).isLessThan(20);
    }
  }
}
