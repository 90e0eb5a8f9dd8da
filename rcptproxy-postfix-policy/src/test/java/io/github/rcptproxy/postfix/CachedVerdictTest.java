package io.github.rcptproxy.postfix;

import static io.github.rcptproxy.postfix.PolicyClient.rcpt;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A real verifier with its verdict cache behind the server, against a scripted backend. */
class CachedVerdictTest {
  /** Notes which threads read it: the verdict cache reads the clock on every lookup. */
  static final class ThreadNotingClock extends Clock {
    final Set<String> readers = ConcurrentHashMap.newKeySet();

    @Override
    public Instant instant() {
      readers.add(Thread.currentThread().getName());
      return Instant.parse("2026-01-01T00:00:00Z");
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  final ThreadNotingClock clock = new ThreadNotingClock();
  final ScriptedSmtpServer backend =
      ScriptedSmtpServer.start(
          ScriptedSmtpServer.dialogue(
              address ->
                  address.startsWith("user") ? "250 2.1.5 Ok\r\n" : "550 5.1.1 unknown\r\n"));
  final RecipientVerifier verifier =
      RecipientVerifier.create(
          VerifierConfig.builder()
              .backend("127.0.0.1", backend.port())
              .clock(clock)
              .cache(Duration.ofHours(1), Duration.ofMinutes(5), 1000)
              .build());
  PolicyServer server;

  @AfterEach
  void stop() throws IOException {
    if (server != null) {
      server.close();
    }
    verifier.close();
    backend.close();
  }

  @Test
  void cachedVerdictIsAnsweredByTheServerThreadWithoutAVerificationTask() throws IOException {
    server =
        PolicyServer.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .route("example.test", verifier, PolicyAnswers.defaults())
            .start();
    try (PolicyClient client = new PolicyClient(server.address())) {
      assertThat(client.ask(rcpt("user1@example.test", "192.0.2.1"))).isEqualTo("action=DUNNO");
      assertThat(client.ask(rcpt("nobody@example.test", "192.0.2.1"))).startsWith("action=550");
      clock.readers.clear();

      assertThat(client.ask(rcpt("user1@example.test", "192.0.2.1"))).isEqualTo("action=DUNNO");
      assertThat(client.ask(rcpt("nobody@example.test", "192.0.2.1")))
          .isEqualTo("action=550 5.1.1 Unable to relay to nobody@example.test");
    }

    // Looked up by the server thread itself: no hand-off to the verifier's pool and back.
    assertThat(clock.readers)
        .anyMatch(thread -> thread.startsWith("rcptproxy-policy"))
        .noneMatch(thread -> thread.startsWith("rcptproxy-verify-"));
    assertThat(verifier.stats().cacheHits()).isEqualTo(2);
    assertThat(backend.count("RCPT TO")).isEqualTo(3); // user1, nobody and the control after it
  }
}
