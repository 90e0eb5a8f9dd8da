package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.VerifierConfig;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Session limits that verifiers sharing findings share: what one learnt of the backend lowers the
 * other's at its next session, and a store that does not answer leaves each with its own. (The
 * fleet's case against a real Exim is in the gateway's FleetTest.)
 */
class SharedSessionLimitsTest {
  private static final VerifierConfig CONFIG =
      VerifierConfig.builder().backend("mx.example.test", 25).build();

  /** A store in memory; {@link #failing} makes every call throw, as a cluster gone would. */
  private static final class Store implements VerdictCache {
    final Map<String, CachedVerdict> map = new ConcurrentHashMap<>();
    volatile boolean failing;

    /** Holds every lookup until counted down, as a cluster that does not answer would. */
    volatile CountDownLatch answering = new CountDownLatch(0);

    @Override
    public Optional<CachedVerdict> get(String key) {
      try {
        answering.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      check();
      return Optional.ofNullable(map.get(key));
    }

    @Override
    public void put(String key, CachedVerdict verdict) {
      check();
      map.put(key, verdict);
    }

    @Override
    public void invalidate(String key) {
      map.remove(key);
    }

    @Override
    public void invalidateAll() {
      map.clear();
    }

    private void check() {
      if (failing) {
        throw new IllegalStateException("cluster gone");
      }
    }
  }

  @Test
  void limitsOneVerifierLearntLowerAnothersAtItsNextSession() {
    Store store = new Store();
    SessionLimits learning = new SessionLimits(CONFIG);
    SessionLimits other = new SessionLimits(CONFIG);
    learning.shareWith(store);
    other.shareWith(store);

    learning.vrfyTolerated(4);
    learning.recipientsTolerated(3);
    learning.throttledAfter(5);
    other.refresh();

    assertThat(store.map).containsOnlyKeys("session-limits:mx.example.test:25");
    assertThat(other.maxVrfy()).isEqualTo(4);
    assertThat(other.maxRecipients()).isEqualTo(3);
    assertThat(other.maxRejections()).isEqualTo(5);
    assertThat(other.slowsAfterErrors()).isTrue();
  }

  @Test
  void onlyLearntLimitsAreSharedNeverAConfiguredGuess() {
    Store store = new Store();
    SessionLimits guessingLow =
        new SessionLimits(
            VerifierConfig.builder()
                .backend("mx.example.test", 25)
                .maxRejectionsPerSession(2)
                .build());
    SessionLimits other = new SessionLimits(CONFIG);
    guessingLow.shareWith(store);
    other.shareWith(store);

    guessingLow.vrfyTolerated(4);
    other.refresh();

    assertThat(other.maxVrfy()).isEqualTo(4);
    assertThat(other.maxRejections()).isEqualTo(CONFIG.maxRejectionsPerSession());
  }

  @Test
  void aVerifierWhoseStoreFailsKeepsWhatItLearntItself() {
    Store store = new Store();
    SessionLimits alone = new SessionLimits(CONFIG);
    GuardedCache guarded = new GuardedCache(store, CONFIG.deadline());
    alone.shareWith(guarded);
    store.failing = true;

    alone.rejectionsTolerated(6);
    alone.refresh();

    assertThat(alone.maxRejections()).isEqualTo(6);
    assertThat(alone.maxVrfy()).isEqualTo(CONFIG.maxVrfyPerSession());
    guarded.close();
  }

  /**
   * A cluster that answers late never holds up the session being opened: the read is done in the
   * background, and what it finds lowers the limits once it comes (where the guarded store's wait,
   * a tenth of the deadline, would have given up on it).
   */
  @Test
  void aSlowStoreHoldsUpNoSessionAndCountsWhenItAnswers() {
    Store store = new Store();
    SessionLimits learning = new SessionLimits(CONFIG);
    learning.shareWith(store);
    learning.rejectionsTolerated(6);
    GuardedCache guarded = new GuardedCache(store, CONFIG.deadline());
    SessionLimits opening = new SessionLimits(CONFIG);
    opening.shareWith(guarded);
    store.answering = new CountDownLatch(1);

    opening.refresh(); // returns while the store has not answered
    assertThat(opening.maxRejections()).isEqualTo(CONFIG.maxRejectionsPerSession());
    store.answering.countDown();

    await().atMost(Duration.ofSeconds(5)).until(() -> opening.maxRejections() == 6);
    guarded.close();
  }
}
