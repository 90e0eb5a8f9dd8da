package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * A backend that greets after the verification's deadline (a greeting delay, a busy server): the
 * verification is answered unverified in time, the greeting is waited for outside it, and the
 * connection it greeted is the session the next verifications use.
 */
class LateGreetingTest {
  @AutoClose private final Closer closer = new Closer();

  @Test
  void aConnectionGreetedAfterTheDeadlineIsTheNextSession() throws Exception {
    CountDownLatch greet = new CountDownLatch(1);
    ScriptedSmtpServer.Script dialogue =
        ScriptedSmtpServer.dialogue(
            rcpt -> rcpt.startsWith("user") ? "250 2.1.5 Ok\r\n" : "550 5.1.1 No such user\r\n");
    ScriptedSmtpServer backend =
        closer.later(
            ScriptedSmtpServer.start(
                connection -> {
                  greet.await(); // every connection, until the test lets the greeting go
                  dialogue.play(connection);
                }));
    RecipientVerifier verifier =
        closer.leakFree(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", backend.port())
                    .deadline(Duration.ofMillis(300))
                    .build()));

    Verdict first = verifier.verify("user1@example.test");
    assertThat(first)
        .isInstanceOfSatisfying(
            Verdict.Unverified.class,
            u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.TIMEOUT));
    greet.countDown();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> verifier.verify("user2@example.test") instanceof Verdict.Accepted);
    for (int i = 0; i < 5; i++) { // fewer rejections than a session takes before it is replaced
      assertThat(verifier.verify("user" + i + "@example.test"))
          .isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify("nobody" + i + "@example.test"))
          .isInstanceOf(Verdict.Rejected.class);
    }
    assertThat(backend.connections()).isEqualTo(1);
  }
}
