package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The control asked after an exchange's last mailbox refusal where the control itself is deferred,
 * there is none, or it is the refused address: "cannot know" stays unverified, never a wrong
 * verdict, and a refused address never controls itself.
 */
class ControlAfterLastRefusalTest {
  static final Duration DEADLINE = Duration.ofSeconds(3);

  /**
   * A pipelining server: addresses starting with "bad" refused 550 5.1.1, others accepted; with
   * {@code deferAfterFailure}, every RCPT after a session's first failure is deferred 451.
   */
  private static ScriptedSmtpServer.Script server(boolean smtputf8, boolean deferAfterFailure) {
    return connection -> {
      connection.write("220 fake.test ESMTP\r\n");
      boolean failed = false;
      String line;
      while ((line = connection.readLine()) != null) {
        String upper = line.toUpperCase();
        if (upper.startsWith("EHLO")) {
          connection.write(
              "250-fake.test\r\n250-PIPELINING\r\n"
                  + (smtputf8 ? "250-SMTPUTF8\r\n250-8BITMIME\r\n" : "")
                  + "250 ENHANCEDSTATUSCODES\r\n");
        } else if (upper.startsWith("MAIL") || upper.startsWith("RSET")) {
          connection.write("250 2.0.0 Ok\r\n");
        } else if (upper.startsWith("RCPT TO:")) {
          String address = line.substring(line.indexOf('<') + 1, line.lastIndexOf('>'));
          if (failed && deferAfterFailure) {
            connection.write("451 4.7.1 <" + address + ">: slow down\r\n");
          } else if (address.startsWith("bad")) {
            failed = true;
            connection.write("550 5.1.1 <" + address + ">: User unknown\r\n");
          } else {
            connection.write("250 2.1.5 Ok\r\n");
          }
        } else if (upper.startsWith("QUIT")) {
          connection.write("221 2.0.0 Bye\r\n");
          return;
        } else {
          connection.write("502 5.5.2 Error\r\n");
        }
      }
    };
  }

  /** A verifier asking {@code server} by RCPT, its deadline {@link #DEADLINE}. */
  static RecipientVerifier verifier(ScriptedSmtpServer server) {
    return RecipientVerifier.create(
        VerifierConfig.builder()
            .backend("127.0.0.1", server.port())
            .probeMethod(ProbeMethod.RCPT)
            .deadline(DEADLINE)
            .build());
  }

  /**
   * The control deferred (a rate limit after errors): whether the refusal was about the mailbox is
   * not known, so the address is a temporary failure, with its own refusal.
   */
  @Test
  void aDeferredControlAfterTheLastRefusalLeavesItATemporaryFailure() throws Exception {
    acceptedThenUnverified(
        server(false, true), "good1@example.com", Verdict.Reason.TEMPORARY_FAILURE);
  }

  /**
   * The transaction accepted only an address that needs SMTPUTF8 (never a control): no known-good
   * address at all, the refusal is unconfirmed.
   */
  @Test
  void noControlWhereTheTransactionAcceptedOnlyANonAsciiAddressLeavesTheRefusalUnconfirmed()
      throws Exception {
    acceptedThenUnverified(
        server(true, false), "j\u00f6rg@example.com", Verdict.Reason.REFUSAL_UNCONFIRMED);
  }

  /**
   * {@code accepted} and then bad1@example.com asked in one transaction of {@code dialogue}: the
   * first accepted, the refusal after it unverified for {@code reason}.
   */
  private static void acceptedThenUnverified(
      ScriptedSmtpServer.Script dialogue, String accepted, Verdict.Reason reason) throws Exception {
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(dialogue);
        RecipientVerifier verifier = verifier(server)) {
      List<Verdict> verdicts = verifier.verifyAll(List.of(accepted, "bad1@example.com"));
      assertThat(verdicts.get(0)).isInstanceOf(Verdict.Accepted.class);
      assertThat(verdicts.get(1))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class, v -> assertThat(v.reason()).isEqualTo(reason));
    }
  }

  /**
   * A mailbox deleted after it became its domain's known-good address (the last one accepted
   * there), asked after an address of another domain in the same transaction: its refusal ends the
   * exchange, and is controlled by another known-good address, never by itself (which answered
   * UNVERIFIED BACKEND_REFUSED after three sessions and lowered the learnt session limits).
   */
  @Test
  void aDeletedMailboxThatIsItsDomainsControl() throws Exception {
    java.util.Set<String> mailboxes = java.util.concurrent.ConcurrentHashMap.newKeySet();
    mailboxes.addAll(List.of("x@a.test", "old@b.test"));
    try (ScriptedSmtpServer server =
            ScriptedSmtpServer.start(
                ScriptedSmtpServer.dialogue(
                    address ->
                        mailboxes.contains(address)
                            ? "250 2.1.5 Ok\r\n"
                            : "550 5.1.1 <" + address + ">: User unknown\r\n"));
        RecipientVerifier verifier = verifier(server)) {
      assertThat(verifier.verify("old@b.test")).isInstanceOf(Verdict.Accepted.class);
      mailboxes.remove("old@b.test");
      List<Verdict> verdicts = verifier.verifyAll(List.of("x@a.test", "old@b.test"));
      System.out.println(
          "deleted control: "
              + verdicts
              + "; sessions "
              + verifier.stats().sessionsOpened()
              + ", RCPTs "
              + server.count("RCPT TO:"));
      assertThat(verdicts.get(0)).isInstanceOf(Verdict.Accepted.class);
      assertThat(verdicts.get(1)).as(verdicts.toString()).isInstanceOf(Verdict.Rejected.class);
    }
  }
}
