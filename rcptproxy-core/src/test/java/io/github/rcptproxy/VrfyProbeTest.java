package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * VRFY is used only where the backend proved it answers honestly in both directions (a random local
 * part refused, a known-good address taken right after); elsewhere, and for any answer that does
 * not say (a {@code 252} where a random local part is not refused right after it), RCPT is.
 */
class VrfyProbeTest {
  private static final Set<String> MAILBOXES = Set.of("alice@example.com");

  private ScriptedSmtpServer server;
  private RecipientVerifier verifier;

  @AfterEach
  void stop() throws IOException {
    verifier.close();
    server.close();
  }

  /** A backend whose VRFY answer for a mailbox comes from {@code vrfy}; RCPT is honest. */
  private void start(VrfyAnswer vrfy, int maxVrfyPerSession) {
    server =
        ScriptedSmtpServer.start(
            connection -> {
              connection.write("220 vrfy.test\r\n");
              String line;
              while ((line = connection.readLine()) != null) {
                String address =
                    line.contains("<")
                        ? line.substring(line.indexOf('<') + 1, line.lastIndexOf('>'))
                        : "";
                if (line.startsWith("EHLO")) {
                  connection.write("250-vrfy.test\r\n250-PIPELINING\r\n250 VRFY\r\n");
                } else if (line.startsWith("VRFY")) {
                  connection.write(vrfy.answer(address, MAILBOXES.contains(address)));
                } else if (line.startsWith("RCPT")) {
                  connection.write(
                      MAILBOXES.contains(address) ? "250 2.1.5 Ok\r\n" : "550 5.1.1 unknown\r\n");
                } else {
                  connection.write("250 Ok\r\n");
                }
              }
            });
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", server.port())
                .probeMethod(ProbeMethod.VRFY)
                .maxVrfyPerSession(maxVrfyPerSession)
                .knownGood("alice@example.com")
                .build());
  }

  interface VrfyAnswer {
    String answer(String address, boolean exists);
  }

  @Test
  void honestVrfyIsUsedWithoutOpeningATransaction() {
    start(
        (address, exists) -> exists ? "250 2.1.5 <" + address + ">\r\n" : "550 5.1.1 unknown\r\n",
        90);

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);

    assertThat(server.received())
        .contains("VRFY <rcptproxy-")
        .doesNotContain("MAIL FROM")
        .doesNotContain("RCPT");
    assertThat(verifier.stats().transactionsOpened()).isZero();
  }

  @Test
  void backendThatAnswers252ToAnythingIsAskedWithRcptInstead() {
    start((address, exists) -> "252 2.0.0 Cannot VRFY user, but will accept message\r\n", 90);

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);

    assertThat(server.count("VRFY")).isEqualTo(1); // the random probe only
    // alice, nobody, and alice again as the control after the exchange's last refusal
    assertThat(server.count("RCPT TO")).isEqualTo(3);
  }

  @Test
  void vrfyAnswered252IsTakenOnlyWhereARandomLocalPartIsRefusedRightAfterIt() {
    // Postfix: 252 for an address it would take, 550 5.1.1 for an unknown one.
    start(
        (address, exists) -> exists ? "252 2.0.0 " + address + "\r\n" : "550 5.1.1 unknown\r\n",
        90);

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);

    // the random probe and the known-good address, alice and a random one, nobody
    assertThat(server.count("VRFY")).isEqualTo(5);
    assertThat(server.count("RCPT TO")).isZero();
  }

  @Test
  void vrfyThatAnswers252PastARateLimitNeverAcceptsAnUnknownAddress() {
    // Exim: acl_smtp_vrfy with a ratelimit, past it 252 Administrative prohibition.
    java.util.concurrent.atomic.AtomicInteger vrfys =
        new java.util.concurrent.atomic.AtomicInteger();
    start(
        (address, exists) ->
            vrfys.incrementAndGet() > 4
                ? "252 Administrative prohibition\r\n"
                : exists ? "250 <" + address + "> is deliverable\r\n" : "550 Unknown user\r\n",
        90);

    int unknownAccepted = 0;
    for (int i = 0; i < 20; i++) {
      Verdict known = verifier.verify("alice@example.com");
      assertThat(known).isInstanceOf(Verdict.Accepted.class);
      unknownAccepted +=
          verifier.verify("nobody" + i + "@example.com") instanceof Verdict.Rejected ? 0 : 1;
    }

    assertThat(unknownAccepted).isZero();
    assertThat(server.count("VRFY")).isLessThanOrEqualTo(8); // RCPT once past the limit
    assertThat(server.count("RCPT TO:<nobody")).isGreaterThanOrEqualTo(18);
  }

  @Test
  void aSessionLimitRefusalOfTheRandomLocalPartDoesNotConfirmA252() {
    // Exim past a VRFY rate limit (252 to all), the random VRFY the one past
    // smtp_accept_max_nonmail: 554 about the session, not about the random mailbox.
    start(
        (address, exists) ->
            address.startsWith("rcptproxy-")
                ? "554 Too many nonmail commands\r\n"
                : "252 Administrative prohibition\r\n",
        90);

    for (int i = 0; i < 5; i++) {
      assertThat(verifier.verify("nobody" + i + "@example.com"))
          .isInstanceOf(Verdict.Rejected.class); // asked with RCPT, not taken from the 252
    }
  }

  @Test
  void backendThatRefusesVrfyIsAskedWithRcptInstead() {
    start((address, exists) -> "502 5.5.1 VRFY command is disabled\r\n", 90);

    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
    assertThat(verifier.verify("alice@other.example")).isInstanceOf(Verdict.Rejected.class);

    assertThat(server.count("VRFY")).isEqualTo(1);
  }

  @Test
  void vrfySessionIsRecycledAfterConfiguredNumberOfCommands() {
    start((address, exists) -> exists ? "250 2.1.5 Ok\r\n" : "550 5.1.1 unknown\r\n", 5);

    for (int i = 0; i < 7; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }

    // the random probe, the known-good address and 3 VRFYs on the first session, 4 more on the
    // second
    assertThat(server.connections()).isEqualTo(2);
  }
}
