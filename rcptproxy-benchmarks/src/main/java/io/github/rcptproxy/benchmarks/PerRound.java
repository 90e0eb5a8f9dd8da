package io.github.rcptproxy.benchmarks;

import java.util.Arrays;
import java.util.List;

/**
 * A row's operations a second in each round of an interleaved run, and the same relative to the
 * baseline row of the same round: the median and the range of each, as table cells.
 */
final class PerRound {
  private PerRound() {}

  /**
   * {@code | median | min–max | ratio median× | min–max× |} of the row against the baseline, round
   * by round (without the leading and trailing bar).
   */
  static String cells(List<Double> perSecond, List<Double> baseline) {
    double[] values = perSecond.stream().mapToDouble(Double::doubleValue).toArray();
    double[] ratios = new double[values.length];
    for (int i = 0; i < ratios.length; i++) {
      ratios[i] = values[i] / baseline.get(i);
    }
    return String.format(
        " %,.0f | %,.0f–%,.0f | %.2f× | %.2f–%.2f× ",
        median(values),
        Arrays.stream(values).min().orElseThrow(),
        Arrays.stream(values).max().orElseThrow(),
        median(ratios),
        Arrays.stream(ratios).min().orElseThrow(),
        Arrays.stream(ratios).max().orElseThrow());
  }

  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
