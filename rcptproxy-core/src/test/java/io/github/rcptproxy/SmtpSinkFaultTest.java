package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpSink;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The verifier against Postfix's own fault-injecting test server, smtp-sink. */
@RealServers
class SmtpSinkFaultTest {
  private static final Duration DEADLINE = Duration.ofMillis(500);

  private static Verdict verifyAgainst(String... flags) {
    try (SmtpSink sink = SmtpSink.start(flags);
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", sink.port())
                    .deadline(DEADLINE)
                    .build())) {
      Verdict verdict = verifier.verify("alice@example.com");
      assertThat(verdict.latency()).isLessThan(DEADLINE.plusMillis(100));
      assertThat(verifier.stats().sessionsActive()).isZero();
      return verdict;
    }
  }

  private static void unverified(Verdict verdict, Verdict.Reason reason) {
    assertThat(verdict)
        .isInstanceOfSatisfying(
            Verdict.Unverified.class, u -> assertThat(u.reason()).as(u.detail()).isEqualTo(reason));
  }

  @Test
  void plainSinkAcceptsEveryone() {
    assertThat(verifyAgainst()).isInstanceOf(Verdict.Accepted.class);
  }

  @Test
  void hardErrorToEveryRcptIsNotTakenForAnUnknownMailbox() {
    // smtp-sink refuses postmaster@ too, with no enhanced status code about the mailbox.
    unverified(verifyAgainst("-f", "rcpt"), Verdict.Reason.BACKEND_REFUSED);
  }

  @Test
  void softErrorAtRcptIsTemporaryFailure() {
    unverified(verifyAgainst("-r", "rcpt"), Verdict.Reason.TEMPORARY_FAILURE);
  }

  @Test
  void serviceClosingAtRcptIsBackendUnavailable() {
    unverified(verifyAgainst("-Q", "rcpt"), Verdict.Reason.BACKEND_UNAVAILABLE);
  }

  @Test
  void hangUpAtRcptIsBackendUnavailable() {
    unverified(verifyAgainst("-q", "rcpt"), Verdict.Reason.BACKEND_UNAVAILABLE);
  }

  @Test
  void slowRcptTimesOutAtTheDeadline() {
    unverified(verifyAgainst("-W", "rcpt:5"), Verdict.Reason.TIMEOUT);
  }

  @Test
  void hardErrorAtMailIsSenderRejected() {
    unverified(verifyAgainst("-f", "mail"), Verdict.Reason.SENDER_REJECTED);
  }
}
