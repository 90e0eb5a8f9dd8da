package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.VerifierConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The background read of shared session limits under hostile stores. */
class SessionLimitsRefreshTest {
  private static final VerifierConfig CONFIG =
      VerifierConfig.builder().backend("mx.example.test", 25).build();

  /** Counts lookups; answers {@code answer} (or throws it), after {@code gate}. */
  private static final class Store implements VerdictCache {
    final AtomicInteger lookups = new AtomicInteger();
    volatile CountDownLatch gate = new CountDownLatch(0);
    volatile RuntimeException throwing;
    volatile CachedVerdict answer;

    @Override
    public Optional<CachedVerdict> get(String key) {
      lookups.incrementAndGet();
      try {
        gate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (throwing != null) {
        throw throwing;
      }
      return Optional.ofNullable(answer);
    }

    @Override
    public void put(String key, CachedVerdict verdict) {}

    @Override
    public void invalidate(String key) {}

    @Override
    public void invalidateAll() {}
  }

  private static VerdictCache.CachedVerdict limits(String text) {
    Instant now = Instant.now();
    return new VerdictCache.CachedVerdict(
        new BackendReply(250, "", text), now, now.plus(Duration.ofHours(1)));
  }

  @Test
  void aRefreshStormOfManyThreadsReadsTheStoreOnce() throws Exception {
    Store store = new Store();
    store.answer = limits("slows=true rejections=3");
    try (GuardedCache guarded = new GuardedCache(store, CONFIG.deadline())) {
      SessionLimits limits = new SessionLimits(CONFIG);
      limits.shareWith(guarded);
      CountDownLatch start = new CountDownLatch(1);
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        Thread thread =
            new Thread(
                () -> {
                  try {
                    start.await();
                  } catch (InterruptedException e) {
                    return;
                  }
                  for (int i = 0; i < 1000; i++) {
                    limits.refresh();
                  }
                });
        thread.start();
        threads.add(thread);
      }
      start.countDown();
      for (Thread thread : threads) {
        thread.join();
      }
      await().atMost(Duration.ofSeconds(5)).until(() -> limits.maxRejections() == 3);
      assertThat(limits.slowsAfterErrors()).isTrue();
      // 16,000 refreshes within a few REFRESH periods at most
      assertThat(store.lookups.get()).isLessThanOrEqualTo(5);
    }
  }

  @Test
  void aStoreThatThrowsOrAnswersGarbageLeavesTheLimitsAndNeverThrows() {
    Store store = new Store();
    try (GuardedCache guarded = new GuardedCache(store, CONFIG.deadline())) {
      SessionLimits limits = new SessionLimits(CONFIG);
      limits.shareWith(guarded);
      store.throwing = new IllegalStateException("cluster gone");
      assertThatCode(limits::refresh).doesNotThrowAnyException();
      await().atMost(Duration.ofSeconds(5)).until(() -> store.lookups.get() == 1);
      store.throwing = null;
      store.answer =
          limits("rejections=x vrfy=-1 recipients=99999999999 slows=maybe =3 rejections=");
      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () -> {
                limits.refresh();
                assertThat(store.lookups.get()).isGreaterThanOrEqualTo(2);
              });
      assertThat(limits.maxRejections()).isEqualTo(CONFIG.maxRejectionsPerSession());
    }
  }

  /** Verifier closed (its guarded store shut down) while a lookup is pending, and after. */
  @Test
  void aClosedGuardedStoreWithALookupPendingThrowsNothing() {
    Store store = new Store();
    store.answer = limits("rejections=2");
    store.gate = new CountDownLatch(1);
    GuardedCache guarded = new GuardedCache(store, CONFIG.deadline());
    SessionLimits limits = new SessionLimits(CONFIG);
    limits.shareWith(guarded);
    limits.refresh();
    guarded.close();
    store.gate.countDown();
    await().atMost(Duration.ofSeconds(5)).until(() -> limits.maxRejections() == 2);
    await()
        .pollDelay(Duration.ofMillis(1100))
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThatCode(limits::refresh).doesNotThrowAnyException());
  }
}
