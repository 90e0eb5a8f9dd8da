package io.github.rcptproxy;

import static io.github.rcptproxy.testing.ScriptedSmtpServer.dialogue;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.internal.SessionLimits;
import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.MutableClock;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import io.github.rcptproxy.testing.VerdictTally;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * The backend's limits: a session is replaced before it reaches the limits configured or learnt
 * (rejections, VRFY and RSET commands, recipients per transaction), and a session the backend ended
 * or slowed teaches the limit it showed, without losing a verdict. Scripted backends first, then
 * the real servers whose limits taught these rules. The counting and learning alone are unit tested
 * in {@code internal.LimitLearnerTest}.
 */
@RealServers
class LimitLearningTest {
  private static final Duration DEADLINE = Duration.ofMillis(500);
  private static final String OK = "250 2.1.5 Ok\r\n";
  private static final Set<String> MAILBOXES =
      Set.of("alice@example.com", "bob@example.com", "postmaster@example.com");

  @AutoClose private final Closer closer = new Closer();
  private ScriptedSmtpServer server;
  private RecipientVerifier verifier;

  private static VerifierConfig.Builder rcptProbes() {
    return VerifierConfig.builder().probeMethod(ProbeMethod.RCPT);
  }

  /** A scripted backend, and a verifier with RCPT probes and a 500 ms deadline against it. */
  private RecipientVerifier verifierFor(
      ScriptedSmtpServer.Script script, VerifierConfig.Builder config) {
    server = closer.later(ScriptedSmtpServer.start(script));
    verifier =
        closer.leakFree(
            RecipientVerifier.create(
                config.backend("127.0.0.1", server.port()).deadline(DEADLINE).build()));
    return verifier;
  }

  private RecipientVerifier verifierFor(ScriptedSmtpServer.Script script) {
    return verifierFor(script, rcptProbes());
  }

  // Configured limits, and what scripted backends teach

  @Test
  void sessionIsRecycledAfterConfiguredNumberOfRejections() {
    verifierFor(
        dialogue(
            address ->
                address.equals("alice@example.com") ? "250 2.1.5 Ok\r\n" : "550 5.1.1 unknown\r\n"),
        rcptProbes().maxRejectionsPerSession(3).knownGood("alice@example.com"));

    for (int i = 0; i < 9; i++) {
      assertThat(verifier.verify("nobody" + i + "@example.com"))
          .isInstanceOf(Verdict.Rejected.class);
    }

    assertThat(server.connections()).isEqualTo(3);
    await().atMost(Duration.ofSeconds(2)).until(() -> server.count("QUIT") == 3);
  }

  @Test
  void fullTransactionIsResetInTheSameSessionNotReplaced() {
    verifierFor(dialogue(address -> OK), rcptProbes().maxRecipientsPerTransaction(5));

    for (int i = 0; i < 10; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }

    // 4 verifications per transaction (the 5th place kept for a control question): 4 + 4 + 2
    assertThat(server.connections()).isEqualTo(1);
    assertThat(server.count("RSET")).isEqualTo(2);
    assertThat(server.count("MAIL FROM")).isEqualTo(3);
  }

  @Test
  void rsetCountsLikeVrfyTowardsTheSessionsJunkCommandLimit() {
    verifierFor(
        dialogue(address -> OK), rcptProbes().maxRecipientsPerTransaction(1).maxVrfyPerSession(2));

    for (int i = 0; i < 4; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }

    // 1: MAIL RCPT; 2: RSET MAIL RCPT; 3: RSET MAIL RCPT, the second RSET ends the session; 4: anew
    assertThat(server.count("RSET")).isEqualTo(2);
    assertThat(server.connections()).isEqualTo(2);
  }

  @Test
  void tooManyRecipientsRecyclesTheSessionInsteadOfBeingAVerdict() {
    AtomicInteger rcpts = new AtomicInteger();
    verifierFor(
        dialogue(
            address ->
                rcpts.incrementAndGet() == 3 ? "452 4.5.3 Error: too many recipients\r\n" : OK));

    for (int i = 0; i < 4; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }
    assertThat(server.connections()).isEqualTo(2);
  }

