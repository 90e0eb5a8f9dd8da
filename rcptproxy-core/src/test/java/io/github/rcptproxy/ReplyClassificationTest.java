package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Only a refusal about the mailbox becomes {@link Verdict.Rejected}. Backends that send no enhanced
 * status codes (as Exim and OpenSMTPD) are played by a scripted server here; the real ones are in
 * {@code RealBackendsTest}.
 */
class ReplyClassificationTest {
  private static final Set<String> MAILBOXES =
      Set.of("alice@example.com", "bob@example.com", "postmaster@example.com");
  private static final Duration DEADLINE = Duration.ofSeconds(2);

  private ScriptedSmtpServer server;
  private RecipientVerifier verifier;

  @AfterEach
  void stop() throws IOException {
    if (verifier != null) {
      verifier.close();
    }
    if (server != null) {
      server.close();
    }
  }

  /** Answers RCPT for each address with what {@code rcpt} says; VRFY is not offered. */
  private void start(ScriptedSmtpServer.Answers rcpt, String... knownGood) {
    server = ScriptedSmtpServer.start(ScriptedSmtpServer.dialogue(rcpt));
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", server.port())
                .deadline(DEADLINE)
                .knownGood(knownGood)
                .build());
  }

  private static String eximLike(String address) {
    return MAILBOXES.contains(address) ? "250 Accepted\r\n" : "550 Unknown user\r\n";
  }

  private static Verdict.Unverified unverified(Verdict verdict, Verdict.Reason reason) {
    assertThat(verdict).isInstanceOf(Verdict.Unverified.class);
    Verdict.Unverified unverified = (Verdict.Unverified) verdict;
    assertThat(unverified.reason()).as(unverified.detail()).isEqualTo(reason);
    return unverified;
  }

  @Test
  void refusalWithoutEnhancedCodeIsRejectedOnceAKnownGoodAddressIsAcceptedAfterIt() {
    start(ReplyClassificationTest::eximLike);
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);

    assertThat(verifier.verify("nobody@example.com"))
        .isInstanceOfSatisfying(
            Verdict.Rejected.class,
            r -> assertThat(r.reply().toString()).isEqualTo("550 Unknown user"));
    assertThat(server.count("RCPT TO:<alice@example.com>")).isEqualTo(2);
  }

  @Test
  void refusalBeforeTheBackendAcceptedAnyAddressIsNeverRejected() {
    // Exim's example configuration accepts postmaster before it verifies the sender: postmaster's
    // 250 would prove nothing, so it is never the control.
    start(
        address ->
            address.startsWith("postmaster@")
                ? "250 Accepted\r\n"
                : "550-Verification failed for <rcptproxy@localhost>\r\n550 Sender verify failed\r\n");

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.REFUSAL_UNCONFIRMED);
    // never the control question (the probe sender's fallback is postmaster, as a sender)
    assertThat(server.received()).doesNotContain("RCPT TO:<postmaster");
  }

  @Test
  void anAddressAcceptedInAnotherDomainIsTheControlWhereTheDomainHasNone() {
    start(
        address ->
            address.equals("carol@example.org") || MAILBOXES.contains(address)
                ? "250 Accepted\r\n"
                : "550 Unknown user\r\n");
    assertThat(verifier.verify("carol@example.org")).isInstanceOf(Verdict.Accepted.class);

    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
    assertThat(server.count("RCPT TO:<carol@example.org>")).isEqualTo(2);
  }

  @Test
  void theLastAcceptedAddressOfTheDomainIsTheControl() {
    start(ReplyClassificationTest::eximLike);

    assertThat(verifier.verify("bob@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
    assertThat(server.count("RCPT TO:<bob@example.com>")).isEqualTo(2);
    assertThat(server.received()).doesNotContain("postmaster");
  }

  @Test
  void anAcceptedRecipientCostsOneCommand() {
    start(ReplyClassificationTest::eximLike);

    for (int i = 0; i < 5; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }
    assertThat(server.count("RCPT TO:")).isEqualTo(5);
  }

  @Test
  void refusingEveryAddressIsAboutTheSenderOrClientNotTheMailbox() {
    // Exim verifying a probe sender it cannot verify: every RCPT, real mailbox or not.
    start(address -> "550 Verification failed for <rcptproxy@localhost>\r\n", "bob@example.com");

    for (String address : MAILBOXES) {
      // the known-good address, refused, cannot control its own refusal: that one is unconfirmed
      unverified(
          verifier.verify(address),
          address.equals("bob@example.com")
              ? Verdict.Reason.REFUSAL_UNCONFIRMED
              : Verdict.Reason.BACKEND_REFUSED);
    }
    assertThat(verifier.stats().rejected()).isZero();
  }

  @Test
  void enhancedCodeAboutPolicyForEveryAddressIsNotAMailboxVerdict() {
    start(
        address -> "554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied\r\n",
        "bob@example.com");

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.BACKEND_REFUSED);
    assertThat(server.received()).doesNotContain("RCPT TO:<postmaster"); // the code said enough
  }

  @Test
  void enhancedCodeAboutPolicyForThisAddressOnlyIsAboutTheAddress() {
    // Exim: deny ... local_parts = ! lsearch;USERS message = 5.7.1 <$local_part@$domain>: user
    // unknown
    start(
        address ->
            MAILBOXES.contains(address)
                ? "250 Accepted\r\n"
                : "550 5.7.1 <" + address + ">: user unknown\r\n",
        "bob@example.com");

    assertThat(verifier.verify("nobody@example.com"))
        .isInstanceOfSatisfying(
            Verdict.Rejected.class, r -> assertThat(r.reply().enhancedStatus()).isEqualTo("5.7.1"));
    assertThat(server.count("RCPT TO:<bob@example.com>")).isEqualTo(1);
  }

  @Test
  void mailboxCodeWhereAKnownGoodAddressIsRefusedTooIsNotAboutTheMailbox() {
    // Exim: deny senders = : domains = +local_domains local_parts = !postmaster
    //       message = 5.1.1 policy: blocked
    start(address -> "550 5.1.1 policy: blocked\r\n", "bob@example.com");

    for (String address : List.of("alice@example.com", "nobody@example.com")) {
      unverified(verifier.verify(address), Verdict.Reason.BACKEND_REFUSED);
    }
    assertThat(verifier.stats().rejected()).isZero();
  }

  @Test
  void mailboxCodeBeforeAnyAddressWasAcceptedIsUnconfirmed() {
    start(address -> "550 5.1.1 policy: blocked\r\n");

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.REFUSAL_UNCONFIRMED);
  }

  @Test
  void enhancedCodeAboutProtocolIsNotAMailboxVerdict() {
    // Postfix's reject_non_fqdn_sender, evaluated at RCPT time.
    start(
        address ->
            "504 5.5.2 <rcptproxy@localhost>: Sender address rejected: need fully-qualified"
                + " address\r\n");

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.BACKEND_REFUSED);
  }

  @Test
  void enhancedCodeAboutTheSenderIsSenderRejected() {
    start(address -> "550 5.1.8 <rcptproxy@localhost>: Sender address rejected\r\n");

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.SENDER_REJECTED);
  }

  @Test
  void mailboxCodeFollowedByAReplyIsRejectedWithoutAControlOnceTheTransactionAcceptedAnAddress() {
    start(
        address -> MAILBOXES.contains(address) ? "250 2.1.5 Ok\r\n" : "550 5.1.1 User unknown\r\n");
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);

    List<Verdict> verdicts =
        verifier.verifyAll(List.of("nobody@example.com", "nobody2@example.com", "bob@example.com"));

    assertThat(verdicts.get(0)).isInstanceOf(Verdict.Rejected.class);
    assertThat(verdicts.get(1)).isInstanceOf(Verdict.Rejected.class);
    assertThat(verdicts.get(2)).isInstanceOf(Verdict.Accepted.class);
    // nobody2, answered before bob, needs no control; nobody, asked alone, has alice after it
    assertThat(server.received())
        .endsWith("RCPT TO:<nobody2@example.com>\r\nRCPT TO:<bob@example.com>\r\n");
    assertThat(server.count("RCPT TO:<alice")).isEqualTo(2);
  }

  /**
   * A hang-up right after the last reply of an exchange shows only on the next command: a refusal
   * that is that last reply is followed by the known-good address, also where the transaction
   * accepted one before (HangUpAfterLastRefusalTest: a backend that does hang up there).
   */
  @Test
  void theExchangesLastRefusalIsFollowedByAControl() {
    start(
        address -> MAILBOXES.contains(address) ? "250 2.1.5 Ok\r\n" : "550 5.1.1 User unknown\r\n");
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);

    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);

    assertThat(server.count("RCPT TO:")).isEqualTo(3);
    assertThat(server.received()).endsWith("RCPT TO:<alice@example.com>\r\n");
  }

  @Test
  void ratioRuleThatRefusesEverythingLaterNeverGivesAWrongRejection() {
    // Exim's idiom, with a site's stricter threshold: once more than 10 were tried and fewer than
    // two thirds accepted, refuse them all (control questions alone keep half accepted).
    AtomicInteger fired = new AtomicInteger();
    server =
        ScriptedSmtpServer.start(
            connection -> {
              int[] tried = {0};
              int[] accepted = {0};
              ScriptedSmtpServer.dialogue(
                      address -> {
                        tried[0]++;
                        if (tried[0] > 10 && accepted[0] * 3 < tried[0] * 2) {
                          fired.incrementAndGet();
                          return "550 Rejected for too many bad recipients\r\n";
                        }
                        if (MAILBOXES.contains(address)) {
                          accepted[0]++;
                          return "250 Accepted\r\n";
                        }
                        return "550 Unknown user\r\n";
                      })
                  .play(connection);
            });
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", server.port())
                .maxRejectionsPerSession(100)
                .maxSessions(1)
                .build());

    int wrong = 0;
    for (int i = 0; i < 200; i++) {
      boolean real = i % 10 < 3; // 3 real, then 7 unknown: the rule fires within a session
      Verdict verdict = verifier.verify(real ? "alice@example.com" : "nobody" + i + "@example.com");
      if (real ? !(verdict instanceof Verdict.Accepted) : !(verdict instanceof Verdict.Rejected)) {
        wrong++;
      }
    }
    assertThat(fired).as("the ratio rule fired").hasPositiveValue();
    assertThat(wrong).isZero();
  }

  @Test
  void idleTimeout421IsNotHandedOutAgain() {
    AtomicBoolean timedOut = new AtomicBoolean();
    AtomicInteger connection = new AtomicInteger();
    server =
        ScriptedSmtpServer.start(
            c -> {
              boolean first = connection.incrementAndGet() == 1;
              c.write("220 idle.test\r\n");
              String line;
              while ((line = c.readLine()) != null) {
                if (line.startsWith("EHLO")) {
                  c.write("250-idle.test\r\n250 PIPELINING\r\n");
                } else if (line.startsWith("RCPT")) {
                  c.write("250 Accepted\r\n");
                  if (first) {
                    // the backend's own idle timeout, shorter than ours
                    c.write("421 idle.test SMTP command timeout - closing connection\r\n");
                    timedOut.set(true);
                    return;
                  }
                } else {
                  c.write("250 OK\r\n");
                }
              }
            });
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", server.port())
                .probeMethod(ProbeMethod.RCPT)
                .deadline(DEADLINE)
                .maxSessions(1)
                .build());

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    await().atMost(Duration.ofSeconds(5)).untilTrue(timedOut);

    Verdict next = verifier.verify("bob@example.com");
    assertThat(next).isInstanceOf(Verdict.Accepted.class);
    assertThat(next.latency()).isLessThan(DEADLINE);
    assertThat(server.connections()).isEqualTo(2);
  }

  @Test
  void vrfyTrustIsDroppedWhenTheBackendStopsAnsweringVrfy() {
    AtomicBoolean vrfyDisabled = new AtomicBoolean();
    server =
        ScriptedSmtpServer.start(
            c -> {
              c.write("220 vrfy.test\r\n");
              String line;
              while ((line = c.readLine()) != null) {
                String address =
                    line.contains("<")
                        ? line.substring(line.indexOf('<') + 1, line.lastIndexOf('>'))
                        : "";
                if (line.startsWith("EHLO")) {
                  c.write("250-vrfy.test\r\n250 PIPELINING\r\n");
                } else if (line.startsWith("VRFY")) {
                  c.write(
                      vrfyDisabled.get()
                          ? "502 5.5.1 VRFY command is disabled\r\n"
                          : MAILBOXES.contains(address)
                              ? "250 2.1.5 <" + address + ">\r\n"
                              : "550 5.1.1 <" + address + ">: User unknown\r\n");
                } else if (line.startsWith("RCPT")) {
                  c.write(
                      MAILBOXES.contains(address)
                          ? "250 2.1.5 Ok\r\n"
                          : "550 5.1.1 <" + address + ">: User unknown\r\n");
                } else {
                  c.write("250 2.0.0 Ok\r\n");
                }
              }
            });
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", server.port())
                .knownGood("bob@example.com")
                .build());
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(server.count("RCPT")).isZero();

    vrfyDisabled.set(true);

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
    // alice, nobody, and a control after nobody's refusal, the last reply of its exchange
    assertThat(server.count("RCPT")).isEqualTo(3);
  }

  @Test
  void badSequenceIsAskedAgainOnAFreshSessionNotAVerdict() {
    AtomicInteger rcpts = new AtomicInteger();
    start(
        address ->
            rcpts.incrementAndGet() == 1
                ? "503 5.5.1 Error: need MAIL command\r\n"
                : "250 2.1.5 Ok\r\n");

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(server.connections()).isEqualTo(2);
  }

  @Test
  void aFullMailboxIsATemporaryAnswerNotTheEndOfTheSession() {
    start(
        address ->
            address.startsWith("full@")
                ? "452 4.2.2 <full@example.com>: Mailbox full\r\n"
                : MAILBOXES.contains(address) ? "250 2.1.5 Ok\r\n" : "550 5.1.1 Unknown user\r\n");

    List<Verdict> verdicts =
        verifier.verifyAll(List.of("full@example.com", "alice@example.com", "nobody@example.com"));

    unverified(verdicts.get(0), Verdict.Reason.TEMPORARY_FAILURE);
    assertThat(verdicts.get(1)).isInstanceOf(Verdict.Accepted.class);
    assertThat(verdicts.get(2)).isInstanceOf(Verdict.Rejected.class);
    assertThat(server.connections()).isEqualTo(1);
  }

  @Test
  void anAcceptedAddressThatNeedsSmtputf8IsNeverTheControl() {
    // Found by review: as the control of a VRFY question it could not be encoded, and verify()
    // threw.
    server =
        ScriptedSmtpServer.start(
            c -> {
              c.write("220 exim.test ESMTP\r\n");
              String line;
              while ((line = c.readLine()) != null) {
                boolean known = line.contains("ser@");
                if (line.startsWith("EHLO")) {
                  c.write("250-exim.test\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n");
                } else if (line.startsWith("VRFY") || line.startsWith("RCPT")) {
                  c.write(known ? "250 Accepted\r\n" : "550 Unknown user\r\n");
                } else if (line.startsWith("QUIT")) {
                  return;
                } else {
                  c.write("250 OK\r\n");
                }
              }
            });
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder().backend("127.0.0.1", server.port()).build());
    assertThat(verifier.verify("\u00fcser@example.com")).isInstanceOf(Verdict.Accepted.class);

    unverified(verifier.verify("nobody@example.com"), Verdict.Reason.REFUSAL_UNCONFIRMED);
    assertThat(verifier.verify("user@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
  }
}
