package io.github.rcptproxy;

import static io.github.rcptproxy.testing.PostfixBackend.known;
import static io.github.rcptproxy.testing.PostfixBackend.unknown;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Against a real Postfix with its default limits: error limits and inflow control included. */
@RealServers
class PostfixVerificationTest {
  private PostfixBackend postfix;

  @BeforeEach
  void startPostfix() throws Exception {
    postfix = PostfixBackend.shared();
    postfix.deliverOneMessage(); // hand back inflow tokens other tests kept
  }

  private VerifierConfig.Builder config() {
    return VerifierConfig.builder()
        .backend("127.0.0.1", postfix.port())
        .heloName("probe.test")
        .probeMethod(ProbeMethod.RCPT);
  }

  @Test
  void acceptsKnownAndRejectsUnknownRecipientWithPostfixReply() {
    try (RecipientVerifier verifier = RecipientVerifier.create(config().build())) {
      Verdict known = verifier.verify(known(1));
      Verdict unknown = verifier.verify(unknown(1));

      assertThat(known)
          .isInstanceOfSatisfying(
              Verdict.Accepted.class, a -> assertThat(a.reply().code()).isEqualTo(250));
      assertThat(unknown)
          .isInstanceOfSatisfying(
              Verdict.Rejected.class,
              r -> {
                assertThat(r.reply().code()).isEqualTo(550);
                assertThat(r.reply().enhancedStatus()).isEqualTo("5.1.1");
                assertThat(r.reply().text()).contains("User unknown");
              });
    }
  }

  @Test
  void sendsNonAsciiAndQuotedLocalPartsToPostfixIntact() throws Exception {
    try (RecipientVerifier verifier = RecipientVerifier.create(config().build())) {
      assertThat(verifier.verify(known(7))).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify("jörg@" + PostfixBackend.DOMAIN))
          .isInstanceOfSatisfying(
              Verdict.Rejected.class,
              r -> assertThat(r.reply().enhancedStatus()).isEqualTo("5.1.1"));
      assertThat(verifier.verify("\"john.doe\"@" + PostfixBackend.DOMAIN))
          .isInstanceOfSatisfying(
              Verdict.Rejected.class,
              r -> assertThat(r.reply().enhancedStatus()).isEqualTo("5.1.1"));
      assertThat(verifier.stats().sessionsOpened()).isEqualTo(1);
    }
    assertThat(postfix.log()).contains("jörg@" + PostfixBackend.DOMAIN);
  }

  @Test
  void twoThousandVerificationsAtHalfUnknownStayUnderTheErrorLimits() {
    try (RecipientVerifier verifier = RecipientVerifier.create(config().maxSessions(4).build())) {
      List<Long> rejectedMillis = new ArrayList<>();
      for (int i = 0; i < 2000; i++) {
        boolean exists = i % 2 == 0;
        Verdict verdict =
            verifier.verify(exists ? known(i % PostfixBackend.MAILBOXES) : unknown(i));
        if (exists) {
          assertThat(verdict).as("verdict %d", i).isInstanceOf(Verdict.Accepted.class);
        } else {
          assertThat(verdict).as("verdict %d", i).isInstanceOf(Verdict.Rejected.class);
          rejectedMillis.add(verdict.latency().toMillis());
        }
      }
      VerifierStats stats = verifier.stats();
      double transactionsPerVerification =
          (double) stats.transactionsOpened() / stats.verifications();
      System.out.printf(
          "RCPT mode, 2000 verifications at 50%% unknown: %d sessions, %d transactions (%.4f per verification)%n",
          stats.sessionsOpened(), stats.transactionsOpened(), transactionsPerVerification);
      // Postfix delays every reply by 1 s after 10 errors in a session: none may be that slow.
      assertThat(rejectedMillis)
          .allMatch(ms -> ms < 900, "no rejection delayed by the error limit");
      assertThat(transactionsPerVerification).isLessThanOrEqualTo(1.0 / 15);
      assertThat(stats.sessionsActive()).isZero();
    }
  }

  @Test
  void vrfyModeKeepsInflowControlUntouched() throws Exception {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            config()
                .probeMethod(ProbeMethod.VRFY)
                .maxSessions(4)
                .knownGood(known(PostfixBackend.MAILBOXES - 1))
                .build())) {
      List<Long> micros = new ArrayList<>();
      for (int i = 0; i < 2000; i++) {
        boolean exists = i % 2 == 0;
        Verdict verdict =
            verifier.verify(exists ? known(i % PostfixBackend.MAILBOXES) : unknown(i));
        assertThat(verdict)
            .as("verdict %d", i)
            .isInstanceOf(exists ? Verdict.Accepted.class : Verdict.Rejected.class);
        micros.add(verdict.latency().toNanos() / 1000);
      }
      micros.sort(null);
      long p99 = micros.get(micros.size() * 99 / 100);
      System.out.printf(
          "VRFY mode, 2000 verifications at 50%% unknown: p50 %d us, p99 %d us, %d transactions%n",
          micros.get(micros.size() / 2), p99, verifier.stats().transactionsOpened());
      assertThat(p99).isLessThan(50_000);
      assertThat(verifier.stats().transactionsOpened()).isZero();
    }
    // Real mail is not held up by inflow control afterwards.
    long start = System.nanoTime();
    try (SmtpClient client = new SmtpClient("127.0.0.1", postfix.port())) {
      client.readReply();
      client.send("EHLO client.test");
      client.send("MAIL FROM:<someone@client.test>");
      assertThat(client.send("RCPT TO:<" + known(3) + ">")).startsWith("250");
    }
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(500));
  }
}
