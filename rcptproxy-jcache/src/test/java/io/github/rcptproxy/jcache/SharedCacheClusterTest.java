package io.github.rcptproxy.jcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.cache.HazelcastCachingProvider;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.function.Consumer;
import javax.cache.Cache;
import javax.cache.CacheManager;
import javax.cache.Caching;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.spi.CachingProvider;
import org.junit.jupiter.api.Test;

/**
 * Two gateways share verdicts through an embedded two-member Hazelcast cluster on loopback (no
 * multicast, no phone-home): what one learnt, the other answers without asking the backend.
 */
class SharedCacheClusterTest {

  /** A member on its own free loopback port that joins the member on {@code peerPort}. */
  private static HazelcastInstance member(String name, int port, int peerPort) {
    Config config =
        new Config()
            .setClusterName("rcptproxy-test-" + ProcessHandle.current().pid())
            .setInstanceName(name);
    config.setProperty("hazelcast.phone.home.enabled", "false");
    config.setProperty("hazelcast.logging.type", "slf4j");
    config.setProperty("hazelcast.socket.bind.any", "false"); // loopback only
    config.setProperty("hazelcast.wait.seconds.before.join", "0"); // 5 s by default
    config.getNetworkConfig().setPort(port).setPortAutoIncrement(false);
    config.getNetworkConfig().getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    JoinConfig join = config.getNetworkConfig().getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig()
        .setEnabled(true)
        .addMember("127.0.0.1:" + port)
        .addMember("127.0.0.1:" + peerPort);
    return Hazelcast.newHazelcastInstance(config);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static Cache<String, VerdictCache.CachedVerdict> cacheOn(HazelcastInstance member) {
    CachingProvider provider =
        Caching.getCachingProvider(HazelcastCachingProvider.MEMBER_CACHING_PROVIDER);
    CacheManager manager =
        provider.getCacheManager(
            null, null, HazelcastCachingProvider.propertiesByInstanceItself(member));
    Cache<String, VerdictCache.CachedVerdict> cache = manager.getCache("rcptproxy-verdicts");
    return cache != null
        ? cache
        : manager.createCache(
            "rcptproxy-verdicts",
            new MutableConfiguration<String, VerdictCache.CachedVerdict>()
                .setTypes(String.class, VerdictCache.CachedVerdict.class));
  }

  /** Two gateways, one on each member of a fresh two-member cluster, against one backend. */
  private interface TwoGateways {
    void run(
        RecipientVerifier gatewayA,
        RecipientVerifier gatewayB,
        ScriptedSmtpServer backend,
        Cache<String, VerdictCache.CachedVerdict> cacheOnB)
        throws Exception;
  }

  private static void withTwoGateways(ScriptedSmtpServer.Answers backendAnswers, TwoGateways test)
      throws Exception {
    withTwoGateways(backendAnswers, config -> {}, test);
  }

  private static void withTwoGateways(
      ScriptedSmtpServer.Answers backendAnswers,
      Consumer<VerifierConfig.Builder> extra,
      TwoGateways test)
      throws Exception {
    int firstPort = freePort();
    int secondPort = freePort();
    HazelcastInstance first = member("rcptproxy-a", firstPort, secondPort);
    HazelcastInstance second = member("rcptproxy-b", secondPort, firstPort);
    try (ScriptedSmtpServer backend =
        ScriptedSmtpServer.start(ScriptedSmtpServer.dialogue(backendAnswers))) {
      assertThat(first.getCluster().getMembers()).hasSize(2);
      VerifierConfig.Builder config = VerifierConfig.builder().backend("127.0.0.1", backend.port());
      extra.accept(config);
      try (RecipientVerifier gatewayA =
              RecipientVerifier.create(
                  config
                      .sharedCache(
                          new JCacheVerdictCache(cacheOn(first)),
                          Duration.ofHours(1),
                          Duration.ofMinutes(5))
                      .build());
          RecipientVerifier gatewayB =
              RecipientVerifier.create(
                  config
                      .sharedCache(
                          new JCacheVerdictCache(cacheOn(second)),
                          Duration.ofHours(1),
                          Duration.ofMinutes(5))
                      .build())) {
        test.run(gatewayA, gatewayB, backend, cacheOn(second));
      }
    } finally {
      second.shutdown();
      first.shutdown();
    }
  }

  @Test
  void verdictLearntOnOneGatewayIsServedByTheOther() throws Exception {
    withTwoGateways(
        a -> a.startsWith("alice") ? "250 2.1.5 Ok\r\n" : "550 5.1.1 unknown\r\n",
        (gatewayA, gatewayB, backend, onB) -> {
          assertThat(gatewayA.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
          assertThat(gatewayA.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);

          assertThat(gatewayB.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
          assertThat(gatewayB.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);

          // alice, nobody and the control after it, all on A
          assertThat(backend.count("RCPT TO")).isEqualTo(3);
          assertThat(gatewayB.stats().cacheHits()).isEqualTo(2);
          assertThat(gatewayB.stats().sessionsOpened()).isZero();
        });
  }

  @Test
  void aKnownGoodAddressLearntOnOneGatewaySettlesTheFirstRefusalOfTheOther() throws Exception {
    withTwoGateways(
        a -> a.startsWith("alice") ? "250 Accepted\r\n" : "550 Unknown user\r\n",
        (gatewayA, gatewayB, backend, onB) -> {
          assertThat(gatewayA.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
          await()
              .atMost(Duration.ofSeconds(10))
              .until(() -> onB.containsKey("known-good:example.com"));

          // gateway B has never seen the backend accept an address: the control comes from the
          // cluster.
          assertThat(gatewayB.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
        });
  }

  @Test
  void aCatchAllFindingOfOneGatewayIsTheOthersWithoutAskingTheBackendAgain() throws Exception {
    withTwoGateways(
        a -> "250 2.1.5 Ok\r\n",
        config -> config.catchAllDetection(Duration.ofHours(1)),
        (gatewayA, gatewayB, backend, onB) -> {
          assertThat(gatewayA.verify("alice@example.com"))
              .isInstanceOfSatisfying(
                  Verdict.Unverified.class,
                  v -> assertThat(v.reason()).isEqualTo(Verdict.Reason.CATCH_ALL));
          assertThat(backend.count("RCPT TO")).isEqualTo(2); // alice, and a random local part
          await()
              .atMost(Duration.ofSeconds(10))
              .until(() -> onB.containsKey("catch-all:example.com"));

          assertThat(gatewayB.verify("bob@example.com"))
              .isInstanceOfSatisfying(
                  Verdict.Unverified.class,
                  v -> assertThat(v.reason()).isEqualTo(Verdict.Reason.CATCH_ALL));
          assertThat(backend.count("RCPT TO")).isEqualTo(3); // bob only: no random one of its own
        });
  }
}
