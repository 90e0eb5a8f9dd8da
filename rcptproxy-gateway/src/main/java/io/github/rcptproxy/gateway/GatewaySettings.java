package io.github.rcptproxy.gateway;

import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.subethasmtp.RecipientPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Everything the gateway is told: an immutable value, built with {@link #builder()} (which has the
 * defaults of {@code rcptproxy gateway}) or given whole. Each setting is the {@code rcptproxy
 * gateway} option of the same name, and the messages of a refused value name that option, since
 * that is where users give it.
 */
public record GatewaySettings(
    HostPort listen,
    String hostName,
    List<String> domains,
    String postmaster,
    VerifierConfig verifier,
    RecipientPolicy policy,
    Limits limits,
    Optional<Tls> tls,
    Optional<HostPort> metricsListen,
    Duration summaryInterval,
    Optional<Cluster> cluster) {

  /**
   * @throws IllegalArgumentException naming the first value that is refused
   */
  public GatewaySettings {
    Objects.requireNonNull(listen, "listen");
    Objects.requireNonNull(verifier, "verifier");
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(tls, "tls");
    Objects.requireNonNull(metricsListen, "metricsListen");
    Objects.requireNonNull(cluster, "cluster");
    domains = List.copyOf(domains);
    if (verifier.backendHost().isEmpty()) {
      throw new IllegalArgumentException("--backend HOST:PORT is required");
    }
    if (domains.isEmpty()) {
      throw new IllegalArgumentException("at least one --domain is required");
    }
    if (hostName == null || !hostName.matches("[A-Za-z0-9.-]{1,253}")) {
      throw new IllegalArgumentException("--hostname must be a host name, got '" + hostName + "'");
    }
    Optional<String> problem =
        AddressCheck.problem(Objects.requireNonNull(postmaster, "postmaster"));
    if (problem.isPresent()) {
      throw new IllegalArgumentException("--postmaster must be an address: " + problem.get());
    }
    if (summaryInterval.isNegative()) {
      throw new IllegalArgumentException(
          "--summary-interval-s cannot be negative, was " + summaryInterval);
    }
  }

  /**
   * What the SMTP front allows; fixed at start (a reload that changes them is logged, not applied).
   *
   * @throws IllegalArgumentException from the constructor, naming a value that is not positive
   */
  public record Limits(
      int maxMessageSize,
      int maxRecipients,
      int maxConnections,
      int maxConnectionsPerClient,
      int maxRejectedPerClient,
      Duration rejectedCoolDown,
      Duration commandTimeout,
      Duration relayTimeout,
      int relayConnections) {

    public Limits {
      positive(maxMessageSize, "--max-message-size");
      positive(maxRecipients, "--max-recipients");
      positive(maxConnections, "--max-connections");
      positive(maxConnectionsPerClient, "--max-connections-per-client");
      positive(maxRejectedPerClient, "--max-rejected-per-client");
      positive(rejectedCoolDown, "--rejected-cooldown-s");
      positive(commandTimeout, "--command-timeout-s");
      positive(relayTimeout, "--relay-timeout-s");
      positive(relayConnections, "--relay-connections");
    }

    private static void positive(long value, String option) {
      if (value < 1) {
        throw new IllegalArgumentException(option + " must be at least 1, was " + value);
      }
    }

    private static void positive(Duration value, String option) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(option + " must be positive, was " + value);
      }
    }
  }

  /** STARTTLS for clients: PEM files, read again when they change. */
  public record Tls(Path certificate, Path key, boolean required) {
    public Tls {
      Objects.requireNonNull(certificate, "certificate");
      Objects.requireNonNull(key, "key");
    }
  }

  /**
   * The fleet this gateway is a member of: an embedded Hazelcast member that shares the verdict
   * cache, known-good addresses and per-client rejection limits with the other gateways.
   *
   * @param listen this member's address ({@code --cluster-listen}); empty with a config file that
   *     names it
   * @param members the other members' addresses ({@code --cluster-members}), joined over TCP-IP
   * @param config a Hazelcast XML or YAML file for everything else ({@code --cluster-config});
   *     {@code listen} and {@code members} replace its network settings
   */
  public record Cluster(Optional<HostPort> listen, List<HostPort> members, Optional<Path> config) {
    public Cluster {
      Objects.requireNonNull(listen, "listen");
      Objects.requireNonNull(config, "config");
      members = List.copyOf(members);
      if (listen.isEmpty() && config.isEmpty()) {
        throw new IllegalArgumentException(
            "a cluster needs --cluster-listen HOST:PORT or --cluster-config FILE");
      }
      if (listen.isEmpty() && !members.isEmpty()) {
        throw new IllegalArgumentException("--cluster-members needs --cluster-listen HOST:PORT");
      }
      listen.ifPresent(address -> port(address, "--cluster-listen"));
      members.forEach(address -> port(address, "--cluster-members"));
      if (listen.isPresent() && members.contains(listen.get())) {
        throw new IllegalArgumentException(
            "--cluster-members names the other members, not this one (" + listen.get() + ")");
      }
    }

    private static void port(HostPort address, String option) {
      if (address.port() < 1) {
        throw new IllegalArgumentException(
            option + " needs a port from 1 to 65535 (Hazelcast's is 5701), got " + address);
      }
    }
  }

  /** A builder with the defaults of {@code rcptproxy gateway}; backend and domain it has not. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Collects settings; {@link #build()} validates them. The verifier and the policy are built from
   * their own builders, which {@link #verifier(Consumer)} and {@link #policy(Consumer)} change in
   * the order given. Not thread-safe.
   */
  public static final class Builder {
    private HostPort listen = new HostPort("127.0.0.1", 2525);
    private String hostName = "rcptproxy-gateway";
    private List<String> domains = List.of();
    private String postmaster;
    private final VerifierConfig.Builder verifier = VerifierConfig.builder();
    private final RecipientPolicy.Builder policy = RecipientPolicy.builder();
    private int maxMessageSize = 10 * 1024 * 1024;
    private int maxRecipients = 100;
    private int maxConnections = 100;
    private int maxConnectionsPerClient = 10;
    private int maxRejectedPerClient = 30;
    private Duration rejectedCoolDown = Duration.ofSeconds(300);
    private Duration commandTimeout = Duration.ofSeconds(60);
    private Duration relayTimeout = Duration.ofSeconds(300);
    private int relayConnections = 10;
    private Tls tls;
    private HostPort metricsListen;
    private Duration summaryInterval = Duration.ofSeconds(60);
    private Cluster cluster;

    private Builder() {}

    /** Where the gateway listens; default 127.0.0.1:2525 (port 0: any free port). */
    public Builder listen(HostPort listen) {
      this.listen = Objects.requireNonNull(listen, "listen");
      return this;
    }

    /** The gateway's name in its greeting and Received header; default rcptproxy-gateway. */
    public Builder hostName(String hostName) {
      this.hostName = hostName;
      return this;
    }

    /** The domains the gateway takes mail for, {@code *.NAME} for every subdomain; required. */
    public Builder domains(List<String> domains) {
      this.domains = List.copyOf(domains);
      return this;
    }

    /** Where {@code RCPT TO:<postmaster>} goes; default postmaster@ the first domain. */
    public Builder postmaster(String postmaster) {
      this.postmaster = postmaster;
      return this;
    }

    /** Changes the verifier's settings; its backend (required) is also where mail is relayed. */
    public Builder verifier(Consumer<VerifierConfig.Builder> change) {
      change.accept(verifier);
      return this;
    }

    /** Changes what clients are told; default {@link RecipientPolicy#defaults()}. */
    public Builder policy(Consumer<RecipientPolicy.Builder> change) {
      change.accept(policy);
      return this;
    }

    /** The largest message taken, in bytes; default 10 MiB. */
    public Builder maxMessageSize(int maxMessageSize) {
      this.maxMessageSize = maxMessageSize;
      return this;
    }

    /** Recipients per message at most; default 100. */
    public Builder maxRecipients(int maxRecipients) {
      this.maxRecipients = maxRecipients;
      return this;
    }

    /** Client connections at once at most; default 100. */
    public Builder maxConnections(int maxConnections) {
      this.maxConnections = maxConnections;
      return this;
    }

    /** Connections at once from one client (an IPv4 address or an IPv6 /64); default 10. */
    public Builder maxConnectionsPerClient(int maxConnectionsPerClient) {
      this.maxConnectionsPerClient = maxConnectionsPerClient;
      return this;
    }

    /**
     * Rejected recipients per client per minute; one more, if the client also had fewer recipients
     * accepted than rejected in that minute, and the client is refused for {@link
     * #rejectedCoolDown}; default 30.
     */
    public Builder maxRejectedPerClient(int maxRejectedPerClient) {
      this.maxRejectedPerClient = maxRejectedPerClient;
      return this;
    }

    /** How long a client over {@link #maxRejectedPerClient} is refused; default 300 s. */
    public Builder rejectedCoolDown(Duration rejectedCoolDown) {
      this.rejectedCoolDown = Objects.requireNonNull(rejectedCoolDown, "rejectedCoolDown");
      return this;
    }

    /** Time allowed for each client command line, waiting included; default 60 s. */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = Objects.requireNonNull(commandTimeout, "commandTimeout");
      return this;
    }

    /**
     * Time allowed for receiving one message from the client, for each reply of the backend while
     * relaying it but the one to the end of data (RFC 5321's 10 minutes, or this if longer), and
     * for a relay connection to come free; default 300 s.
     */
    public Builder relayTimeout(Duration relayTimeout) {
      this.relayTimeout = Objects.requireNonNull(relayTimeout, "relayTimeout");
      return this;
    }

    /**
     * Connections to the backend for relaying messages, at most, apart from the verifier's {@code
     * max-sessions}; default 10.
     */
    public Builder relayConnections(int relayConnections) {
      this.relayConnections = relayConnections;
      return this;
    }

    /** STARTTLS for clients; default none (and null for none). */
    public Builder tls(Tls tls) {
      this.tls = tls;
      return this;
    }

    /** Where /metrics and /health are served; default nowhere (and null for nowhere). */
    public Builder metricsListen(HostPort metricsListen) {
      this.metricsListen = metricsListen;
      return this;
    }

    /** How often a one-line summary is logged; zero never; default 60 s. */
    public Builder summaryInterval(Duration summaryInterval) {
      this.summaryInterval = Objects.requireNonNull(summaryInterval, "summaryInterval");
      return this;
    }

    /** The fleet this gateway shares what it learns with; default none (and null for none). */
    public Builder cluster(Cluster cluster) {
      this.cluster = cluster;
      return this;
    }

    /**
     * @throws IllegalArgumentException naming the first value that is refused
     */
    public GatewaySettings build() {
      return new GatewaySettings(
          listen,
          hostName,
          domains,
          postmaster == null && !domains.isEmpty() ? defaultPostmaster(domains) : postmaster,
          verifier.build(),
          policy.build(),
          new Limits(
              maxMessageSize,
              maxRecipients,
              maxConnections,
              maxConnectionsPerClient,
              maxRejectedPerClient,
              rejectedCoolDown,
              commandTimeout,
              relayTimeout,
              relayConnections),
          Optional.ofNullable(tls),
          Optional.ofNullable(metricsListen),
          summaryInterval,
          Optional.ofNullable(cluster));
    }

    private static String defaultPostmaster(List<String> domains) {
      if (domains.get(0).contains("*")) {
        throw new IllegalArgumentException(
            "--postmaster ADDRESS is required when the first --domain is a pattern ("
                + domains
                + ")");
      }
      return "postmaster@" + domains.get(0);
    }
  }
}
