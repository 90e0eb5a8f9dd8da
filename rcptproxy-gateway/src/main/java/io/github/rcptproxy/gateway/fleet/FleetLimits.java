package io.github.rcptproxy.gateway.fleet;

import com.hazelcast.core.EntryEvent;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.VerboseResult;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.rcptproxy.gateway.limits.ClientAllowance;
import io.github.rcptproxy.gateway.limits.ClientLimits;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Per-client rejection limits that hold across the fleet: a client's rejected recipients are
 * counted in one token bucket for all gateways ({@code max-rejected-per-client} a minute, refilled
 * each minute), and a client over it is refused by every gateway for the cool-down. So a dictionary
 * attack spread over the MX hosts is cut as if it hit one.
 *
 * <p>No SMTP thread waits for the cluster. This gateway's own {@link ClientLimits} answers every
 * call, as for a lone gateway; a rejection is also counted in the fleet's bucket in the background,
 * and a client over it is written to the fleet's refused clients, which every gateway copies into
 * its own limits as the event arrives: the client's next rejection on any gateway hangs it up, its
 * next connection is refused. A rejection that the client's accepted recipients on the same gateway
 * in the same minute outnumber is not counted in the fleet (a sender of mostly valid recipients,
 * which {@link ClientLimits} never refuses either). A client whose bucket is far from empty has its
 * rejections sent together, at most {@link #HOLD} late ({@link #ample}), so that one rejected
 * without end under the limit costs a call per interval. Connections at once stay counted per
 * gateway, as Postfix's anvil counts them per host. When the cluster does not answer, the gateway's
 * own counts still hold: falling back never lets through a client that a lone gateway would refuse.
 */
final class FleetLimits implements ClientAllowance {
  private final ClientLimits local;
  private final ProxyManager<String> buckets;
  private final IMap<String, Long> refused;
  private final BucketConfiguration perMinute;
  private final Duration coolDown;
  private final Clock clock;
  private final FleetCalls calls;

  /**
   * Rejections counted here and not yet in the fleet's bucket, by client; a client is here only
   * while a call for it is under way or held ({@link #held}), and those that come meanwhile go in
   * one call after it.
   */
  private final ConcurrentHashMap<String, Integer> unsent = new ConcurrentHashMap<>();

  /**
   * How long a client's rejections may wait to go in one call where its bucket is far from empty
   * ({@link #ample}): a client rejected without end but under the limit (one with many recipients
   * unknown, an attack spread over many addresses) then costs the fleet a call per client per
   * interval, not one per rejection.
   */
  static final Duration HOLD = Duration.ofMillis(100);

  /** A client's rejections are held while its bucket has this many times as many tokens left. */
  static final int HEADROOM = 8;

  private static final int MAX_KNOWN = 10_000;

  /** Clients whose unsent rejections wait for {@link #HOLD} to end, no call under way. */
  private final Set<String> held = ConcurrentHashMap.newKeySet();

  /**
   * Tokens each client's bucket had left after this gateway's last call for it: a client not here
   * has none known, and its rejections are sent at once. Forgotten whole past {@value #MAX_KNOWN}
   * clients (they are then sent at once again).
   */
  private final ConcurrentHashMap<String, Seen> tokensLeft = new ConcurrentHashMap<>();

  /**
   * How long what this gateway's last call saw of a client's bucket is trusted: the other gateways
   * take from it meanwhile, so a count seen long ago (a client rejected here once, early) would let
   * this gateway hold up to an eighth of a full bucket where the fleet has nearly none left.
   */
  static final Duration SEEN_HOLDS = Duration.ofSeconds(1);

  /** The tokens a client's bucket had left, and when ({@link System#nanoTime}) that was seen. */
  private record Seen(long tokens, long atNanos) {}

  FleetLimits(
      ClientLimits local,
      ProxyManager<String> buckets,
      IMap<String, Long> refused,
      int maxRejections,
      Duration coolDown,
      FleetCalls calls) {
    this.local = local;
    this.buckets = buckets;
    this.refused = refused;
    this.perMinute =
        BucketConfiguration.builder()
            .addLimit(
                limit ->
                    limit
                        .capacity(maxRejections)
                        .refillIntervally(maxRejections, Duration.ofMinutes(1)))
            .build();
    this.coolDown = coolDown;
    this.clock = Clock.systemUTC();
    this.calls = calls;
  }

  /**
   * Copies the fleet's refused clients into the local limits: those now, and each one added. Called
   * as the gateway starts, on its own thread.
   */
  void follow() {
    refused.addEntryListener(new Copier(), true);
    refused.entrySet().forEach(this::copy);
  }

  /** The fleet's listener: Hazelcast calls it on its event threads. */
  private final class Copier
      implements EntryAddedListener<String, Long>, EntryUpdatedListener<String, Long> {
    @Override
    public void entryAdded(EntryEvent<String, Long> event) {
      copy(Map.entry(event.getKey(), event.getValue()));
    }

    @Override
    public void entryUpdated(EntryEvent<String, Long> event) {
      copy(Map.entry(event.getKey(), event.getValue()));
    }
  }

  private void copy(Map.Entry<String, Long> entry) {
    try {
      // A literal address: parsed, never looked up.
      local.refuse(InetAddress.getByName(entry.getKey()), Instant.ofEpochMilli(entry.getValue()));
    } catch (UnknownHostException e) {
      throw new IllegalStateException("not an address literal: " + entry.getKey(), e);
    }
  }

  @Override
  public Optional<String> admit(InetAddress address) {
    return local.admit(address);
  }

  @Override
  public void release(InetAddress address) {
    local.release(address);
  }

  @Override
  public boolean rejected(InetAddress address) {
    boolean tooMany = local.rejected(address) || local.refused(address);
    if (!tooMany && !local.offset(address)) {
      String client = ClientLimits.client(address).getHostAddress();
      int pending = unsent.merge(client, 1, Integer::sum);
      if (pending == 1) {
        sendOrHold(client, address);
      } else if (!ample(client, pending) && held.remove(client)) {
        send(client, address); // nearer the fleet's limit: held no longer
      }
    }
    return tooMany;
  }

  /**
   * Whether the client's bucket had {@value #HEADROOM} times {@code pending} tokens left or more at
   * the last call: holding them a while then cannot let the client past the fleet's limit, even
   * with every member holding as many.
   */
  private boolean ample(String client, int pending) {
    Seen left = tokensLeft.get(client);
    return left != null
        && System.nanoTime() - left.atNanos() < SEEN_HOLDS.toNanos()
        && (long) pending * HEADROOM < left.tokens();
  }

  /**
   * Sends the client's unsent rejections now, or, where its bucket is far from empty, at the end of
   * {@link #HOLD} together with those that come meanwhile (or as soon as they make it near).
   */
  private void sendOrHold(String client, InetAddress address) {
    if (!ample(client, unsent.getOrDefault(client, 0)) || !held.add(client)) {
      send(client, address);
      return;
    }
    CompletableFuture.delayedExecutor(HOLD.toMillis(), TimeUnit.MILLISECONDS)
        .execute(
            () -> {
              if (held.remove(client)) {
                send(client, address);
              }
            });
  }

  /** Counts the client's unsent rejections in the fleet's bucket; refuses it if they overflow. */
  private void send(String client, InetAddress address) {
    int count = unsent.getOrDefault(client, 0);
    boolean queued =
        calls.later(
            () -> {
              try {
                VerboseResult<Long> result =
                    bucket(client).asVerbose().tryConsumeAsMuchAsPossible(count);
                if (tokensLeft.size() >= MAX_KNOWN) {
                  tokensLeft.clear();
                }
                tokensLeft.put(
                    client,
                    new Seen(result.getDiagnostics().getAvailableTokens(), System.nanoTime()));
                return result.getValue();
              } finally {
                if (unsent.compute(client, (c, n) -> n == null || n <= count ? null : n - count)
                    != null) {
                  sendOrHold(client, address); // those that came meanwhile
                }
              }
            },
            consumed -> {
              if (consumed < count) {
                Instant until = clock.instant().plus(coolDown);
                local.refuse(address, until); // here at once; the others when the event comes
                refused.put(
                    client, until.toEpochMilli(), coolDown.toMillis(), TimeUnit.MILLISECONDS);
              }
            });
    if (!queued) {
      unsent.remove(client); // counted here only: the local limits still hold
    }
  }

  @Override
  public void accepted(InetAddress address) {
    local.accepted(address); // weighs against the client's next rejections here: see offset
  }

  private BucketProxy bucket(String client) {
    return buckets.builder().build(client, () -> perMinute);
  }
}
