package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A scripted pipelining server that ends each session on its n-th RCPT with a mailbox refusal and a
 * hang-up (as an Exim {@code drop} on {@code $rcpt_fail_count} would), whatever the address: that
 * reply is about the session, so no known address may be Rejected and no unknown one Accepted, also
 * where the refusal is the last reply of its exchange (the known-good control asked after it shows
 * the hang-up).
 */
class HangUpAfterLastRefusalTest {
  /** The verifier's deadline ({@link ControlAfterLastRefusalTest#verifier}). */
  private static final Duration DEADLINE = ControlAfterLastRefusalTest.DEADLINE;

  /** Caller {@code caller}'s {@code i}-th address: every second one (by caller and i) good. */
  private static String address(int caller, int i) {
    return ((caller + i) % 2 == 0 ? "good" : "bad") + caller + "x" + i + "@example.com";
  }

  private static ScriptedSmtpServer.Script endsOnFourthRcpt() {
    return endsOnRcpt(4);
  }

  private static ScriptedSmtpServer.Script endsOnRcpt(int last) {
    return connection -> {
      int rcpts = 0;
      connection.write("220 fake.test ESMTP\r\n");
      String line;
      while ((line = connection.readLine()) != null) {
        String upper = line.toUpperCase();
        if (upper.startsWith("EHLO")) {
          connection.write("250-fake.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n");
        } else if (upper.startsWith("MAIL") || upper.startsWith("RSET")) {
          connection.write("250 2.0.0 Ok\r\n");
        } else if (upper.startsWith("RCPT TO:")) {
          String address = line.substring(line.indexOf('<') + 1, line.lastIndexOf('>'));
          if (++rcpts == last) {
            connection.write("550 5.1.1 <" + address + ">: User unknown\r\n");
            return; // hang up
          }
          connection.write(
              address.startsWith("good")
                  ? "250 2.1.5 Ok\r\n"
                  : "550 5.1.1 <" + address + ">: User unknown\r\n");
        } else if (upper.startsWith("QUIT")) {
          connection.write("221 2.0.0 Bye\r\n");
          return;
        } else {
          connection.write("502 5.5.2 Error\r\n");
        }
      }
    };
  }

  @Test
  void aRefusalFollowedByAHangUpIsNeverTakenForTheMailbox() throws Exception {
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(endsOnFourthRcpt());
        RecipientVerifier verifier = ControlAfterLastRefusalTest.verifier(server)) {
      assertThat(verifier.verify("good0@example.com")).isInstanceOf(Verdict.Accepted.class);
      List<Verdict> verdicts =
          ConcurrentCallers.verify(verifier, 16, 6, n -> address(n / 6, n % 6));
      List<String> wrong = new ArrayList<>();
      for (int n = 0; n < verdicts.size(); n++) {
        int caller = n / 6;
        int i = n % 6;
        boolean good = (caller + i) % 2 == 0;
        Verdict verdict = verdicts.get(n);
        if (good && verdict instanceof Verdict.Rejected
            || !good && verdict instanceof Verdict.Accepted
            || verdict.latency().compareTo(DEADLINE.plusMillis(50)) > 0) {
          wrong.add(address(caller, i) + " -> " + verdict + " in " + verdict.latency());
        }
        if (verdict instanceof Verdict.Unverified) {
          System.out.println("unverified: " + address(caller, i) + " -> " + verdict);
        }
      }
      assertThat(wrong).isEmpty();
    }
  }

  /**
   * The same without concurrency, deterministic: the session's 2nd RCPT (one address per exchange)
   * is answered 550 5.1.1 and the server hangs up. The hang-up comes after the exchange's last
   * reply, so BackendSession.answers does not see it (hungUp is "fewer replies than asked"); an
   * address accepted earlier in the transaction must not make the refusal count.
   */
  @Test
  void aRefusalThatIsTheExchangesLastReplyFollowedByAHangUpIsNotTakenForTheMailbox()
      throws Exception {
    try (ScriptedSmtpServer server = ScriptedSmtpServer.start(endsOnRcpt(2));
        RecipientVerifier verifier = ControlAfterLastRefusalTest.verifier(server)) {
      assertThat(verifier.verify("good0@example.com")).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify("good1@example.com")).isNotInstanceOf(Verdict.Rejected.class);
    }
  }
}
