package io.github.rcptproxy.gateway.fleet;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.github.rcptproxy.gateway.relay.SharedRecipientLimits;
import java.io.Serializable;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * The recipients per message each backend takes, as any gateway of the fleet learnt it: one entry
 * per backend, written in the background ({@link FleetCalls}: bounded, a failure warned and
 * counted, the limit then this gateway's own) and expiring when the limit stops holding; every
 * gateway copies each entry into its relay's memory as the event arrives.
 */
final class FleetRelayLimits implements SharedRecipientLimits {
  private final IMap<String, Learnt> limits;
  private final FleetCalls calls;
  private final Clock clock = Clock.systemUTC();

  /** A limit and until when it holds (epoch milliseconds): what the members exchange. */
  record Learnt(int limit, long untilMillis) implements Serializable {}

  FleetRelayLimits(IMap<String, Learnt> limits, FleetCalls calls) {
    this.limits = limits;
    this.calls = calls;
  }

  @Override
  public void learnt(String backend, int limit, Instant until) {
    long ttl = Duration.between(clock.instant(), until).toMillis();
    if (ttl > 0) {
      calls.later(
          () ->
              limits.put(
                  backend, new Learnt(limit, until.toEpochMilli()), ttl, TimeUnit.MILLISECONDS),
          previous -> {});
    }
  }

  @Override
  public void follow(Listener listener) {
    limits.addEntryListener(new Copier(listener), true);
    limits.forEach((backend, learnt) -> tell(listener, backend, learnt));
  }

  private static void tell(Listener listener, String backend, Learnt learnt) {
    listener.learnt(backend, learnt.limit(), Instant.ofEpochMilli(learnt.untilMillis()));
  }

  /** The fleet's listener: Hazelcast calls it on its event threads. */
  private record Copier(Listener listener)
      implements EntryAddedListener<String, Learnt>, EntryUpdatedListener<String, Learnt> {
    @Override
    public void entryAdded(EntryEvent<String, Learnt> event) {
      tell(listener, event.getKey(), event.getValue());
    }

    @Override
    public void entryUpdated(EntryEvent<String, Learnt> event) {
      tell(listener, event.getKey(), event.getValue());
    }
  }
}
