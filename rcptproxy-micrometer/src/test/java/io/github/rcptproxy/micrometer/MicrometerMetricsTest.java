package io.github.rcptproxy.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Micrometer binding, against a recording backend. */
class MicrometerMetricsTest {
  private ScriptedSmtpServer backend;
  private RecipientVerifier verifier;

  @BeforeEach
  void start() {
    backend =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(
                address ->
                    address.equals("alice@example.com")
                        ? "250 2.1.5 Ok\r\n"
                        : address.startsWith("tmp")
                            ? "450 4.2.0 try later\r\n"
                            : "550 5.1.1 unknown\r\n"));
  }

  @AfterEach
  void stop() throws IOException {
    verifier.close();
    backend.close();
  }

  private VerifierConfig.Builder config() {
    return VerifierConfig.builder()
        .backend("127.0.0.1", backend.port())
        .cache(Duration.ofMinutes(60), Duration.ofMinutes(5), 1000);
  }

  @Test
  void metricsCountVerdictsCacheAndSessions() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MicrometerMetrics metrics = new MicrometerMetrics(registry);
    verifier = RecipientVerifier.create(config().listener(metrics).build());
    metrics.bindTo(verifier);

    verifier.verifyAll(
        List.of("alice@example.com", "nobody@example.com", "tmp@example.com", "alice@example.com"));

    // The listener hears verdicts on its own thread.
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              assertThat(
                      registry
                          .get("rcptproxy.verdicts")
                          .tag("verdict", "accepted")
                          .counter()
                          .count())
                  .isEqualTo(2);
              assertThat(
                      registry
                          .get("rcptproxy.verdicts")
                          .tag("verdict", "rejected")
                          .counter()
                          .count())
                  .isEqualTo(1);
              assertThat(
                      registry
                          .get("rcptproxy.verdicts")
                          .tag("reason", "temporary_failure")
                          .counter()
                          .count())
                  .isEqualTo(1);
              assertThat(
                      registry
                          .get("rcptproxy.verification.latency")
                          .tag("source", "backend")
                          .timer()
                          .count())
                  .isEqualTo(4); // one batch: both alices miss
            });
    assertThat(registry.get("rcptproxy.sessions.opened").functionCounter().count()).isEqualTo(1);
    assertThat(registry.get("rcptproxy.sessions").tag("state", "idle").gauge().value())
        .isEqualTo(1);
    assertThat(registry.get("rcptproxy.backend.up").gauge().value()).isEqualTo(1);

    verifier.verify("alice@example.com");
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              assertThat(registry.get("rcptproxy.cache.hits").functionCounter().count())
                  .isEqualTo(1);
              assertThat(
                      registry
                          .get("rcptproxy.verification.latency")
                          .tag("source", "cache")
                          .timer()
                          .count())
                  .isEqualTo(1);
            });
  }
}
