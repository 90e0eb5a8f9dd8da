package io.github.rcptproxy.cli;

import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.UsageException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * How to speak to the backend (STARTTLS, AUTH, LMTP): the same options, by the same names, for
 * {@code rcptproxy policy} and {@code rcptproxy verify}, checked by the gateway's own {@link
 * GatewaySettings#backendTransport}.
 */
final class BackendTransportOptions {
  @Option(
      names = "--backend-tls",
      paramLabel = "MODE",
      description = "none|opportunistic|required|verify: STARTTLS to the backend (default none)")
  String tls;

  @Option(
      names = "--backend-ca",
      paramLabel = "PEM",
      description = "CA certificates that --backend-tls verify trusts")
  String ca;

  @Option(
      names = "--backend-auth-user",
      paramLabel = "NAME",
      description = "AUTH to the backend as NAME (with --backend-auth-password-file)")
  String authUser;

  @Option(
      names = "--backend-auth-password-file",
      paramLabel = "FILE",
      description = "the AUTH password, on the first line of FILE")
  String authPasswordFile;

  @Option(
      names = "--backend-protocol",
      paramLabel = "PROTOCOL",
      description = "smtp|lmtp (default smtp)")
  String protocol;

  /** Sets what was given on the builder; throws {@link UsageException} for a bad value. */
  void applyTo(VerifierConfig.Builder builder) {
    Map<String, String> given = new HashMap<>();
    given.put("backend-tls", tls);
    given.put("backend-ca", ca);
    given.put("backend-auth-user", authUser);
    given.put("backend-auth-password-file", authPasswordFile);
    given.put("backend-protocol", protocol);
    GatewaySettings.backendTransport(name -> Optional.ofNullable(given.get(name)), builder);
  }
}