  @Test
  void batchesNeverCarryMoreRecipientsThanASessionMayStillHaveRejected() throws Exception {
    List<Integer> rcptsPerConnection = new CopyOnWriteArrayList<>();
    try (ScriptedSmtpServer server =
            ScriptedSmtpServer.start(
                connection -> {
                  int rcpts = 0;
                  connection.write("220 strict.test\r\n");
                  for (String line = connection.readLine();
                      line != null;
                      line = connection.readLine()) {
                    if (line.startsWith("EHLO")) {
                      connection.write("250-strict.test\r\n250 PIPELINING\r\n");
                    } else if (line.startsWith("RCPT TO:<alice@")) {
                      connection.write("250 2.1.5 Ok\r\n"); // the control
                    } else if (line.startsWith("RCPT")) {
                      rcpts++;
                      connection.write("550 5.1.1 unknown\r\n");
                    } else if (line.startsWith("QUIT")) {
                      break;
                    } else {
                      connection.write("250 Ok\r\n");
                    }
                  }
                  rcptsPerConnection.add(rcpts);
                });
        RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .maxRejectionsPerSession(3)
                    .knownGood("alice@example.com")
                    .build())) {
      List<String> addresses = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        addresses.add("nobody" + i + "@example.com");
      }

      assertThat(verifier.verifyAll(addresses)).allMatch(v -> v instanceof Verdict.Rejected);

