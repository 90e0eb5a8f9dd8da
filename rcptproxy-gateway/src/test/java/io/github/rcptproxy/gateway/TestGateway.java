package io.github.rcptproxy.gateway;

import io.github.rcptproxy.BackendProtocol;
import java.util.List;
import java.util.function.Consumer;

/** A gateway for tests: on an ephemeral loopback port, verifying every client (no bypass). */
public final class TestGateway {
  private TestGateway() {}

  public static RunningGateway start(int backendPort, String domain) {
    return start(backendPort, domain, settings -> {});
  }

  /** As {@link #start(int, String)}, with {@code extra} changing the settings before the start. */
  public static RunningGateway start(
      int backendPort, String domain, Consumer<GatewaySettings.Builder> extra) {
    return RunningGateway.start(settings(backendPort, domain, extra));
  }

  /** The settings {@link #start(int, String, Consumer)} starts with. */
  public static GatewaySettings settings(
      int backendPort, String domain, Consumer<GatewaySettings.Builder> extra) {
    GatewaySettings.Builder settings =
        GatewaySettings.builder()
            .listen(new HostPort("127.0.0.1", 0))
            .domains(List.of(domain))
            .verifier(verifier -> verifier.backend("127.0.0.1", backendPort))
            .policy(policy -> policy.bypass(List.of()).bypassBackend(false));
    extra.accept(settings);
    return settings.build();
  }

  /** Hang up after no number of rejections (the option {@code --no-disconnect}). */
  public static Consumer<GatewaySettings.Builder> noDisconnect() {
    return settings -> settings.policy(policy -> policy.disconnectAfterRejections(0));
  }

  /** Verify over LMTP, naming a real mailbox of the backend as its known-good address. */
  public static Consumer<GatewaySettings.Builder> lmtpKnowing(String knownGood) {
    return settings ->
        settings.verifier(v -> v.protocol(BackendProtocol.LMTP).knownGood(knownGood));
  }
}
