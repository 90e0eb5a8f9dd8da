package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Review: a Postfix whose every RCPT takes a second (a {@code sleep 1} restriction, as a slow
 * policy service or lookup would): 12 callers at once, 16 sessions allowed, a 6 s deadline. Each on
 * a session of its own is answered in about a second; gathered, two groups ask at once and a
 * pipelined group's RCPTs are answered one after the other by the one smtpd.
 */
@RealServers
class GatheredSlowBackendTest {
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
      int unverified = 0;
      for (Verdict verdict :
          ConcurrentCallers.verify(
              verifier,
              CALLERS,
              1,
              n -> n % 2 == 0 ? PostfixBackend.known(n) : PostfixBackend.unknown(n))) {
        System.out.println(
            "slow backend: " + verdict + " in " + verdict.latency().toMillis() + " ms");
        unverified += verdict instanceof Verdict.Unverified ? 1 : 0;
      }
      assertThat(unverified).isZero();
    }
  }
}
