package io.github.rcptproxy.benchmarks;

import java.util.Arrays;

/** Latencies of one scenario, in nanoseconds, and what they add up to. */
final class Measurement {
  final String name;
  final long[] nanos;
  final long wallNanos;
  final int operationsPerSample;

  Measurement(String name, long[] nanos, long wallNanos, int operationsPerSample) {
    this.name = name;
    this.nanos = nanos.clone();
    Arrays.sort(this.nanos);
    this.wallNanos = wallNanos;
    this.operationsPerSample = operationsPerSample;
  }

  double opsPerSecond() {
    return (double) nanos.length * operationsPerSample / (wallNanos / 1e9);
  }

  double percentileMicros(double p) {
    int index = (int) Math.min(nanos.length - 1, Math.floor(p / 100.0 * nanos.length));
    return nanos[index] / 1000.0;
  }

  String row(Measurement baseline) {
    return String.format(
        "| %s | %,.0f | %.0f | %.0f | %.0f | %.2f× |",
        name,
        opsPerSecond(),
        percentileMicros(50),
        percentileMicros(99),
        percentileMicros(99.9),
        percentileMicros(50) / baseline.percentileMicros(50));
  }

  /** The row with its own baseline's p50 and the ratio to it. */
  String row(Measurement baseline, double baselineP50) {
    return String.format(
        "| %s | %,.0f | %.0f | %.0f | %.0f | %.0f | %.2f× |",
        name,
        opsPerSecond(),
        percentileMicros(50),
        percentileMicros(99),
        percentileMicros(99.9),
        baselineP50,
        percentileMicros(50) / baseline.percentileMicros(50));
  }
}
