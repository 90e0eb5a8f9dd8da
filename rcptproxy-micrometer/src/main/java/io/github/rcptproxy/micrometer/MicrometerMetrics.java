package io.github.rcptproxy.micrometer;

import io.github.rcptproxy.Health;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerificationListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer binding (needs {@code io.micrometer:micrometer-core}): verdicts by kind and reason,
 * latency with percentiles, cache hits and misses, sessions and probe transactions.
 *
 * <pre>{@code
 * MicrometerMetrics metrics = new MicrometerMetrics(registry);
 * RecipientVerifier verifier = RecipientVerifier.create(builder.listener(metrics).build());
 * metrics.bindTo(verifier);
 * }</pre>
 */
public final class MicrometerMetrics implements VerificationListener {
  private final MeterRegistry registry;
  private final Counter accepted;
  private final Counter rejected;
  private final Map<Verdict.Reason, Counter> unverified = new EnumMap<>(Verdict.Reason.class);
  private final Timer backendLatency;
  private final Timer cachedLatency;

  public MicrometerMetrics(MeterRegistry registry) {
    this.registry = registry;
    accepted = verdicts("accepted", "none");
    rejected = verdicts("rejected", "none");
    for (Verdict.Reason reason : Verdict.Reason.values()) {
      unverified.put(
          reason, verdicts("unverified", reason.name().toLowerCase(java.util.Locale.ROOT)));
    }
    backendLatency = latency("backend");
    cachedLatency = latency("cache");
  }

  private Counter verdicts(String verdict, String reason) {
    return Counter.builder("rcptproxy.verdicts")
        .description("Verdicts handed out")
        .tag("verdict", verdict)
        .tag("reason", reason)
        .register(registry);
  }

  private Timer latency(String source) {
    return Timer.builder("rcptproxy.verification.latency")
        .description("Time to a verdict")
        .tag("source", source)
        .publishPercentiles(0.5, 0.99, 0.999)
        .register(registry);
  }

  /** Adds the verifier's pool and cache figures (read from {@link RecipientVerifier#stats()}). */
  public void bindTo(RecipientVerifier verifier) {
    gauge("rcptproxy.sessions", "active", verifier, v -> v.stats().sessionsActive());
    gauge("rcptproxy.sessions", "idle", verifier, v -> v.stats().sessionsIdle());
    counter("rcptproxy.sessions.opened", verifier, v -> v.stats().sessionsOpened());
    counter("rcptproxy.sessions.closed", verifier, v -> v.stats().sessionsClosed());
    counter("rcptproxy.transactions.opened", verifier, v -> v.stats().transactionsOpened());
    counter("rcptproxy.cache.hits", verifier, v -> v.stats().cacheHits());
    counter("rcptproxy.cache.misses", verifier, v -> v.stats().cacheMisses());
    Gauge.builder(
            "rcptproxy.backend.up", verifier, v -> v.health().status() == Health.Status.UP ? 1 : 0)
        .description("1 when the backend's last answer came after its last failure")
        .register(registry);
  }

  private void gauge(
      String name,
      String state,
      RecipientVerifier verifier,
      ToDoubleFunction<RecipientVerifier> value) {
    Gauge.builder(name, verifier, value).tag("state", state).register(registry);
  }

  private void counter(
      String name, RecipientVerifier verifier, ToDoubleFunction<RecipientVerifier> value) {
    FunctionCounter.builder(name, verifier, value).register(registry);
  }

  @Override
  public void verified(String address, Verdict verdict, boolean fromCache) {
    if (verdict instanceof Verdict.Accepted) {
      accepted.increment();
    } else if (verdict instanceof Verdict.Rejected) {
      rejected.increment();
    } else {
      unverified.get(((Verdict.Unverified) verdict).reason()).increment();
    }
    (fromCache ? cachedLatency : backendLatency).record(verdict.latency());
  }
}
