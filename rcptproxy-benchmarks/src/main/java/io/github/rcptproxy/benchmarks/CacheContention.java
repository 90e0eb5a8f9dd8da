package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.internal.LocalVerdictCache;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The verifier's local cache under {@value #THREADS} threads at once (a gateway's front threads on
 * cached addresses): 95 % reads of cached addresses, 5 % writes, on core's hand-written cache (a
 * synchronized access-ordered {@code LinkedHashMap}) and on the same cache made with Caffeine,
 * alternating in each round, and the first again to show the noise.
 *
 * <p>{@code java -jar rcptproxy-benchmarks/target/benchmarks.jar --cache-contention [--quick]}
 */
final class CacheContention {
  static final int THREADS = 20;
  private static final int KEYS = 10_000;
  private static final int OPERATIONS_PER_THREAD = 200_000;

  private CacheContention() {}

  private record Row(String name, Supplier<VerdictCache> cache, List<Double> perSecond) {}

  public static void main(String[] args) throws Exception {
    int rounds = List.of(args).contains("--quick") ? 4 : 20;
    System.out.printf(
        "local verdict cache, %d threads at once, %s, %d cores, %s, Java %s; %d interleaved"
            + " rounds of %,d operations per row%n%n",
        THREADS,
        Instant.now().truncatedTo(ChronoUnit.MINUTES),
        Runtime.getRuntime().availableProcessors(),
        Benchmarks.cpuModel(),
        System.getProperty("java.version"),
        rounds,
        THREADS * OPERATIONS_PER_THREAD);
    Clock clock = Clock.systemUTC();
    List<Row> rows =
        List.of(
            new Row(
                "core's LocalVerdictCache (synchronized LinkedHashMap)",
                () -> new LocalVerdictCache(100_000, clock),
                new ArrayList<>()),
            new Row(
                "the same on Caffeine 3.3.1",
                () -> new CaffeineVerdictCache(100_000, clock),
                new ArrayList<>()),
            // The baseline again: how far two runs of the same code differ here (noise).
            new Row(
                "core's LocalVerdictCache again (noise)",
                () -> new LocalVerdictCache(100_000, clock),
                new ArrayList<>()));
    ExecutorService threads = Executors.newFixedThreadPool(THREADS);
    try {
      for (Row row : rows) {
        block(threads, row.cache().get()); // warm-up
      }
      for (int round = 0; round < rounds; round++) {
        for (int r = 0; r < rows.size(); r++) {
          Row row = rows.get(round % 2 == 0 ? r : rows.size() - 1 - r);
          row.perSecond().add(block(threads, row.cache().get()));
        }
      }
    } finally {
      threads.shutdownNow();
    }
    System.out.println(
        "| "
            + THREADS
            + " threads, 95 % reads | operations/s, median | per round | vs LocalVerdictCache, median | per round |");
    System.out.println("|---|---|---|---|---|");
    for (Row row : rows) {
      System.out.println(
          "| "
              + row.name()
              + " |"
              + PerRound.cells(row.perSecond(), rows.get(0).perSecond())
              + "|");
    }
  }

  /** Operations a second of all the threads on a cache holding every key. */
  private static double block(ExecutorService threads, VerdictCache cache) throws Exception {
    Instant now = Instant.now();
    VerdictCache.CachedVerdict verdict =
        new VerdictCache.CachedVerdict(
            new BackendReply(250, "2.1.5", "OK"), now, now.plus(Duration.ofHours(1)));
    for (int k = 0; k < KEYS; k++) {
      cache.put("user" + k + "@example.test", verdict);
    }
    String[] keys = new String[KEYS];
    for (int k = 0; k < KEYS; k++) {
      keys[k] = "user" + k + "@example.test";
    }
    CyclicBarrier start = new CyclicBarrier(THREADS + 1);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      done.add(
          threads.submit(
              () -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                start.await(30, TimeUnit.SECONDS);
                for (int i = 0; i < OPERATIONS_PER_THREAD; i++) {
                  String key = keys[random.nextInt(KEYS)];
                  if (random.nextInt(100) < 5) {
                    cache.put(key, verdict);
                  } else if (cache.get(key).isEmpty()) {
                    throw new IllegalStateException("lost " + key);
                  }
                }
                return null;
              }));
    }
    start.await(30, TimeUnit.SECONDS);
    long began = System.nanoTime();
    for (Future<?> thread : done) {
      thread.get();
    }
    return (double) THREADS * OPERATIONS_PER_THREAD / ((System.nanoTime() - began) / 1e9);
  }
}
