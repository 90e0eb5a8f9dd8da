package io.github.rcptproxy.gateway;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.VerifierStats;
import io.github.rcptproxy.gateway.fleet.Fleet;
import io.github.rcptproxy.gateway.front.DeadlineSocket;
import io.github.rcptproxy.gateway.front.SmtpFront;
import io.github.rcptproxy.gateway.limits.ClientAllowance;
import io.github.rcptproxy.gateway.limits.ClientLimits;
import io.github.rcptproxy.gateway.ops.MetricsEndpoint;
import io.github.rcptproxy.gateway.ops.TlsFiles;
import io.github.rcptproxy.gateway.relay.RelayingHandlerFactory;
import io.github.rcptproxy.gateway.relay.SmtpRelay;
import io.github.rcptproxy.micrometer.MicrometerMetrics;
import io.github.rcptproxy.subethasmtp.DomainRoutes;
import io.github.rcptproxy.subethasmtp.RecipientVerifyingHandlerFactory;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.server.SMTPServer;

/**
 * The screening SMTP front: SubEthaSMTP with the verifying wrapper in front of a relaying handler.
 * Reloads its config file when it changes; {@link #close()} drains in-flight messages first.
 */
public final class RunningGateway implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RunningGateway.class);
  private static final long CONFIG_POLL_MILLIS = 500;

  private final RecipientVerifier verifier;
  private final RelayingHandlerFactory relaying;
  private final AtomicReference<RecipientVerifyingHandlerFactory> screening =
      new AtomicReference<>();
  private final SMTPServer server;
  private final ScheduledExecutorService timer;
  private final ScheduledThreadPoolExecutor watchdog;
  private final MicrometerMetrics metrics;
  private final MetricsEndpoint metricsEndpoint;
  private final TlsFiles tls;
  private final Fleet fleet;
  private final AtomicInteger reloadsRefused = new AtomicInteger();
  private volatile GatewaySettings settings;
  private FileTime configSeen;

  /**
   * The file the settings were read from, and how to read them again: the gateway watches the file
   * and, when it changes, asks {@code reader} for the settings it now holds (so the gateway knows
   * nothing of how a file is parsed). A reader refuses a bad file by throwing; the message of what
   * it throws is logged and the running settings stay.
   */
  public record ConfigFile(Path file, Supplier<GatewaySettings> reader) {
    public ConfigFile {
      Objects.requireNonNull(file, "file");
      Objects.requireNonNull(reader, "reader");
    }
  }

  private RunningGateway(GatewaySettings settings, Optional<ConfigFile> config) {
    this.settings = settings;
    PrometheusMeterRegistry registry =
        settings.metricsListen().isPresent()
            ? new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
            : null;
    this.metrics = registry == null ? null : new MicrometerMetrics(registry);
    GatewaySettings.Limits limits = settings.limits();
    this.tls = settings.tls().map(TlsFiles::new).orElse(null);
    this.fleet = settings.cluster().map(Fleet::join).orElse(null);
    SmtpFront front =
        new SmtpFront(
            limits.commandTimeout(),
            limits.relayTimeout(),
            clientLimits(limits),
            settings.hostName());
    this.verifier = RecipientVerifier.create(withFleet(settings.verifier()));
    this.relaying =
        new RelayingHandlerFactory(
            relayFor(settings), limits.maxMessageSize(), front, settings.postmaster());
    if (fleet != null) {
      relaying.shareMemory(fleet.relayMemory());
    }
    try {
      screening.set(RecipientVerifyingHandlerFactory.wrap(relaying, routes(settings)));
    } catch (UsageException e) {
      verifier.close();
      if (fleet != null) {
        fleet.close();
      }
      throw e;
    }
    watchdog =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread thread = new Thread(r, "rcptproxy-gateway-watchdog");
              thread.setDaemon(true);
              return thread;
            });
    watchdog.setRemoveOnCancelPolicy(true); // a closed connection leaves nothing behind
    SMTPServer.Builder builder =
        SMTPServer.port(settings.listen().port())
            .bindAddress(address(settings.listen().host()))
            .hostName(settings.hostName())
            .softwareName("rcptproxy-gateway")
            .insertReceivedHeaders(false)
            .maxMessageSize(limits.maxMessageSize())
            .maxRecipients(limits.maxRecipients())
            .maxConnections(limits.maxConnections())
            .connectionTimeout((int) limits.commandTimeout().toMillis(), TimeUnit.MILLISECONDS)
            .serverSocketFactory(() -> new DeadlineSocket.Server(watchdog))
            .sessionHandler(front)
            .messageHandlerFactory(front.countingRejections(screening::get));
    if (tls != null) {
      builder
          .enableTLS()
          .requireTLS(settings.tls().get().required())
          .startTlsSocketFactory(tls::wrap);
    }
    this.server = builder.build();
    front.install(server);
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread thread = new Thread(r, "rcptproxy-gateway-timer");
              thread.setDaemon(true);
              return thread;
            });
    config.ifPresent(this::watch);
    if (tls != null) {
      timer.scheduleWithFixedDelay(
          tls::reloadIfChanged, CONFIG_POLL_MILLIS, CONFIG_POLL_MILLIS, TimeUnit.MILLISECONDS);
    }
    if (!settings.summaryInterval().isZero()) {
      long every = settings.summaryInterval().toMillis();
      timer.scheduleAtFixedRate(this::logSummary, every, every, TimeUnit.MILLISECONDS);
    }
    if (metrics != null) {
      metrics.bindTo(verifier);
      if (fleet != null) {
        fleet.bindTo(registry);
      }
      metricsEndpoint =
          new MetricsEndpoint(
              settings.metricsListen().get(),
              registry,
              verifier,
              () -> fleet == null ? "" : fleet.status());
    } else {
      metricsEndpoint = null;
    }
  }

  private VerifierConfig withFleet(VerifierConfig config) {
    VerifierConfig shared = fleet == null ? config : fleet.sharing(config);
    return metrics == null ? shared : shared.toBuilder().listener(metrics).build();
  }

  /** This gateway's own per-client limits, or the fleet's over them. */
  private ClientAllowance clientLimits(GatewaySettings.Limits limits) {
    ClientLimits local =
        new ClientLimits(
            limits.maxConnectionsPerClient(),
            limits.maxRejectedPerClient(),
            limits.rejectedCoolDown(),
            Clock.systemUTC());
    return fleet == null
        ? local
        : fleet.limits(local, limits.maxRejectedPerClient(), limits.rejectedCoolDown());
  }

  /** The fleet this gateway is a member of, if it is. */
  public Optional<Fleet> fleet() {
    return Optional.ofNullable(fleet);
  }

  /** One line for the log: what was verified so far, the cache, the sessions, the backend. */
  public String summary() {
    VerifierStats stats = verifier.stats();
    long unverified = stats.unverified().values().stream().mapToLong(Long::longValue).sum();
    return String.format(
        "verified %d: %d accepted, %d rejected, %d unverified %s; cache %d hits, %d misses;"
            + " backend sessions %d active, %d idle, %d opened; backend %s%s",
        stats.verifications(),
        stats.accepted(),
        stats.rejected(),
        unverified,
        stats.unverified().entrySet().stream()
            .filter(e -> e.getValue() > 0)
            .map(e -> e.getKey() + "=" + e.getValue())
            .toList(),
        stats.cacheHits(),
        stats.cacheMisses(),
        stats.sessionsActive(),
        stats.sessionsIdle(),
        stats.sessionsOpened(),
        verifier.health().status(),
        fleet == null ? "" : "; " + fleet.status());
  }

  private void logSummary() {
    LOG.info(summary());
  }

  /** Where /metrics and /health are served, if they are. */
  public OptionalInt metricsPort() {
    return metricsEndpoint == null ? OptionalInt.empty() : OptionalInt.of(metricsEndpoint.port());
  }

  /**
   * Starts listening.
   *
   * @throws UsageException if the settings cannot be put to work (a bad domain pattern, say)
   */
  public static RunningGateway start(GatewaySettings settings) {
    return start(settings, Optional.empty());
  }

  /**
   * Starts listening, and reloads the settings whenever {@code config}'s file changes. Only the
   * verifier, the policy, the domains and the postmaster change on reload: a changed listen
   * address, host name, limits, TLS files, metrics or summary setting is logged and waits for a
   * restart.
   *
   * @throws UsageException if the settings cannot be put to work (a bad domain pattern, say)
   */
  public static RunningGateway start(GatewaySettings settings, ConfigFile config) {
    return start(settings, Optional.of(config));
  }

  private static RunningGateway start(GatewaySettings settings, Optional<ConfigFile> config) {
    RunningGateway gateway = new RunningGateway(settings, config);
    gateway.server.start();
    LOG.info(
        "gateway listening on {} for {} -> backend {}",
        gateway.listening(),
        settings.domains(),
        settings.verifier().backends().isEmpty()
            ? "none"
            : settings.verifier().backends().stream()
                .map(b -> b.getHostString() + ":" + b.getPort())
                .collect(Collectors.joining(",")));
    return gateway;
  }

  public int port() {
    return server.getPortAllocated();
  }

  public String listening() {
    return settings.listen().host() + ":" + port();
  }

  public RecipientVerifier verifier() {
    return verifier;
  }

  /** How many changed config files were refused (and the running settings kept). */
  public int reloadsRefused() {
    return reloadsRefused.get();
  }

  /** Reads the config file again; a bad one is logged and the running settings stay. */
  private void reload(ConfigFile config) {
    GatewaySettings next;
    try {
      next = config.reader().get();
      routes(next); // checks the domain patterns before anything changes
    } catch (RuntimeException e) { // whatever the reader refuses a file with
      LOG.error("config not reloaded, keeping the running one: {}", e.getMessage());
      reloadsRefused.incrementAndGet();
      return;
    }
    if (!next.listen().equals(settings.listen())
        || !next.limits().equals(settings.limits())
        || !next.tls().equals(settings.tls())
        || !next.hostName().equals(settings.hostName())
        || !next.metricsListen().equals(settings.metricsListen())
        || !next.summaryInterval().equals(settings.summaryInterval())
        || !next.cluster().equals(settings.cluster())) {
      LOG.warn(
          "listen address, host name, limits, TLS files, metrics, summary and cluster settings"
              + " change only with a restart");
    }
    verifier.reconfigure(withFleet(next.verifier()));
    relaying.relayTo(relayFor(next), next.postmaster());
    screening.set(screening.get().withRoutes(routes(next))); // sessions keep their counts
    settings = next;
    LOG.info("config reloaded: {}, {}", next.verifier(), next.policy());
  }

  /**
   * Stops taking mail, lets messages in flight finish (each as long as the backend may take to
   * answer its end of data: RFC 5321's 10 minutes, plus {@code relay-timeout-s}), then closes
   * everything.
   */
  @Override
  public void close() {
    timer.shutdownNow();
    if (metricsEndpoint != null) {
      metricsEndpoint.close();
    }
    relaying.drain();
    // A message in flight may wait for the backend's answer to its end of data as long as its
    // client does: stopping sooner would leave a delivered message tempfailed, sent again.
    Duration drain = settings.limits().relayTimeout().plus(SmtpRelay.DATA_END);
    long deadline = System.nanoTime() + drain.toNanos();
    while (relaying.inFlight() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(50); // shutdown path: nothing to be notified by
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    server.stop();
    relaying.close();
    watchdog.shutdownNow();
    LOG.info("gateway stopped; {}", summary());
    verifier.close();
    if (fleet != null) {
      fleet.close();
    }
  }

  private DomainRoutes routes(GatewaySettings settings) {
    DomainRoutes.Builder routes = DomainRoutes.builder();
    try {
      for (String domain : settings.domains()) {
        routes.route(domain, verifier, settings.policy());
      }
      return routes.build();
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
  }

  private static SmtpRelay relayFor(GatewaySettings settings) {
    return new SmtpRelay(
        settings.verifier(),
        settings.limits().relayTimeout(),
        settings.limits().relayConnections());
  }

  private static InetAddress address(String host) {
    try {
      return InetAddress.getByName(host);
    } catch (UnknownHostException e) {
      throw new UsageException("cannot listen on " + host + ": unknown host");
    }
  }

  private void watch(ConfigFile config) {
    configSeen = modified(config.file());
    timer.scheduleWithFixedDelay(
        () -> {
          FileTime now = modified(config.file());
          if (!Objects.equals(now, configSeen)) {
            configSeen = now;
            reload(config);
          }
        },
        CONFIG_POLL_MILLIS,
        CONFIG_POLL_MILLIS,
        TimeUnit.MILLISECONDS);
  }

  private static FileTime modified(Path file) {
    try {
      return Files.getLastModifiedTime(file);
    } catch (IOException e) {
      return null;
    }
  }
}
