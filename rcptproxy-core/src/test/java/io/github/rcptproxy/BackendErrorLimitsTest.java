package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.StderrCapture;
import io.github.rcptproxy.testing.VerdictTally;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Postfix with low error limits and per-client rate limits: sessions are kept and paced, never
 * churned until the backend refuses the connection, and no verdict is wrong.
 */
@RealServers
class BackendErrorLimitsTest {
  private static final int RECIPIENTS = 300;

  private static Run run(String label, VerifierConfig config) {
    return run(label, config, RECIPIENTS);
  }

  private static Run run(String label, VerifierConfig config, int recipients) {
    VerdictTally tally = new VerdictTally();
    long started = System.nanoTime();
    try (RecipientVerifier verifier = RecipientVerifier.create(config)) {
      for (int i = 0; i < recipients; i++) {
        boolean known = VerdictTally.isKnown(i);
        Verdict verdict =
            verifier.verify(known ? PostfixBackend.known(i / 2) : PostfixBackend.unknown(i));
        tally.add(known, RealBackendsTest.outcome(verdict));
      }
      System.out.printf(
          "%s: %s; %d sessions, %d ms%n",
          label,
          tally,
          verifier.stats().sessionsOpened(),
          (System.nanoTime() - started) / 1_000_000);
      return new Run(tally, verifier.stats());
    }
  }

  record Run(VerdictTally tally, VerifierStats stats) {}

  @Test
  void lowErrorLimitsWithAnErrorSleep() throws Exception {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "smtpd_hard_error_limit = 3",
                "smtpd_soft_error_limit = 1",
                "smtpd_error_sleep_time = 2s",
                PostfixBackend.NO_INFLOW_DELAY))) {
      for (ProbeMethod method : ProbeMethod.values()) {
        Run run =
            run(
                "Postfix hard 3, soft 1, sleep 2 s, " + method,
                RealBackendsTest.config(postfix.port()).probeMethod(method).build());
        assertThat(run.tally().wrongRejections()).isZero();
        assertThat(run.tally().unknownRejected()).isGreaterThanOrEqualTo(RECIPIENTS / 2 * 95 / 100);
      }
      assertThat(postfix.log()).doesNotContain("too many connections");
    }
  }

  /**
   * One rejection per session ({@code smtpd_hard_error_limit = 2}: Postfix answers the second
   * refusal and then {@code 421 too many errors} and hangs up): a session per unknown recipient,
   * slower, never wrong.
   */
  @Test
  void oneRejectionPerSession() throws Exception {
    try (PostfixBackend postfix = PostfixBackend.start(List.of("smtpd_hard_error_limit = 2"))) {
      StderrCapture log = new StderrCapture();
      Run run;
      try (log) {
        run = run("Postfix hard error limit 2", RealBackendsTest.config(postfix.port()).build());
      }
      assertThat(log.lines("smtpd_hard_error_limit")).as(log.text()).isZero();
      assertThat(run.tally().wrongRejections()).as(run.tally().toString()).isZero();
      assertThat(run.tally().unknownAccepted()).as(run.tally().toString()).isZero();
      assertThat(run.tally().unknownRejected()).isGreaterThanOrEqualTo(RECIPIENTS / 2 * 95 / 100);
    }
  }

  /**
   * No rejection per session ({@code smtpd_hard_error_limit = 1}: Postfix answers the first refusal
   * and then {@code 421 too many errors} and hangs up): never a wrong answer, one warning naming
   * the setting, and the known addresses accepted (by RCPT, one refusal per session).
   */
  @Test
  void hangUpAfterEveryRefusalIsWarnedOnce() throws Exception {
    try (PostfixBackend postfix = PostfixBackend.start(List.of("smtpd_hard_error_limit = 1"));
        StderrCapture log = new StderrCapture()) {
      // a third of a second per session here (Postfix's own pace after the hang-up): fewer
      // recipients than the configurations, enough for the warning's three sessions
      int recipients = 60;
      Run run =
          run(
              "Postfix hard error limit 1",
              RealBackendsTest.config(postfix.port()).build(),
              recipients);
      assertThat(run.tally().wrongRejections()).as(run.tally().toString()).isZero();
      assertThat(run.tally().unknownAccepted()).as(run.tally().toString()).isZero();
      // VRFY, whose random control would end each session, gives way to RCPT
      assertThat(run.tally().knownAccepted())
          .as(run.tally().toString())
          .isGreaterThanOrEqualTo(recipients / 2 * 95 / 100);
      assertThat(log.lines("smtpd_hard_error_limit")).as(log.text()).isEqualTo(1);
    }
  }

  @Test
  void aPlainPostfixIsNotTakenForOneThatEndsSessionsOnRefusals() throws Exception {
    try (PostfixBackend postfix = PostfixBackend.start(List.of());
        StderrCapture log = new StderrCapture()) {
      for (ProbeMethod method : ProbeMethod.values()) {
        Run run =
            run(
                "plain Postfix, " + method,
                RealBackendsTest.config(postfix.port()).probeMethod(method).build());
        assertThat(run.tally().wrongRejections()).isZero();
      }
      assertThat(log.lines("smtpd_hard_error_limit")).as(log.text()).isZero();
    }
  }

  @Test
  void anvilRateLimits() throws Exception {
    try (PostfixBackend postfix =
        PostfixBackend.start(
            List.of(
                "smtpd_client_connection_rate_limit = 5",
                "smtpd_client_recipient_rate_limit = 30"))) {
      try (StderrCapture log = new StderrCapture()) {
        Run run =
            run(
                "Postfix anvil 5 connections, 30 recipients a minute",
                RealBackendsTest.config(postfix.port()).build());
        assertThat(run.tally().wrongRejections()).isZero();
        assertThat(run.tally().unknownAccepted()).isZero();
        assertThat(log.lines("smtpd_client_connection_rate_limit")).as(log.text()).isEqualTo(1);
        assertThat(log.lines("smtpd_client_recipient_rate_limit")).as(log.text()).isEqualTo(1);
      }
    }
  }

  @Test
  void eximRatelimitPerRecipient() {
    try (EximBackend exim =
            EximBackend.start(EximBackend.Options.builder().recipientsPerMinute(30).build());
        StderrCapture log = new StderrCapture();
        RecipientVerifier verifier =
            RecipientVerifier.create(RealBackendsTest.config(exim.port()).build())) {
      VerdictTally tally = new VerdictTally();
      for (int i = 0; i < RECIPIENTS; i++) {
        boolean known = VerdictTally.isKnown(i);
        Verdict verdict =
            verifier.verify(known ? EximBackend.known(i / 2) : EximBackend.unknown(i));
        tally.add(known, RealBackendsTest.outcome(verdict));
      }
      System.out.println("Exim ratelimit 30 / 1m / per_rcpt: " + tally);
      assertThat(tally.wrongRejections()).isZero();
      assertThat(tally.unknownAccepted()).isZero();
      assertThat(log.lines("Exim ratelimit per_rcpt")).as(log.text()).isEqualTo(1);
    }
  }
}
