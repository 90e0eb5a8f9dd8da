package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Review: a Postfix whose every RCPT takes a second (a {@code sleep 1} restriction, as a slow
 * policy service or lookup would): 12 callers at once, 16 sessions allowed, a 6 s deadline. Each on
 * a session of its own is answered in about a second; gathered, two groups ask at once and a
 * pipelined group's RCPTs are answered one after the other by the one smtpd.
 */
@RealServers
class GatheredSlowBackendReviewTest {
  private static final int CALLERS = 12;

  @Test
  void concurrentCallersOfASlowBackendAreEachAnsweredWithinTheDeadline() throws Exception {
    try (PostfixBackend postfix =
            PostfixBackend.start(List.of("smtpd_recipient_restrictions = sleep 1"));
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(postfix.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .maxSessions(16)
                    .deadline(Duration.ofSeconds(6))
                    .build())) {
      System.out.println("warm-up: " + verifier.verify(PostfixBackend.known(999)));
      ExecutorService callers = Executors.newFixedThreadPool(CALLERS);
      try {
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Verdict>> futures = new ArrayList<>();
        for (int c = 0; c < CALLERS; c++) {
          int n = c;
          futures.add(
              callers.submit(
                  () -> {
                    start.await();
                    return verifier.verify(
                        n % 2 == 0 ? PostfixBackend.known(n) : PostfixBackend.unknown(n));
                  }));
        }
        start.countDown();
        int unverified = 0;
        for (Future<Verdict> future : futures) {
          Verdict verdict = future.get();
          System.out.println(
              "slow backend: " + verdict + " in " + verdict.latency().toMillis() + " ms");
          unverified += verdict instanceof Verdict.Unverified ? 1 : 0;
        }
        assertThat(unverified).isZero();
      } finally {
        callers.shutdownNow();
      }
    }
  }
}
