package io.github.rcptproxy.gateway.fleet;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryExpiredListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.github.rcptproxy.VerdictCache;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The relays' breaker for the fleet: backend addresses a gateway's relay found not answering
 * ({@code backend-down:ADDRESS:PORT}), until their cool-down ends. A lookup answers from this
 * gateway's copy, which the cluster's events keep, so the relay never waits for the cluster when it
 * connects; writes go in the background ({@link FleetCalls}). When the cluster does not answer, the
 * relay's own breaker still skips what it found itself.
 */
final class FleetRelayBreaker implements VerdictCache {
  private final IMap<String, CachedVerdict> down;
  private final FleetCalls calls;
  private final Clock clock = Clock.systemUTC();
  private final ConcurrentHashMap<String, CachedVerdict> copy = new ConcurrentHashMap<>();

  FleetRelayBreaker(IMap<String, CachedVerdict> down, FleetCalls calls) {
    this.down = down;
    this.calls = calls;
  }

  /** Copies the cluster's entries, those now and each one after. Called as the gateway starts. */
  void follow() {
    down.addEntryListener(new Copier(), true);
    down.forEach(copy::put);
  }

  @Override
  public Optional<CachedVerdict> get(String key) {
    return Optional.ofNullable(copy.get(key))
        .filter(found -> found.expiresAt().isAfter(clock.instant()));
  }

  @Override
  public void put(String key, CachedVerdict verdict) {
    long ttl = Duration.between(clock.instant(), verdict.expiresAt()).toMillis();
    if (ttl > 0) {
      calls.later(() -> down.put(key, verdict, ttl, TimeUnit.MILLISECONDS), previous -> {});
    }
  }

  @Override
  public void invalidate(String key) {
    copy.remove(key);
    calls.later(() -> down.remove(key), previous -> {});
  }

  @Override
  public void invalidateAll() {
    copy.clear();
    calls.later(
        () -> {
          down.clear();
          return null;
        },
        nothing -> {});
  }

  /** The fleet's listener: Hazelcast calls it on its event threads. */
  private final class Copier
      implements EntryAddedListener<String, CachedVerdict>,
          EntryUpdatedListener<String, CachedVerdict>,
          EntryRemovedListener<String, CachedVerdict>,
          EntryExpiredListener<String, CachedVerdict> {
    @Override
    public void entryAdded(EntryEvent<String, CachedVerdict> event) {
      copy.put(event.getKey(), event.getValue());
    }

    @Override
    public void entryUpdated(EntryEvent<String, CachedVerdict> event) {
      copy.put(event.getKey(), event.getValue());
    }

    @Override
    public void entryRemoved(EntryEvent<String, CachedVerdict> event) {
      copy.remove(event.getKey());
    }

    @Override
    public void entryExpired(EntryEvent<String, CachedVerdict> event) {
      copy.remove(event.getKey());
    }
  }
}
