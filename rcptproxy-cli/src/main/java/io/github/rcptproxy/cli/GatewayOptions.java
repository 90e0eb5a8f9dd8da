package io.github.rcptproxy.cli;

import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options of the screening gateway ({@code gateway}, and {@code demo}, which brings its own
 * backend): its own, and the shared ones of every verifier. {@link #settings()} makes the value the
 * gateway runs with.
 */
final class GatewayOptions {
  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      defaultValue = "127.0.0.1:2525",
      converter = Converters.SmtpAddress.class,
      description = "where the gateway listens")
  HostPort listen;

  @Option(
      names = "--hostname",
      paramLabel = "NAME",
      defaultValue = "rcptproxy-gateway",
      description = "the gateway's name in its greeting")
  String hostName;

  @Option(
      names = "--domain",
      paramLabel = "NAME",
      split = ",",
      description =
          "a domain the gateway accepts mail for; repeat, or separate with commas; *.NAME takes"
              + " every subdomain (required)")
  List<String> domains;

  @Option(
      names = "--postmaster",
      paramLabel = "ADDRESS",
      description =
          "where RCPT TO:<postmaster> goes (default postmaster@ the first --domain; required if"
              + " that is a *.pattern)")
  String postmaster;

  @Mixin VerifierOptions verifier;

  @Mixin SessionOptions sessions;

  @Mixin AnswerOptions answers = new AnswerOptions(List.of("127.0.0.1/32", "::1/128"));

  @Option(
      names = "--bypass-backend",
      paramLabel = "true|false",
      arity = "1",
      defaultValue = "true",
      showDefaultValue = Visibility.ALWAYS, // picocli leaves it out for a boolean
      converter = Converters.YesNo.class,
      description = "mail from the backend's own address skips verification")
  boolean bypassBackend;

  @Option(
      names = "--disconnect-after",
      paramLabel = "N",
      defaultValue = "20",
      converter = Converters.Whole.class,
      description =
          "after N rejected recipients in a session, answer the client's next MAIL or RCPT with"
              + " 421 and hang up; 0 never. 20 is Postfix's smtpd_hard_error_limit: a hang-up"
              + " mid-message makes the client defer the message's valid recipients too, so it"
              + " must not come at the first typo (1 is the 2005 original's sink)")
  int disconnectAfter;

  @Option(
      names = "--no-disconnect",
      converter = Converters.YesNo.class,
      description = "same as --disconnect-after 0")
  boolean noDisconnect;

  @Option(
      names = "--tarpit-ms",
      paramLabel = "N",
      defaultValue = "0",
      converter = Converters.Whole.class,
      description = "delay before each rejection")
  int tarpitMs;

  @Option(
      names = "--max-message-size",
      paramLabel = "BYTES",
      defaultValue = "10485760",
      converter = Converters.Positive.class,
      description = "largest message accepted")
  int maxMessageSize;

  @Option(
      names = "--max-recipients",
      paramLabel = "N",
      defaultValue = "100",
      converter = Converters.Positive.class,
      description = "recipients per message at most")
  int maxRecipients;

  @Option(
      names = "--max-connections",
      paramLabel = "N",
      defaultValue = "100",
      converter = Converters.Positive.class,
      description = "client connections at once at most")
  int maxConnections;

  @Option(
      names = "--max-connections-per-client",
      paramLabel = "N",
      defaultValue = "10",
      converter = Converters.Positive.class,
      description =
          "connections at once from one client; a client is an IPv4 address or an IPv6 /64")
  int maxConnectionsPerClient;

  @Option(
      names = "--max-rejected-per-client",
      paramLabel = "N",
      defaultValue = "30",
      converter = Converters.Positive.class,
      description =
          "rejected recipients per client per minute; one more, if they are also most of the"
              + " client's recipients in that minute (a dictionary attack, not a large sender"
              + " with a few stale addresses), and the client's next MAIL or RCPT gets 421, then"
              + " every connection for the cool-down")
  int maxRejectedPerClient;

  @Option(
      names = "--rejected-cooldown-s",
      paramLabel = "N",
      defaultValue = "300",
      converter = Converters.Positive.class,
      description = "how long such a client is refused")
  int rejectedCooldownS;

  @Option(
      names = "--command-timeout-s",
      paramLabel = "N",
      defaultValue = "60",
      converter = Converters.Positive.class,
      description = "time allowed for each client command line, in total, waiting included")
  int commandTimeoutS;

  @Option(
      names = "--relay-timeout-s",
      paramLabel = "N",
      defaultValue = "300",
      converter = Converters.Positive.class,
      description =
          "time allowed for receiving one message from the client, in total, for each reply of"
              + " the backend while relaying it but the one to the end of data (10 minutes, as"
              + " RFC 5321 says, or this if longer), and for a relay connection to come free")
  int relayTimeoutS;

  @Option(
      names = "--relay-connections",
      paramLabel = "N",
      defaultValue = "10",
      converter = Converters.Positive.class,
      description =
          "connections to the backend for relaying messages, at most, apart from the verifier's"
              + " --max-sessions")
  int relayConnections;

  @Option(
      names = "--tls-cert",
      paramLabel = "FILE",
      description =
          "PEM certificate chain for STARTTLS (with --tls-key); both files are read again when"
              + " they change")
  Path tlsCert;

  @Option(
      names = "--tls-key",
      paramLabel = "FILE",
      description = "PEM private key (PKCS#8, unencrypted) for STARTTLS")
  Path tlsKey;

  @Option(
      names = "--require-tls",
      converter = Converters.YesNo.class,
      description = "refuse MAIL until the client has used STARTTLS")
  boolean requireTls;

  @Option(
      names = "--metrics-listen",
      paramLabel = "HOST:PORT",
      converter = Converters.MetricsAddress.class,
      description =
          "serve /metrics (Prometheus text) and /health there (default off; keep it on"
              + " loopback)")
  HostPort metricsListen;

  @Option(
      names = "--summary-interval-s",
      paramLabel = "N",
      defaultValue = "60",
      converter = Converters.Whole.class,
      description = "log a one-line summary every N seconds; 0 never")
  int summaryIntervalS;

  @Option(
      names = "--cluster-listen",
      paramLabel = "HOST:PORT",
      converter = Converters.ClusterAddress.class,
      description =
          "join a fleet of gateways as a member listening there (port 5701 if none): they share"
              + " the verdict cache, known-good addresses and per-client rejection limits"
              + " (default: no fleet)")
  HostPort clusterListen;

  @Option(
      names = "--cluster-members",
      paramLabel = "HOST:PORT",
      split = ",",
      converter = Converters.ClusterAddress.class,
      description =
          "the fleet's other members, joined over TCP-IP (no multicast); repeat, or separate with"
              + " commas")
  List<HostPort> clusterMembers;

  @Option(
      names = "--cluster-config",
      paramLabel = "FILE",
      description =
          "a Hazelcast XML or YAML file for everything else about the fleet (TLS, cluster name,"
              + " backups); --cluster-listen and --cluster-members replace its network settings")
  Path clusterConfig;

  /**
   * The settings these options make, but not built yet: {@code demo} adds its own backend.
   *
   * @throws IllegalArgumentException naming the option, for a combination that cannot be used
   */
  GatewaySettings.Builder builder() {
    return GatewaySettings.builder()
        .listen(listen)
        .hostName(hostName)
        .domains(Rcptproxy.items(domains))
        .postmaster(postmaster)
        .verifier(
            v -> {
              verifier.applyTo(v);
              sessions.applyTo(v);
            })
        .policy(
            p -> {
              answers.applyTo(p);
              p.bypassBackend(bypassBackend)
                  .disconnectAfterRejections(noDisconnect ? 0 : disconnectAfter)
                  .tarpit(Duration.ofMillis(tarpitMs));
            })
        .maxMessageSize(maxMessageSize)
        .maxRecipients(maxRecipients)
        .maxConnections(maxConnections)
        .maxConnectionsPerClient(maxConnectionsPerClient)
        .maxRejectedPerClient(maxRejectedPerClient)
        .rejectedCoolDown(Duration.ofSeconds(rejectedCooldownS))
        .commandTimeout(Duration.ofSeconds(commandTimeoutS))
        .relayTimeout(Duration.ofSeconds(relayTimeoutS))
        .relayConnections(relayConnections)
        .tls(tls())
        .metricsListen(metricsListen)
        .summaryInterval(Duration.ofSeconds(summaryIntervalS))
        .cluster(cluster());
  }

  private GatewaySettings.Cluster cluster() {
    List<HostPort> members = clusterMembers == null ? List.of() : clusterMembers;
    if (clusterListen == null && clusterConfig == null) {
      if (!members.isEmpty()) {
        throw new IllegalArgumentException("--cluster-members needs --cluster-listen HOST:PORT");
      }
      return null;
    }
    return new GatewaySettings.Cluster(
        Optional.ofNullable(clusterListen), members, Optional.ofNullable(clusterConfig));
  }

  private GatewaySettings.Tls tls() {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together");
    }
    if (tlsCert == null) {
      if (requireTls) {
        throw new IllegalArgumentException("--require-tls needs --tls-cert and --tls-key");
      }
      return null;
    }
    return new GatewaySettings.Tls(tlsCert, tlsKey, requireTls);
  }
}
