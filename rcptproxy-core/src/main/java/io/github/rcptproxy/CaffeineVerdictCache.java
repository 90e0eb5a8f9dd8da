package io.github.rcptproxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/** The verifier's own in-memory cache: Caffeine, bounded, each entry living until its expiry. */
final class CaffeineVerdictCache implements VerdictCache {
  private final Cache<String, CachedVerdict> cache;

  CaffeineVerdictCache(long maxEntries, Clock clock) {
    cache =
        Caffeine.newBuilder()
            .maximumSize(maxEntries)
            .ticker(() -> clock.millis() * 1_000_000L)
            .expireAfter(
                new Expiry<String, CachedVerdict>() {
                  @Override
                  public long expireAfterCreate(String key, CachedVerdict value, long currentTime) {
                    return Math.max(
                        0, Duration.between(clock.instant(), value.expiresAt()).toNanos());
                  }

                  @Override
                  public long expireAfterUpdate(
                      String key, CachedVerdict value, long currentTime, long currentDuration) {
                    return expireAfterCreate(key, value, currentTime);
                  }

                  @Override
                  public long expireAfterRead(
                      String key, CachedVerdict value, long currentTime, long currentDuration) {
                    return currentDuration;
                  }
                })
            .build();
  }

  @Override
  public Optional<CachedVerdict> get(String key) {
    return Optional.ofNullable(cache.getIfPresent(key));
  }

  @Override
  public void put(String key, CachedVerdict verdict) {
    cache.put(key, verdict);
  }

  @Override
  public void invalidate(String key) {
    cache.invalidate(key);
  }

  @Override
  public void invalidateAll() {
    cache.invalidateAll();
  }
}
