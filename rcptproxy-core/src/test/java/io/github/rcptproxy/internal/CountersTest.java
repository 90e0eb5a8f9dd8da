package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Health;
import io.github.rcptproxy.Verdict;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What the verifier counts, and the backend's health it reads from what the backend answered. */
class CountersTest {

  @Test
  void busyDoesNotMarkTheBackendDown() {
    Counters counters = new Counters();
    Instant now = Instant.parse("2026-11-25T12:00:00Z");
    counters.backendOutcome(
        new Verdict.Accepted(new BackendReply(250, "2.1.5", "Ok"), Duration.ofMillis(1)), now);

    counters.backendOutcome(
        new Verdict.Unverified(
            Verdict.Reason.BUSY, "all sessions taken", Optional.empty(), Duration.ofSeconds(3)),
        now.plusSeconds(1));

    assertThat(counters.health(true).status()).isEqualTo(Health.Status.UP);
  }
}