      verifier.close(); // QUIT on the last, idle session
      // Spread over sessions at once, none of them past its limit of 3 rejections (which shares
      // meet on a returned session depends on scheduling: 3+3+2+2, 3+3+3+1...).
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> rcptsPerConnection.stream().mapToInt(Integer::intValue).sum() == 10);
      assertThat(rcptsPerConnection).allMatch(rcpts -> rcpts <= 3);
    }
  }

  @Test
  void replyFollowedByHangUpIsAboutTheSessionAndTheLimitIsLearnt() {
    // Exim's smtp_accept_max_nonmail: the 11th VRFY gets 554 and the connection is closed.
    server =
        closer.later(
            ScriptedSmtpServer.start(
                connection -> {
                  connection.write("220 exim.test ESMTP\r\n");
                  int nonmail = 0;
                  String line;
                  while ((line = connection.readLine()) != null) {
                    if (line.startsWith("EHLO")) {
                      connection.write("250-exim.test\r\n250 PIPELINING\r\n");
                    } else if (line.startsWith("VRFY")) {
                      if (++nonmail > 10) {
                        connection.write("554 Too many nonmail commands\r\n");
                        return;
                      }
                      String address = line.substring(line.indexOf('<') + 1, line.lastIndexOf('>'));
                      connection.write(
                          MAILBOXES.contains(address)
                              ? "250 <" + address + "> is deliverable\r\n"
                              : "550 Unrouteable address\r\n");
                    } else if (line.startsWith("QUIT")) {
                      connection.write("221 bye\r\n");
                      return;
                    } else {
                      connection.write("250 OK\r\n");
                    }
                  }
                }));
    verifier =
        closer.leakFree(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .maxSessions(1)
                    .build()));

    int wrong = 0;
    for (int i = 0; i < 100; i++) {
      boolean real = i % 2 == 0;
      Verdict verdict = verifier.verify(real ? "bob@example.com" : "nobody" + i + "@example.com");
      if (real ? !(verdict instanceof Verdict.Accepted) : !(verdict instanceof Verdict.Rejected)) {
        wrong++;
      }
    }
    assertThat(wrong).isZero();
    // VRFY is trusted once a known-good address showed a refusal to be about the mailbox: only
    // the first verification, before the backend had accepted anything, went by RCPT.
    assertThat(server.count("RCPT TO:")).isEqualTo(1);
    // After the first hang-up the limit is known: later sessions are replaced (QUIT) before it.
    verifier.close();
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(server.connections() - server.count("QUIT")).isEqualTo(1));
  }

  @Test
  void theBackendsIdle421CrossingACommandTeachesNoLimit() {
    // Found by review: Exim's idle-timeout 421 crossing our next RCPT was taken for "the backend
    // ends sessions after 1 rejection", and every later session was replaced after one.
    AtomicInteger connection = new AtomicInteger();
    MutableClock clock = new MutableClock();
    server =
        closer.later(
            ScriptedSmtpServer.start(
                c -> {
                  boolean first = connection.incrementAndGet() == 1;
                  int rcpts = 0;
                  c.write("220 exim.test ESMTP\r\n");
                  String line;
                  while ((line = c.readLine()) != null) {
                    if (line.startsWith("EHLO")) {
                      c.write("250-exim.test\r\n250 PIPELINING\r\n");
                    } else if (line.startsWith("RCPT")) {
                      if (first && ++rcpts == 4) { // the first RCPT after the idle time
                        c.write("421 exim.test: SMTP command timeout - closing connection\r\n");
                        return;
                      }
                      String address = line.substring(line.indexOf('<') + 1, line.lastIndexOf('>'));
                      c.write(
                          MAILBOXES.contains(address)
                              ? "250 Accepted\r\n"
                              : "550 Unknown user\r\n");
                    } else if (line.startsWith("QUIT")) {
                      return;
                    } else {
                      c.write("250 OK\r\n");
                    }
                  }
                }));
    verifier =
        closer.leakFree(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .maxSessions(1)
                    .clock(clock)
                    .build()));
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody0@example.com")).isInstanceOf(Verdict.Rejected.class);
    clock.advance(Duration.ofSeconds(30)); // the session lies idle; the backend times it out

    assertThat(verifier.verify("bob@example.com")).isInstanceOf(Verdict.Accepted.class);
    long before = verifier.stats().sessionsOpened();
    for (int i = 1; i <= 16; i++) {
      assertThat(verifier.verify("nobody" + i + "@example.com"))
          .isInstanceOf(Verdict.Rejected.class);
    }
    // 8 rejections per session, as configured: the 421 taught nothing.
    assertThat(verifier.stats().sessionsOpened() - before).isLessThanOrEqualTo(2);
  }

  // Real servers

  @Test
  void hundredRecipientsAgainstPostfixStayUnderItsErrorLimits() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    postfix.deliverOneMessage();
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder().backend("127.0.0.1", postfix.port()).build())) {
      List<String> addresses = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        addresses.add(i % 2 == 0 ? PostfixBackend.known(i) : PostfixBackend.unknown(i));
      }

      List<Verdict> verdicts = verifier.verifyAll(addresses);

      for (int i = 0; i < 100; i++) {
        assertThat(verdicts.get(i))
            .as(addresses.get(i))
            .isInstanceOf(i % 2 == 0 ? Verdict.Accepted.class : Verdict.Rejected.class);
      }
      // Postfix would delay every reply by a second past 10 errors in a session.
      assertThat(verdicts.get(99).latency().toMillis()).isLessThan(900);
    }
  }

  /**
   * Exim counts every {@code RSET} after the first as a non-mail command: a probe transaction reset
   * again and again (every 3 recipients here) ends the session at its non-mail limit. That hang-up
   * is about the session: the addresses are asked on a fresh one and the limit is learnt, so Exim
   * hangs up once, not every few hundred recipients.
   */
  @Test
  void eximsNonmailLimitOnRsetIsLearntAndLosesNoVerdict() {
    try (EximBackend exim = EximBackend.start(EximBackend.Options.everyRule().build());
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(exim.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .maxRecipientsPerTransaction(3)
                    .build())) {
      for (int i = 0; i < 300; i++) {
        assertThat(verifier.verify(EximBackend.known(i))).isInstanceOf(Verdict.Accepted.class);
      }
      assertThat(exim.mainLog().lines().filter(l -> l.contains("nonmail")).count())
          .as(exim.mainLog())
          .isEqualTo(1);
    }
  }

  /**
   * Exim's {@code drop} after more than 2 failed recipients answers the next RCPT and hangs up: in
   * a batch pipelined on a fresh session, again on every fresh one, until the limit it showed is
   * learnt from that first use.
   */
  @Test
  void eximsDropAfterFailedRecipientsInABatchIsLearntAndLosesNoVerdict() {
    try (EximBackend dropping =
            EximBackend.start(EximBackend.Options.builder().dropAfterFailures(2).build());
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(dropping.port()).probeMethod(ProbeMethod.RCPT).build())) {
      List<String> addresses = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        addresses.add(VerdictTally.isKnown(i) ? EximBackend.known(i) : EximBackend.unknown(i));
      }

      VerdictTally tally = RealBackendsTest.verifyAll(verifier, addresses, VerdictTally::isKnown);

      System.out.printf("Exim drop after 2 failed recipients, verifyAll(100): %s%n", tally);
      assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(50);
      assertThat(tally.unknownRejected()).as(tally.toString()).isEqualTo(50);
    }
  }

  /**
   * Postfix counts every RSET as a junk command and each one past {@code smtpd_junk_command_limit}
   * as an error: with room for 3 recipients the probe transaction is reset every two verifications,
   * and the session reaches the soft error limit (every reply a second late) without a single
   * rejection. That teaches the RSET limit: one slow answer, not a second's delay on every answer
   * until the hard error limit ends the session, again in every session. (No inflow control here:
   * its one-second delay of a transaction's first valid recipient would blur the count.)
   */
  @Test
  void postfixsJunkCommandLimitReachedByRsetIsLearntFromItsErrorDelay() {
    try (PostfixBackend postfix =
            PostfixBackend.start(List.of("smtpd_junk_command_limit = 5", "in_flow_delay = 0s"));
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(postfix.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .maxRecipientsPerTransaction(3)
                    .build())) {
      int slow = 0;
      for (int i = 0; i < 100; i++) {
        Verdict verdict = verifier.verify(PostfixBackend.known(i));
        assertThat(verdict).as(PostfixBackend.known(i)).isInstanceOf(Verdict.Accepted.class);
        slow += verdict.latency().compareTo(SessionLimits.THROTTLED) >= 0 ? 1 : 0;
      }
      assertThat(slow).isLessThanOrEqualTo(1);
    }
  }

  /**
   * Postfix counts a temporary refusal ({@code 454 4.7.1 Relay access denied} for a domain it does
   * not serve) as an error like a rejection: a session is replaced after 8 refusals of either kind,
   * never kept until every reply is a second late.
   */
  @Test
  void postfixsTemporaryRefusalsCountTowardsItsErrorLimits() throws IOException {
    PostfixBackend postfix = PostfixBackend.shared();
    postfix.deliverOneMessage(); // tokens other tests' probe transactions kept are handed back
    try (RecipientVerifier verifier =
        RecipientVerifier.create(RealBackendsTest.config(postfix.port()).build())) {
      for (int i = 0; i < 40; i++) {
        String address = i % 2 == 0 ? "user" + i + "@elsewhere.test" : PostfixBackend.known(i);
        Verdict verdict = verifier.verify(address);

        assertThat(verdict)
            .as(address)
            .isInstanceOf(i % 2 == 0 ? Verdict.Unverified.class : Verdict.Accepted.class);
        assertThat(verdict.latency()).as(address).isLessThan(SessionLimits.THROTTLED);
      }
    }
  }

  /**
   * Once Postfix's inflow-control tokens are spent (each abandoned transaction with a valid
   * recipient keeps one), the first valid recipient of every probe transaction is answered a second
   * late. That is not the error delay and teaches no rejection limit: taken for one, every
   * rejection would cost a session, and every session a transaction, spending more tokens.
   */
  @Test
  void postfixsInflowDelayTeachesNoRejectionLimit() throws IOException {
    try (PostfixBackend postfix = PostfixBackend.start(List.of());
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(postfix.port()).probeMethod(ProbeMethod.RCPT).build())) {
      spendInflowTokens(postfix);
      Verdict delayed = verifier.verify(PostfixBackend.known(1));
      assertThat(delayed).isInstanceOf(Verdict.Accepted.class);
      assertThat(delayed.latency()).isGreaterThanOrEqualTo(SessionLimits.THROTTLED);
      assertThat(verifier.verify(PostfixBackend.unknown(0))).isInstanceOf(Verdict.Rejected.class);
      for (int i = 2; i < 8; i++) {
        assertThat(verifier.verify(PostfixBackend.unknown(i))).isInstanceOf(Verdict.Rejected.class);
      }

      assertThat(verifier.stats().sessionsOpened()).isEqualTo(1);
    }
  }

  /** Abandons transactions with a valid recipient until Postfix delays one (no token left). */
  private static void spendInflowTokens(PostfixBackend postfix) throws IOException {
    for (int connection = 0; connection < 10; connection++) {
      // a fresh connection every 40 RSETs: Postfix counts RSET as a junk command (limit 100)
      try (SmtpClient client = new SmtpClient("127.0.0.1", postfix.port())) {
        client.readReply();
        client.send("EHLO spender.test");
        for (int i = 0; i < 40; i++) {
          client.send("MAIL FROM:<>");
          long started = System.nanoTime();
          client.send("RCPT TO:<" + PostfixBackend.known(i) + ">");
          if (System.nanoTime() - started >= SessionLimits.THROTTLED.toNanos()) {
            return;
          }
          client.send("RSET");
        }
      }
    }
    throw new IllegalStateException("Postfix never delayed a transaction: no inflow control?");
  }

  @Test
  void postfixWithARecipientLimitOfThreeAnswersAWholeBatch() {
    try (PostfixBackend postfix = PostfixBackend.start(List.of("smtpd_recipient_limit = 3"));
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(postfix.port()).probeMethod(ProbeMethod.RCPT).build())) {
      List<String> addresses = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        addresses.add(
            VerdictTally.isKnown(i) ? PostfixBackend.known(i) : PostfixBackend.unknown(i));
      }
      VerdictTally tally = RealBackendsTest.verifyAll(verifier, addresses, VerdictTally::isKnown);
      System.out.printf("Postfix smtpd_recipient_limit = 3, verifyAll(100): %s%n", tally);
      assertThat(tally.wrongRejections()).isZero();
      assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(50);
      assertThat(tally.unknownRejected()).as(tally.toString()).isEqualTo(50);
    }
  }
}
