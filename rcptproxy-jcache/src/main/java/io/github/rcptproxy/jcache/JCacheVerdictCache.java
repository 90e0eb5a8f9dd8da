package io.github.rcptproxy.jcache;

import io.github.rcptproxy.VerdictCache;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;
import javax.cache.Cache;

/**
 * A {@link VerdictCache} on a JSR-107 (JCache) cache, so that several gateways share what any of
 * them learnt through a distributed cache (Hazelcast, Infinispan, Ehcache... through their JCache
 * providers). Entries carry their own expiry, checked on read, so the JCache's own expiry policy
 * may stay eternal. Needs {@code javax.cache:cache-api} and a provider on the class path.
 */
public final class JCacheVerdictCache implements VerdictCache {
  private final Cache<String, CachedVerdict> cache;
  private final Clock clock;

  public JCacheVerdictCache(Cache<String, CachedVerdict> cache) {
    this(cache, Clock.systemUTC());
  }

  JCacheVerdictCache(Cache<String, CachedVerdict> cache, Clock clock) {
    this.cache = Objects.requireNonNull(cache, "cache");
    this.clock = clock;
  }

  @Override
  public Optional<CachedVerdict> get(String key) {
    CachedVerdict verdict = cache.get(key);
    if (verdict == null) {
      return Optional.empty();
    }
    if (!verdict.expiresAt().isAfter(clock.instant())) {
      cache.remove(key, verdict);
      return Optional.empty();
    }
    return Optional.of(verdict);
  }

  @Override
  public void put(String key, CachedVerdict verdict) {
    cache.put(key, verdict);
  }

  @Override
  public void invalidate(String key) {
    cache.remove(key);
  }

  @Override
  public void invalidateAll() {
    cache.removeAll();
  }
}
