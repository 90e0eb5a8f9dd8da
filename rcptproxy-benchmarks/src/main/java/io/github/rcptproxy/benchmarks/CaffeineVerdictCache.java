package io.github.rcptproxy.benchmarks;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.github.rcptproxy.VerdictCache;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;

/**
 * The verifier's local cache as Caffeine would make it (at most {@code maxEntries}, each entry
 * until its own expiry on the verifier's clock, reads without a lock): {@link CacheContention}
 * measures it against the hand-written one core keeps ({@code LocalVerdictCache}).
 */
final class CaffeineVerdictCache implements VerdictCache {
  private final Cache<String, CachedVerdict> entries;

  CaffeineVerdictCache(long maxEntries, Clock clock) {
    this.entries =
        Caffeine.newBuilder()
            .maximumSize(maxEntries)
            .expireAfter(new UntilItsExpiry())
            .ticker(() -> epochNanos(clock.instant()))
            .build();
  }

  @Override
  public Optional<CachedVerdict> get(String key) {
    return Optional.ofNullable(entries.getIfPresent(key));
  }

  @Override
  public void put(String key, CachedVerdict verdict) {
    entries.put(key, verdict);
  }

  @Override
  public void invalidate(String key) {
    entries.invalidate(key);
  }

  @Override
  public void invalidateAll() {
    entries.invalidateAll();
  }

  /**
   * Nanoseconds since the epoch on the verifier's clock (the ticker): an entry's expiry compares
   * with it directly. Saturates instead of overflowing past 2262.
   */
  static long epochNanos(Instant instant) {
    try {
      return Math.addExact(
          Math.multiplyExact(instant.getEpochSecond(), 1_000_000_000L), instant.getNano());
    } catch (ArithmeticException e) {
      return instant.getEpochSecond() < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  /** Each entry lives until its verdict's own expiry; reading it does not extend it. */
  private static final class UntilItsExpiry implements Expiry<String, CachedVerdict> {
    @Override
    public long expireAfterCreate(String key, CachedVerdict verdict, long now) {
      try {
        return Math.max(0, Math.subtractExact(epochNanos(verdict.expiresAt()), now));
      } catch (ArithmeticException e) {
        return verdict.expiresAt().getEpochSecond() < 0 ? 0 : Long.MAX_VALUE;
      }
    }

    @Override
    public long expireAfterUpdate(
        String key, CachedVerdict verdict, long now, long currentDuration) {
      return expireAfterCreate(key, verdict, now);
    }

    @Override
    public long expireAfterRead(String key, CachedVerdict verdict, long now, long currentDuration) {
      return currentDuration;
    }
  }
}
