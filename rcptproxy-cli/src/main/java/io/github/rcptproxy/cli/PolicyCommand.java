package io.github.rcptproxy.cli;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.postfix.PolicyAnswers;
import io.github.rcptproxy.postfix.PolicyServer;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code rcptproxy policy}: the Postfix policy server. */
@Command(
    name = "policy",
    description = {
      "A Postfix policy server: verifies each recipient Postfix asks about with the backend.",
      "In main.cf:",
      "  smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,"
          + " check_policy_service inet:127.0.0.1:10040",
      "  (or with --listen unix:/var/spool/postfix/rcptproxy/policy.sock --socket-group postfix:"
          + " check_policy_service unix:rcptproxy/policy.sock)",
      "  smtpd_policy_service_default_action = DUNNO",
      Rcptproxy.SOURCES
    },
    exitCodeList = {Rcptproxy.STOPPED, Rcptproxy.NOT_STARTED, Rcptproxy.BAD_OPTION})
final class PolicyCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin ConfigDefaults.ConfigOption config;

  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT|unix:PATH|systemd",
      defaultValue = "127.0.0.1:10040",
      converter = Converters.PolicyAddress.class,
      description =
          "where Postfix connects: TCP, a UNIX socket file (check_policy_service unix:PATH), or"
              + " systemd: the listening socket the service manager passed on standard input")
  Converters.PolicyListen listen;

  @Option(
      names = "--socket-mode",
      paramLabel = "OCTAL",
      converter = Converters.SocketMode.class,
      description = "permissions of the unix:PATH socket file (default 0660: owner and group)")
  Converters.SocketPermissions socketMode;

  @Option(
      names = "--socket-group",
      paramLabel = "NAME",
      description =
          "group of the unix:PATH socket file, e.g. postfix (default: the process's own group)")
  String socketGroup;

  @Option(
      names = "--domain",
      paramLabel = "NAME",
      split = ",",
      defaultValue = "*",
      description =
          "domains verified with --backend; *.NAME for subdomains; others are answered DUNNO"
              + " (* : every domain Postfix asks about)")
  List<String> domains;

  @Option(
      names = "--route",
      paramLabel = "DOMAIN=HOST:PORT",
      split = ",",
      description = "another backend for a domain; repeat")
  List<String> routes;

  @Mixin VerifierOptions verifier;

  @Mixin SessionOptions sessions;

  @Mixin AnswerOptions answers;

  @Option(
      names = "--max-connections",
      description =
          "Postfix connections at once; past it, the least recently active of the client"
              + " holding the most is closed for each new one",
      paramLabel = "N",
      defaultValue = "1000",
      converter = Converters.Positive.class)
  int maxConnections;

  @Option(
      names = "--max-connections-per-client",
      description =
          "connections from one IP address (UNIX socket: one user) at once; past it, that"
              + " client's least recently active is closed for each new one (Postfix reconnects)",
      paramLabel = "N",
      defaultValue = "500",
      converter = Converters.Positive.class)
  int maxConnectionsPerClient;

  @Option(
      names = "--connection-idle-timeout-s",
      description =
          "close a Postfix connection idle this long (Postfix closes its own after"
              + " smtpd_policy_service_max_idle, 300 s)",
      paramLabel = "N",
      defaultValue = "330",
      converter = Converters.Positive.class)
  int connectionIdleTimeoutS;

  @Option(
      names = "--request-timeout-ms",
      description = "close a connection whose request does not end within this",
      paramLabel = "N",
      defaultValue = "10000",
      converter = Converters.Positive.class)
  int requestTimeoutMs;

  @Mixin Rcptproxy.Usage usage; // help, --version, how help is laid out

  /** A started server and its verifiers. */
  record Running(PolicyServer server, List<RecipientVerifier> verifiers) implements AutoCloseable {
    @Override
    public void close() {
      server.close();
      verifiers.forEach(RecipientVerifier::close);
    }
  }

  @Override
  public Integer call() {
    Running running = start();
    spec.commandLine()
        .getOut()
        .println("rcptproxy policy server listening on " + running.server().address());
    return Rcptproxy.keepRunning(spec, running);
  }

  Running start() {
    PolicyAnswers policy =
        Rcptproxy.checked(
            spec,
            () -> {
              PolicyAnswers.Builder answered = PolicyAnswers.builder();
              answers.applyTo(answered);
              return answered.build();
            });
    List<RecipientVerifier> verifiers = new ArrayList<>();
    try {
      PolicyServer.Builder server = Rcptproxy.checked(spec, () -> routes(policy, verifiers));
      PolicyServer started = Rcptproxy.checked(spec, () -> listening(server));
      return new Running(started, List.copyOf(verifiers));
    } catch (RuntimeException e) {
      verifiers.forEach(RecipientVerifier::close);
      throw e;
    }
  }

  /** A server with a route per domain, each verifier made added to {@code verifiers}. */
  private PolicyServer.Builder routes(PolicyAnswers policy, List<RecipientVerifier> verifiers) {
    PolicyServer.Builder server = PolicyServer.builder();
    List<String> patterns = new ArrayList<>();
    if (!verifier.backends().isEmpty()) {
      RecipientVerifier backend = verifier(null);
      verifiers.add(backend);
      for (String domain : Rcptproxy.items(domains)) {
        server.route(domain, backend, policy);
        patterns.add(domain);
      }
    }
    for (String route : Rcptproxy.items(routes)) {
      int equals = route.indexOf('=');
      if (equals <= 0) {
        throw new IllegalArgumentException("--route must be DOMAIN=HOST:PORT, was '" + route + "'");
      }
      RecipientVerifier backend = verifier(HostPort.parse(route.substring(equals + 1), 25));
      verifiers.add(backend);
      server.route(route.substring(0, equals), backend, policy);
      patterns.add(route.substring(0, equals));
    }
    if (verifiers.isEmpty()) {
      throw new IllegalArgumentException(
          "policy needs --backend HOST:PORT or --route DOMAIN=HOST:PORT");
    }
    warnOfUnroutedSubdomains(patterns);
    listenOn(server);
    return server
        .maxConnections(maxConnections)
        .maxConnectionsPerClient(maxConnectionsPerClient)
        .idleTimeout(Duration.ofSeconds(connectionIdleTimeoutS))
        .requestTimeout(Duration.ofMillis(requestTimeoutMs));
  }

  /**
   * Postfix's {@code relay_domains} covers subdomains too ({@code
   * parent_domain_matches_subdomains}, on by default): a domain routed without them leaves their
   * recipients answered DUNNO, relayed and bounced by the backend. A warning, not an error: a
   * {@code main.cf} may relay the domain alone.
   */
  private void warnOfUnroutedSubdomains(List<String> patterns) {
    List<String> lower = patterns.stream().map(p -> p.toLowerCase(Locale.ROOT)).toList();
    if (lower.contains("*")) {
      return;
    }
    for (String domain : lower) {
      if (!domain.startsWith("*.") && !lower.contains("*." + domain)) {
        spec.commandLine()
            .getErr()
            .println(
                spec.qualifiedName()
                    + ": warning: "
                    + domain
                    + " is verified, its subdomains are not: Postfix's relay_domains covers them"
                    + " too (parent_domain_matches_subdomains), so their recipients are answered"
                    + " DUNNO; add *."
                    + domain
                    + " unless Postfix relays "
                    + domain
                    + " alone");
        spec.commandLine().getErr().flush();
      }
    }
  }

  private void listenOn(PolicyServer.Builder server) {
    if (!(listen.address() instanceof UnixDomainSocketAddress)
        && (socketMode != null || socketGroup != null)) {
      throw new IllegalArgumentException(
          "--socket-mode and --socket-group apply to --listen unix:PATH only"
              + (listen.address() == null
                  ? " (with systemd, the socket unit sets SocketMode= and SocketGroup=)"
                  : ""));
    }
    if (listen.address() == null) {
      server.listenInherited();
      return;
    }
    server.listen(listen.address());
    if (socketMode != null) {
      server.socketPermissions(socketMode.permissions());
    }
    if (socketGroup != null) {
      server.socketGroup(socketGroup);
    }
  }

  /** A verifier asking {@code backend}, or with null the --backend list, in its order. */
  private RecipientVerifier verifier(HostPort backend) {
    VerifierConfig.Builder config = VerifierConfig.builder();
    verifier.applyTo(config);
    sessions.applyTo(config);
    if (backend != null) {
      config.backend(backend.host(), backend.port());
    }
    return RecipientVerifier.create(config.build());
  }

  /** Started: a port that cannot be had is a failure (exit 1), not a bad option. */
  private PolicyServer listening(PolicyServer.Builder server) {
    try {
      return server.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot listen on " + listen + ": " + e.getMessage(), e);
    }
  }
}
