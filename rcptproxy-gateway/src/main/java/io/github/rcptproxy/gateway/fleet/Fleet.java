package io.github.rcptproxy.gateway.fleet;

import com.hazelcast.cache.HazelcastCachingProvider;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.CacheSimpleConfig;
import com.hazelcast.config.CacheSimpleConfig.ExpiryPolicyFactoryConfig;
import com.hazelcast.config.CacheSimpleConfig.ExpiryPolicyFactoryConfig.DurationConfig;
import com.hazelcast.config.CacheSimpleConfig.ExpiryPolicyFactoryConfig.TimedExpiryPolicyFactoryConfig;
import com.hazelcast.config.CacheSimpleConfig.ExpiryPolicyFactoryConfig.TimedExpiryPolicyFactoryConfig.ExpiryPolicyType;
import com.hazelcast.config.Config;
import com.hazelcast.config.InvalidConfigurationException;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastException;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent;
import io.github.bucket4j.grid.jcache.Bucket4jJCache;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.GatewaySettings;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.UsageException;
import io.github.rcptproxy.gateway.limits.ClientAllowance;
import io.github.rcptproxy.gateway.limits.ClientLimits;
import io.github.rcptproxy.gateway.relay.SharedRelayMemory;
import io.github.rcptproxy.jcache.JCacheVerdictCache;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.FileNotFoundException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.cache.Cache;
import javax.cache.CacheManager;
import javax.cache.Caching;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This gateway's membership of a fleet: an embedded Hazelcast member, joined to the others over
 * TCP-IP (never multicast), holding what the gateways share: the verdict cache if the gateway has
 * one, each domain's known-good address and catch-all and VRFY-trust findings, the backend
 * addresses the verifier skips and the session limits it learnt of the backend (with or without a
 * verdict cache), per-client rejection limits ({@link FleetLimits}), and what the relays learnt of
 * each backend: the recipients per message it takes, the sender and recipient pairs it refused at
 * relay time ({@link FleetRelayMemory}), and the addresses that did not answer the relay ({@link
 * FleetRelayBreaker}). The member holds its share of the data and a backup of another's, so a
 * member that dies loses nothing. The limits never call the cluster on an SMTP thread ({@link
 * FleetCalls}); the verifier waits for a shared cache at most a tenth of its deadline. When the
 * cluster does not answer, or this member is alone, each gateway decides with its own state and
 * says so in the log, in {@link #status()} and in the metrics.
 */
public final class Fleet implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Fleet.class);
  static final String VERDICTS = "rcptproxy-verdicts";
  static final String REJECTIONS = "rcptproxy-rejections";
  static final String REFUSED = "rcptproxy-refused";
  static final String RELAY_LIMITS = "rcptproxy-relay-limits";
  static final String RELAY_REFUSED = "rcptproxy-relay-refused";
  static final String RELAY_DOWN = "rcptproxy-relay-down";

  private final HazelcastInstance member;
  private final CacheManager caches;
  private final FleetCalls calls = new FleetCalls();

  private volatile boolean closing;

  private Fleet(HazelcastInstance member) {
    this.member = member;
    member.getLifecycleService().addLifecycleListener(this::lifecycle);
    member.getCluster().addMembershipListener(new Watch());
    this.caches =
        Caching.getCachingProvider(HazelcastCachingProvider.MEMBER_CACHING_PROVIDER)
            .getCacheManager(
                null, null, HazelcastCachingProvider.propertiesByInstanceItself(member));
  }

  /**
   * Starts this gateway's member and joins the others; returns once it is in a cluster (alone, if
   * none of the others answered: it joins them when they do).
   *
   * @throws UsageException naming the option, if the member cannot start as configured
   */
  public static Fleet join(GatewaySettings.Cluster cluster) {
    Config config = config(cluster);
    HazelcastInstance member;
    try {
      member = Hazelcast.newHazelcastInstance(config);
    } catch (HazelcastException e) {
      throw new UsageException(
          "cannot start the cluster member"
              + cluster.listen().map(l -> " on --cluster-listen " + l).orElse("")
              + ": "
              + e.getMessage());
    }
    int size = member.getCluster().getMembers().size();
    if (size == 1 && !cluster.members().isEmpty()) {
      LOG.warn(
          "fleet member {} started alone: none of {} answered; per-client limits count this"
              + " gateway's clients only until one joins",
          member.getCluster().getLocalMember().getAddress(),
          cluster.members());
    } else {
      LOG.info(
          "fleet member {} joined a cluster of {}",
          member.getCluster().getLocalMember().getAddress(),
          size);
    }
    return new Fleet(member);
  }

  /** A member that stops while the gateway runs leaves it alone: said once, as it happens. */
  private void lifecycle(LifecycleEvent event) {
    if (event.getState() == LifecycleEvent.LifecycleState.SHUTTING_DOWN && !closing) {
      LOG.warn(
          "fleet member stopped while the gateway runs: from now on, per-client limits count"
              + " this gateway's clients only and no verdict is shared");
    }
  }

  /** Says when this member is left alone, and when it has company again. */
  private final class Watch implements MembershipListener {
    @Override
    public void memberAdded(MembershipEvent event) {
      LOG.info("fleet member {} joined: {} members", event.getMember().getAddress(), size(event));
    }

    @Override
    public void memberRemoved(MembershipEvent event) {
      if (size(event) < 2) {
        LOG.warn(
            "fleet member {} left and this one is alone: per-client limits count this gateway's"
                + " clients only until another member joins",
            event.getMember().getAddress());
      } else {
        LOG.info("fleet member {} left: {} members", event.getMember().getAddress(), size(event));
      }
    }

    private int size(MembershipEvent event) {
      return event.getMembers().size();
    }
  }

  /** The Hazelcast configuration: the file's, if any, with the options' network settings. */
  static Config config(GatewaySettings.Cluster cluster) {
    Config config = cluster.config().map(Fleet::read).orElseGet(() -> named(new Config()));
    setIfAbsent(config, "hazelcast.phone.home.enabled", "false");
    setIfAbsent(config, "hazelcast.logging.type", "slf4j");
    // The gateway leaves the cluster when it has stopped taking mail (close), not before: its own
    // shutdown drains the messages in flight first.
    setIfAbsent(config, "hazelcast.shutdownhook.enabled", "false");
    cluster.listen().ifPresent(listen -> network(config, listen, cluster));
    config.addCacheConfig(new CacheSimpleConfig().setName(VERDICTS));
    // A client's bucket untouched for two minutes is full again anyway: forgotten, so that the
    // cluster keeps only the clients of the last minutes.
    config.addCacheConfig(
        new CacheSimpleConfig()
            .setName(REJECTIONS)
            .setExpiryPolicyFactoryConfig(
                new ExpiryPolicyFactoryConfig(
                    new TimedExpiryPolicyFactoryConfig(
                        ExpiryPolicyType.TOUCHED, new DurationConfig(2, TimeUnit.MINUTES)))));
    return config;
  }

  private static Config named(Config config) {
    return config.setClusterName("rcptproxy");
  }

  private static Config read(Path file) {
    try {
      return Config.loadFromFile(file.toFile());
    } catch (FileNotFoundException e) {
      throw new UsageException("--cluster-config " + file + ": no such file");
    } catch (InvalidConfigurationException | IllegalArgumentException e) {
      throw new UsageException("--cluster-config " + file + ": " + e.getMessage());
    }
  }

  private static void network(Config config, HostPort listen, GatewaySettings.Cluster cluster) {
    NetworkConfig network = config.getNetworkConfig();
    network.setPort(listen.port()).setPortAutoIncrement(false);
    InetAddress address = address(listen.host());
    if (!address.isAnyLocalAddress()) {
      config.setProperty("hazelcast.socket.bind.any", "false");
      network.getInterfaces().setEnabled(true).addInterface(address.getHostAddress());
    }
    JoinConfig join = network.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).getMembers().clear();
    join.getTcpIpConfig().addMember(listen.toString());
    cluster.members().forEach(other -> join.getTcpIpConfig().addMember(other.toString()));
  }

  private static InetAddress address(String host) {
    try {
      return InetAddress.getByName(host);
    } catch (UnknownHostException e) {
      throw new UsageException("--cluster-listen " + host + ": unknown host");
    }
  }

  private static void setIfAbsent(Config config, String name, String value) {
    if (config.getProperty(name) == null && System.getProperty(name) == null) {
      config.setProperty(name, value);
    }
  }

  /**
   * The verifier's settings with its verdict cache in the cluster, with the same lifetimes; a
   * verifier without a cache keeps none (the fleet does not turn caching on), but shares its
   * findings (known-good addresses, catch-all and VRFY-trust findings, backend addresses skipped,
   * learnt session limits) in the same cluster cache.
   */
  public VerifierConfig sharing(VerifierConfig verifier) {
    if (!verifier.cacheEnabled()) {
      LOG.info(
          "fleet without a verdict cache: known-good addresses, catch-all and VRFY-trust"
              + " findings, backend addresses that did not answer and learnt session limits are"
              + " shared, verdicts are not (each one is asked of the backend); share them with"
              + " --cache-positive-ttl-s");
      return verifier.toBuilder().sharedFindings(new JCacheVerdictCache(verdicts())).build();
    }
    return verifier.toBuilder()
        .sharedCache(
            new JCacheVerdictCache(verdicts()),
            verifier.positiveTtl().orElseThrow(),
            verifier.negativeTtl().orElseThrow())
        .build();
  }

  @SuppressWarnings("unchecked")
  private Cache<String, VerdictCache.CachedVerdict> verdicts() {
    return (Cache<String, VerdictCache.CachedVerdict>) (Cache<?, ?>) caches.getCache(VERDICTS);
  }

  /** Per-client limits counted across the fleet, falling back to {@code local}'s counts. */
  public ClientAllowance limits(ClientLimits local, int maxRejections, Duration coolDown) {
    @SuppressWarnings("unchecked")
    Cache<String, byte[]> buckets =
        (Cache<String, byte[]>) (Cache<?, ?>) caches.getCache(REJECTIONS);
    FleetLimits limits =
        new FleetLimits(
            local,
            Bucket4jJCache.entryProcessorBasedBuilder(buckets).build(),
            member.getMap(REFUSED),
            maxRejections,
            coolDown,
            calls);
    limits.follow();
    return limits;
  }

  /**
   * What the gateways' relays learn of each backend (recipients per message, pairs refused at relay
   * time, addresses that did not answer), for the fleet.
   */
  public SharedRelayMemory relayMemory() {
    FleetRelayBreaker breaker = new FleetRelayBreaker(member.getMap(RELAY_DOWN), calls);
    breaker.follow();
    return new FleetRelayMemory(
        member.getMap(RELAY_LIMITS), member.getMap(RELAY_REFUSED), breaker, calls);
  }

  /** Members this one sees, itself included; 0 once it is stopped. */
  public int members() {
    return member.getLifecycleService().isRunning() ? member.getCluster().getMembers().size() : 0;
  }

  /**
   * Whether this gateway decides alone for now: its member is stopped or has no other member, or
   * the last call to the cluster failed.
   */
  public boolean local() {
    return calls.local() || members() < 2;
  }

  /** One line for /health and the log: the members seen, and whether this gateway is alone. */
  public String status() {
    int members = members();
    if (members == 0) {
      return "fleet LOCAL: this gateway's member is stopped, its limits are its own";
    }
    if (members == 1) {
      return "fleet LOCAL: no other member, this gateway's limits are its own";
    }
    return calls.local()
        ? "fleet LOCAL: the cluster did not answer, this gateway's limits are its own"
        : "fleet UP: " + members + " members";
  }

  /** {@code rcptproxy.fleet.members}, {@code rcptproxy.fleet.local}, fallbacks counted. */
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("rcptproxy.fleet.members", this, Fleet::members)
        .description("cluster members this gateway sees, itself included")
        .register(registry);
    Gauge.builder("rcptproxy.fleet.local", this, fleet -> fleet.local() ? 1 : 0)
        .description("1 while the cluster does not answer and this gateway decides alone")
        .register(registry);
    FunctionCounter.builder("rcptproxy.fleet.fallbacks", calls, FleetCalls::fallbacks)
        .description("calls to the cluster that failed and were decided with local state")
        .register(registry);
  }

  /**
   * The embedded member, for tools (and tests) that look at the cluster or stop this member without
   * stopping the gateway.
   */
  public HazelcastInstance member() {
    return member;
  }

  /** Leaves the cluster; the other members keep the data (each entry has a backup). */
  @Override
  public void close() {
    closing = true;
    calls.close();
    if (member.getLifecycleService().isRunning()) {
      member.shutdown();
    }
  }
}
