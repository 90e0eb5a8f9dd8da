package io.github.rcptproxy.subethasmtp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.OpenSmtpdBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import io.github.rcptproxy.testing.VerdictTally;
import java.io.IOException;
import java.time.Duration;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * A SubEthaSMTP front wrapped by the adapter, in front of the real backends that made the first
 * version refuse real mailboxes, driven by an SMTP client from a non-bypassed address: 2,000
 * recipients at 50 % unknown each, never a real mailbox refused.
 */
@RealServers
class RealBackendsAdapterTest {
  private static final int RECIPIENTS = 2_000;
  private static final int PER_TRANSACTION = 50;

  /** Each recipient's reply code at the front, tallied as the verdict it stands for. */
  private static VerdictTally drive(
      String label, int backendPort, IntFunction<String> known, IntFunction<String> unknown)
      throws IOException {
    VerdictTally tally = new VerdictTally();
    RecordingHandlerFactory user = new RecordingHandlerFactory();
    try (RecipientVerifier verifier =
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", backendPort)
                    .deadline(Duration.ofSeconds(3))
                    .build());
        FrontServer front =
            new FrontServer(
                RecipientVerifyingHandlerFactory.wrap(
                    user,
                    verifier,
                    RecipientPolicy.builder()
                        .bypass()
                        .bypassBackend(false)
                        .disconnectAfterRejections(0)
                        .build()));
        SmtpClient client = front.client()) {
      for (int i = 0; i < RECIPIENTS; i++) {
        if (i % PER_TRANSACTION == 0) {
          if (i > 0) {
            assertThat(client.send("RSET")).startsWith("250");
          }
          assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
        }
        boolean real = VerdictTally.isKnown(i);
        String reply =
            client.send("RCPT TO:<" + (real ? known.apply(i / 2 % 1000) : unknown.apply(i)) + ">");
        tally.add(
            real,
            reply.startsWith("250")
                ? "ACCEPTED"
                : reply.startsWith("550") ? "REJECTED" : reply.substring(0, 3));
      }
    }
    System.out.printf("adapter, %s: %s%n", label, tally);
    return tally;
  }

  private static void allCorrect(VerdictTally tally) {
    assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
    assertThat(tally.knownAccepted()).as(tally.toString()).isEqualTo(RECIPIENTS / 2);
    assertThat(tally.unknownRejected()).as(tally.toString()).isEqualTo(RECIPIENTS / 2);
  }

  @Test
  void eximWithEveryRule() throws IOException {
    try (EximBackend exim = EximBackend.start(EximBackend.Options.everyRule().build())) {
      allCorrect(
          drive(
              "Exim (sender verify, ratio rule, VRFY limit, 2 s idle)",
              exim.port(),
              EximBackend::known,
              EximBackend::unknown));
    }
  }

  @Test
  void openSmtpd() throws IOException {
    try (OpenSmtpdBackend smtpd = OpenSmtpdBackend.start()) {
      allCorrect(
          drive("OpenSMTPD", smtpd.port(), OpenSmtpdBackend::known, OpenSmtpdBackend::unknown));
    }
  }

  @Test
  void postfixRefusingNonFqdnSenders() throws IOException {
    try (PostfixBackend postfix = PostfixBackend.start(PostfixBackend.REJECT_NON_FQDN_SENDER)) {
      allCorrect(
          drive(
              "Postfix reject_non_fqdn_sender",
              postfix.port(),
              PostfixBackend::known,
              PostfixBackend::unknown));
    }
  }

  @Test
  void postfixRefusingThisClientRefusesNoRealMailbox() throws IOException {
    try (PostfixBackend postfix = PostfixBackend.start(PostfixBackend.CLIENT_REJECTED)) {
      VerdictTally tally =
          drive(
              "Postfix refusing this client",
              postfix.port(),
              PostfixBackend::known,
              PostfixBackend::unknown);
      // The backend refuses to tell, and has accepted no address to compare with: every recipient
      // is unverified, deferred (451), never accepted as if it were known, never refused.
      assertThat(tally.wrongRejections()).isZero();
      assertThat(tally.unknownAccepted()).isZero();
      assertThat(tally.other())
          .containsEntry("known 451", RECIPIENTS / 2)
          .containsEntry("unknown 451", RECIPIENTS / 2);
    }
  }

  @Test
  void postfixWithDefaults() throws IOException {
    PostfixBackend postfix = PostfixBackend.shared();
    allCorrect(
        drive("Postfix defaults", postfix.port(), PostfixBackend::known, PostfixBackend::unknown));
  }
}
