package io.github.rcptproxy.testing;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.opentest4j.TestAbortedException;

/**
 * Says at the end of each module's test run which tests did not run here and why: a fixture whose
 * real server (Postfix, Dovecot, Exim, OpenSMTPD, openssl) is missing skips its tests with a reason
 * (under {@code CI=true} it fails them instead). Registered for every module whose tests use the
 * test kit, through {@code META-INF/services}.
 */
public final class SkippedSummary implements TestExecutionListener {
  private final Map<String, AtomicInteger> skipped = new ConcurrentHashMap<>();

  @Override
  public void executionSkipped(TestIdentifier test, String reason) {
    count(reason);
  }

  @Override
  public void executionFinished(TestIdentifier test, TestExecutionResult result) {
    if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
      count(
          result
              .getThrowable()
              .filter(TestAbortedException.class::isInstance)
              .map(Throwable::getMessage)
              .map(message -> message.replaceFirst("^Assumption failed: ", ""))
              .orElse("aborted"));
    }
  }

  private void count(String reason) {
    skipped.computeIfAbsent(reason, r -> new AtomicInteger()).incrementAndGet();
  }

  @Override
  public void testPlanExecutionFinished(TestPlan plan) {
    if (skipped.isEmpty()) {
      return;
    }
    int total = skipped.values().stream().mapToInt(AtomicInteger::get).sum();
    StringBuilder text =
        new StringBuilder("rcptproxy: ")
            .append(total)
            .append(" test(s) or container(s) did not run here (with CI=true they fail instead):");
    new TreeMap<>(skipped)
        .forEach((reason, n) -> text.append("\n  ").append(n.get()).append(" × ").append(reason));
    System.err.println(text);
  }
}
