package io.github.rcptproxy.gateway.fleet;

import com.hazelcast.map.IMap;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.rcptproxy.gateway.limits.ClientAllowance;
import io.github.rcptproxy.gateway.limits.ClientLimits;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Per-client rejection limits that hold across the fleet: a client's rejected recipients are
 * counted in one token bucket for all gateways ({@code max-rejected-per-client} a minute, refilled
 * each minute), and a client over it is refused by every gateway for the cool-down. So a dictionary
 * attack spread over the MX hosts is cut as if it hit one. A rejection that the client's accepted
 * recipients on the same gateway in the same minute outnumber is not sent to the fleet (a sender of
 * mostly valid recipients, which {@link ClientLimits} never refuses either): so the fleet is asked
 * only about clients that look like an attack, and an accepted recipient costs no round trip.
 * Connections at once stay counted per gateway, as Postfix's anvil counts them per host.
 *
 * <p>This gateway's own {@link ClientLimits} counts everything too, and decides whenever the
 * cluster does not answer in time ({@link FleetCalls}): a client is refused when either says so, so
 * falling back never lets through a client that this gateway alone would refuse.
 */
final class FleetLimits implements ClientAllowance {
  static final String REFUSAL =
      "4.7.0 Too many rejected recipients from your address, try again later";

  private final ClientLimits local;
  private final ProxyManager<String> buckets;
  private final IMap<String, Boolean> refused;
  private final BucketConfiguration perMinute;
  private final Duration coolDown;
  private final FleetCalls calls;

  FleetLimits(
      ClientLimits local,
      ProxyManager<String> buckets,
      IMap<String, Boolean> refused,
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
    this.calls = calls;
  }

  @Override
  public Optional<String> admit(InetAddress address) {
    Optional<String> refusal = local.admit(address);
    if (refusal.isPresent()) {
      return refusal;
    }
    String client = key(address);
    if (calls.ask(() -> refused.containsKey(client)).orElse(false)) {
      local.release(address);
      return Optional.of(REFUSAL);
    }
    return Optional.empty();
  }

  @Override
  public void release(InetAddress address) {
    local.release(address);
  }

  @Override
  public boolean rejected(InetAddress address) {
    boolean tooManyHere = local.rejected(address);
    if (local.offset(address)) {
      return tooManyHere;
    }
    String client = key(address);
    boolean tooManyInFleet = !calls.ask(() -> bucket(client).tryConsume(1)).orElse(true);
    if (tooManyInFleet) {
      // Waited for, so that the client's next connection to any gateway is refused.
      calls.ask(() -> refused.put(client, true, coolDown.toMillis(), TimeUnit.MILLISECONDS));
    }
    return tooManyHere || tooManyInFleet;
  }

  @Override
  public void accepted(InetAddress address) {
    local.accepted(address); // weighs against the client's next rejections here: see offset
  }

  private BucketProxy bucket(String client) {
    return buckets.builder().build(client, () -> perMinute);
  }

  /** The client as {@link ClientLimits} counts it: an IPv4 address, an IPv6 /64. */
  private static String key(InetAddress address) {
    return ClientLimits.client(address).getHostAddress();
  }
}
