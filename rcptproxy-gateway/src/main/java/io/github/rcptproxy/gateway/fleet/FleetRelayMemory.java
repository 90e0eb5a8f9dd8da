package io.github.rcptproxy.gateway.fleet;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.gateway.relay.SharedRelayMemory;
import java.io.Serializable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * What the fleet's relays learn of each backend, as any gateway learnt it: its recipients per
 * message (one entry per backend), the sender and recipient pairs it refused at relay time (one
 * entry per backend and pair), each written in the background ({@link FleetCalls}: bounded, a
 * failure warned and counted, what was learnt then this gateway's own) and expiring when it stops
 * holding; every gateway copies each entry into its relay's memory as the event arrives. The
 * relay's breaker is {@link FleetRelayBreaker}.
 */
final class FleetRelayMemory implements SharedRelayMemory {
  private final IMap<String, Learnt> limits;
  private final IMap<String, Long> refused;
  private final FleetRelayBreaker breaker;
  private final FleetCalls calls;
  private final Clock clock = Clock.systemUTC();

  /** A limit and until when it holds (epoch milliseconds): what the members exchange. */
  record Learnt(int limit, long untilMillis) implements Serializable {}

  FleetRelayMemory(
      IMap<String, Learnt> limits,
      IMap<String, Long> refused,
      FleetRelayBreaker breaker,
      FleetCalls calls) {
    this.limits = limits;
    this.refused = refused;
    this.breaker = breaker;
    this.calls = calls;
  }

  @Override
  public void learnt(String backend, int limit, Instant until) {
    put(limits, backend, new Learnt(limit, until.toEpochMilli()), until);
  }

  @Override
  public void refused(String backend, String from, String recipient, Instant until) {
    put(
        refused,
        backend + "\n" + from + "\n" + recipient.toLowerCase(Locale.ROOT),
        until.toEpochMilli(),
        until);
  }

  /** Writes the entry in the background, to expire at {@code until}. */
  private <V> void put(IMap<String, V> map, String key, V value, Instant until) {
    long ttl = Duration.between(clock.instant(), until).toMillis();
    if (ttl > 0) {
      calls.later(() -> map.put(key, value, ttl, TimeUnit.MILLISECONDS), previous -> {});
    }
  }

  @Override
  public VerdictCache breaker() {
    return breaker;
  }

  @Override
  public void follow(Listener listener) {
    BiConsumer<String, Learnt> limit =
        (backend, learnt) ->
            listener.learnt(backend, learnt.limit(), Instant.ofEpochMilli(learnt.untilMillis()));
    BiConsumer<String, Long> pair =
        (key, until) -> {
          String[] parts = key.split("\n", 3);
          listener.refused(parts[0], parts[1], parts[2], Instant.ofEpochMilli(until));
        };
    limits.addEntryListener(new Copier<>(limit), true);
    limits.forEach(limit);
    refused.addEntryListener(new Copier<>(pair), true);
    refused.forEach(pair);
  }

  /** The fleet's listener: Hazelcast calls it on its event threads. */
  private record Copier<V>(BiConsumer<String, V> copy)
      implements EntryAddedListener<String, V>, EntryUpdatedListener<String, V> {
    @Override
    public void entryAdded(EntryEvent<String, V> event) {
      copy.accept(event.getKey(), event.getValue());
    }

    @Override
    public void entryUpdated(EntryEvent<String, V> event) {
      copy.accept(event.getKey(), event.getValue());
    }
  }
}
