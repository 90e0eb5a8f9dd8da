package io.github.rcptproxy.gateway;

import java.util.ArrayList;
import java.util.List;

/** A gateway for tests: on an ephemeral loopback port, verifying every client (no bypass). */
public final class TestGateway {
  private TestGateway() {}

  public static RunningGateway start(int backendPort, String domain, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--listen", "127.0.0.1:0",
                "--backend", "127.0.0.1:" + backendPort,
                "--domain", domain,
                "--bypass", "",
                "--bypass-backend", "false"));
    args.addAll(List.of(extra));
    return RunningGateway.start(GatewaySettings.parse(args.toArray(new String[0])));
  }
}
