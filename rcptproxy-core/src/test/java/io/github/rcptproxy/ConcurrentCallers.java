package io.github.rcptproxy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/** Callers of one verifier let go at once, as an SMTP server's threads call it. */
final class ConcurrentCallers {
  private ConcurrentCallers() {}

  /**
   * Each of {@code callers} verifies {@code perCaller} addresses, one {@code verify} after the
   * other, the callers at once; caller {@code c}'s i-th address is {@code address(c * perCaller +
   * i)}. The verdicts in that order.
   */
  static List<Verdict> verify(
      RecipientVerifier verifier, int callers, int perCaller, IntFunction<String> address)
      throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(callers);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<List<Verdict>>> futures = new ArrayList<>();
      for (int c = 0; c < callers; c++) {
        int caller = c;
        futures.add(
            threads.submit(
                () -> {
                  start.await();
                  List<Verdict> verdicts = new ArrayList<>();
                  for (int i = 0; i < perCaller; i++) {
                    verdicts.add(verifier.verify(address.apply(caller * perCaller + i)));
                  }
                  return verdicts;
                }));
      }
      start.countDown();
      List<Verdict> all = new ArrayList<>();
      for (Future<List<Verdict>> future : futures) {
        all.addAll(future.get());
      }
      return all;
    } finally {
      threads.shutdownNow();
    }
  }
}
