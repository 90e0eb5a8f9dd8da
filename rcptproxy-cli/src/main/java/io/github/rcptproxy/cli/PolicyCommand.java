package io.github.rcptproxy.cli;

import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.policy.FailureMode;
import io.github.rcptproxy.postfix.PolicyAnswers;
import io.github.rcptproxy.postfix.PolicyServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code rcptproxy policy}: the Postfix policy server. */
@Command(
    name = "policy",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    usageHelpAutoWidth = true,
    showDefaultValues = true,
    description = {
      "A Postfix policy server: verifies each recipient Postfix asks about with the backend.",
      "In main.cf:",
      "  smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,"
          + " check_policy_service inet:127.0.0.1:10040",
      "  smtpd_policy_service_default_action = DUNNO",
      "Every option can also come from the environment (--timeout-ms: RCPTPROXY_TIMEOUT_MS)"
          + " or from --config FILE (timeout-ms=500); the command line wins."
    },
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:stopped", "1:could not start (address in use...)", "2:bad option"})
final class PolicyCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE", description = "properties file of options")
  String config;

  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      defaultValue = "127.0.0.1:10040",
      description = "where Postfix connects")
  String listen;

  @Option(
      names = "--backend",
      paramLabel = "HOST:PORT",
      description = "the internal SMTP server that knows the mailboxes")
  String backend;

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
  List<String> routes = new ArrayList<>();

  @Option(names = "--helo", defaultValue = "world", description = "EHLO name")
  String helo;

  @Mixin BackendTransportOptions transport;

  @Option(
      names = "--probe-sender",
      paramLabel = "ADDRESS",
      defaultValue = "",
      description = "MAIL FROM of RCPT probes (default: the null sender)")
  String probeSender;

  @Option(
      names = "--probe-method",
      defaultValue = "vrfy",
      description = "vrfy (VRFY where the backend proved honest, else RCPT) or rcpt")
  String probeMethod;

  @Option(
      names = "--timeout-ms",
      paramLabel = "N",
      defaultValue = "3000",
      description = "deadline per verification")
  int timeoutMs;

  @Option(
      names = "--connect-timeout-ms",
      description = "deadline of a TCP connect to the backend",
      paramLabel = "N",
      defaultValue = "2000")
  int connectTimeoutMs;

  @Option(
      names = "--max-sessions",
      paramLabel = "N",
      defaultValue = "8",
      description = "backend sessions at most")
  int maxSessions;

  @Option(
      names = "--idle-timeout-s",
      paramLabel = "N",
      defaultValue = "300",
      description = "backend session idle")
  int idleTimeoutS;

  @Option(
      names = "--max-age-s",
      paramLabel = "N",
      defaultValue = "1800",
      description = "backend session age")
  int maxAgeS;

  @Option(
      names = "--max-rejections-per-session",
      description = "replace a backend session after this many rejections (rcptproxy probe tells)",
      paramLabel = "N",
      defaultValue = "8")
  int maxRejectionsPerSession;

  @Option(
      names = "--max-vrfy-per-session",
      description = "replace a backend session after this many VRFYs (rcptproxy probe tells)",
      paramLabel = "N",
      defaultValue = "90")
  int maxVrfyPerSession;

  @Option(
      names = "--cache-positive-ttl-s",
      defaultValue = "0",
      description = "remember accepted recipients this long; 0: no cache")
  int cachePositiveTtlS;

  @Option(
      names = "--cache-negative-ttl-s",
      description = "remember rejected recipients this long (with a cache)",
      paramLabel = "N",
      defaultValue = "300")
  int cacheNegativeTtlS;

  @Option(
      names = "--cache-max-entries",
      description = "verdicts remembered at most",
      paramLabel = "N",
      defaultValue = "100000")
  int cacheMaxEntries;

  @Option(
      names = "--catch-all-ttl-s",
      paramLabel = "N",
      defaultValue = "0",
      description = "0: no detection")
  int catchAllTtlS;

  @Option(
      names = "--reject-code",
      description = "code of a rejection, 400-599",
      paramLabel = "N",
      defaultValue = "550")
  int rejectCode;

  @Option(
      names = "--reject-message",
      defaultValue = "Unable to relay to @",
      description = "a trailing @ becomes the address")
  String rejectMessage;

  @Option(names = "--expose-backend-reply", description = "send the backend's own text")
  boolean exposeBackendReply;

  @Option(
      names = "--on-unverified",
      defaultValue = "accept",
      description = "accept (DUNNO) or tempfail (DEFER_IF_PERMIT) when the backend cannot answer")
  String onUnverified;

  @Option(names = "--on-backend-tempfail", defaultValue = "accept", description = "accept|tempfail")
  String onBackendTempfail;

  @Option(
      names = "--bypass",
      paramLabel = "CIDR",
      split = ",",
      description = "client addresses (client_address) that are not verified")
  List<String> bypass = new ArrayList<>();

  @Option(
      names = "--max-connections",
      description = "Postfix connections at once; more are closed",
      paramLabel = "N",
      defaultValue = "1000")
  int maxConnections;

  @Option(
      names = "--connection-idle-timeout-s",
      description = "close a Postfix connection idle this long",
      paramLabel = "N",
      defaultValue = "600")
  int connectionIdleTimeoutS;

  @Option(
      names = "--request-timeout-ms",
      description = "close a connection whose request does not end within this",
      paramLabel = "N",
      defaultValue = "10000")
  int requestTimeoutMs;

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
    java.io.PrintWriter out = spec.commandLine().getOut();
    Running running = start();
    out.println("rcptproxy policy server listening on " + running.server().address());
    out.flush();
    Runtime.getRuntime().addShutdownHook(new Thread(running::close, "rcptproxy-shutdown"));
    return Rcptproxy.KEEP_RUNNING;
  }

  Running start() {
    PolicyAnswers answers;
    try {
      answers =
          PolicyAnswers.builder()
              .rejectCode(rejectCode)
              .rejectMessage(rejectMessage)
              .exposeBackendReply(exposeBackendReply)
              .onUnverified(mode(onUnverified, "--on-unverified"))
              .onBackendTemporaryFailure(mode(onBackendTempfail, "--on-backend-tempfail"))
              .bypass(bypass)
              .build();
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
    List<RecipientVerifier> verifiers = new ArrayList<>();
    PolicyServer.Builder server = PolicyServer.builder();
    try {
      if (backend != null) {
        RecipientVerifier verifier = verifier(backend);
        verifiers.add(verifier);
        for (String domain : domains) {
          server.route(domain, verifier, answers);
        }
      }
      for (String route : routes) {
        int equals = route.indexOf('=');
        if (equals <= 0) {
          throw usage("--route must be DOMAIN=HOST:PORT, was '" + route + "'");
        }
        RecipientVerifier verifier = verifier(route.substring(equals + 1));
        verifiers.add(verifier);
        server.route(route.substring(0, equals), verifier, answers);
      }
      if (verifiers.isEmpty()) {
        throw usage("policy needs --backend HOST:PORT or --route DOMAIN=HOST:PORT");
      }
      HostPort at = HostPort.parse(listen, 10040);
      server
          .listen(new InetSocketAddress(at.host(), at.port()))
          .maxConnections(maxConnections)
          .idleTimeout(Duration.ofSeconds(connectionIdleTimeoutS))
          .requestTimeout(Duration.ofMillis(requestTimeoutMs));
      return new Running(server.start(), List.copyOf(verifiers));
    } catch (picocli.CommandLine.ParameterException e) {
      verifiers.forEach(RecipientVerifier::close);
      throw e;
    } catch (RuntimeException e) { // a value the builders refused, or a bad HOST:PORT
      verifiers.forEach(RecipientVerifier::close);
      throw usage(e.getMessage());
    } catch (IOException e) {
      verifiers.forEach(RecipientVerifier::close);
      throw new IllegalStateException("cannot listen on " + listen + ": " + e.getMessage(), e);
    }
  }

  private RecipientVerifier verifier(String hostPort) {
    HostPort at = HostPort.parse(hostPort, 25);
    VerifierConfig.Builder config =
        VerifierConfig.builder()
            .backend(at.host(), at.port())
            .heloName(helo)
            .probeSender(probeSender)
            .probeMethod(
                switch (probeMethod.toLowerCase(Locale.ROOT)) {
                  case "vrfy" -> ProbeMethod.VRFY;
                  case "rcpt" -> ProbeMethod.RCPT;
                  default -> throw usage("--probe-method must be vrfy or rcpt, was " + probeMethod);
                })
            .deadline(Duration.ofMillis(timeoutMs))
            .connectTimeout(Duration.ofMillis(Math.min(connectTimeoutMs, timeoutMs)))
            .maxSessions(maxSessions)
            .idleTimeout(Duration.ofSeconds(idleTimeoutS))
            .maxSessionAge(Duration.ofSeconds(maxAgeS))
            .maxRejectionsPerSession(maxRejectionsPerSession)
            .maxVrfyPerSession(maxVrfyPerSession);
    if (cachePositiveTtlS > 0) {
      config.cache(
          Duration.ofSeconds(cachePositiveTtlS),
          Duration.ofSeconds(cacheNegativeTtlS),
          cacheMaxEntries);
    }
    if (catchAllTtlS > 0) {
      config.catchAllDetection(Duration.ofSeconds(catchAllTtlS));
    }
    transport.applyTo(config);
    return RecipientVerifier.create(config.build());
  }

  private static FailureMode mode(String value, String option) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "accept" -> FailureMode.ACCEPT;
      case "tempfail" -> FailureMode.TEMPFAIL;
      default ->
          throw new IllegalArgumentException(option + " must be accept or tempfail, was " + value);
    };
  }

  private picocli.CommandLine.ParameterException usage(String message) {
    return new picocli.CommandLine.ParameterException(spec.commandLine(), message);
  }
}
