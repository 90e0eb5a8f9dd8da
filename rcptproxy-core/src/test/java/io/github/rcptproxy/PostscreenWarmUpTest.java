package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.VerdictTally;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A Postfix behind postscreen, which greets a new client only after its 6 s greet wait and lets it
 * through only if it waited: the first verifications are answered unverified within their deadline,
 * the greeting is waited for outside it, and from then on every verdict is right.
 */
@RealServers
class PostscreenWarmUpTest {
  @Test
  void theGreetWaitIsPassedOutsideTheDeadlineAndThenEveryVerdictIsRight() throws Exception {
    try (PostfixBackend postfix = PostfixBackend.startBehindPostscreen(List.of());
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder().backend("127.0.0.1", postfix.port()).build())) {
      Verdict first = verifier.verify(PostfixBackend.unknown(1));
      assertThat(first).isInstanceOf(Verdict.Unverified.class); // never a wrong answer
      assertThat(first.latency()).isLessThan(Duration.ofMillis(3500));

      await("postscreen lets this host through")
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> verifier.verify(PostfixBackend.known(1)) instanceof Verdict.Accepted);
      assertThat(postfix.log()).contains("PASS NEW [127.0.0.1]");

      VerdictTally tally =
          RealBackendsTest.run(
                  "Postfix behind postscreen (greet wait 6 s), after the warm-up",
                  verifier.config(),
                  PostfixBackend::known,
                  PostfixBackend::unknown)
              .tally();
      assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
      assertThat(tally.knownAccepted()).isEqualTo(RealBackendsTest.VERIFICATIONS / 2);
      assertThat(tally.unknownRejected()).isEqualTo(RealBackendsTest.VERIFICATIONS / 2);
    }
  }
}
