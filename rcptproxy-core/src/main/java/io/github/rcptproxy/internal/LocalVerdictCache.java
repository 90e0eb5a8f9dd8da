package io.github.rcptproxy.internal;

import io.github.rcptproxy.VerdictCache;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The verifier's own in-memory cache: at most {@code maxEntries} answers, the least recently used
 * forgotten first, each entry living until its own expiry (checked on read, on the verifier's
 * clock). A lock guards only the map operation. Kept in core without a cache library so that core
 * depends on Commons Pool and SLF4J alone; a cache shared by several gateways comes from {@code
 * rcptproxy-jcache}.
 */
public final class LocalVerdictCache implements VerdictCache {
  private final Map<String, CachedVerdict> entries;
  private final Clock clock;

  public LocalVerdictCache(long maxEntries, Clock clock) {
    int max = (int) Math.min(Integer.MAX_VALUE - 1, maxEntries);
    this.clock = clock;
    this.entries =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, CachedVerdict> eldest) {
            return size() > max;
          }
        };
  }

  @Override
  public synchronized Optional<CachedVerdict> get(String key) {
    CachedVerdict entry = entries.get(key);
    if (entry == null) {
      return Optional.empty();
    }
    if (!entry.expiresAt().isAfter(clock.instant())) {
      entries.remove(key);
      return Optional.empty();
    }
    return Optional.of(entry);
  }

  @Override
  public synchronized void put(String key, CachedVerdict verdict) {
    entries.put(key, verdict);
  }

  @Override
  public synchronized void invalidate(String key) {
    entries.remove(key);
  }

  @Override
  public synchronized void invalidateAll() {
    entries.clear();
  }
}
