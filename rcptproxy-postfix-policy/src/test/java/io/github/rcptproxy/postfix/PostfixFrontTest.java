package io.github.rcptproxy.postfix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.policy.FailureMode;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real Postfix front with {@code check_policy_service} pointing at the policy server, which
 * verifies against a real Postfix backend; SMTP clients talk to the front.
 */
@RealServers
class PostfixFrontTest {
  static PostfixBackend backend;
  static PostfixBackend front;
  static RecipientVerifier verifier;
  static RecipientVerifier down;
  static PolicyServer server;
  static int policyPort;

  @BeforeAll
  static void start() throws IOException {
    backend = PostfixBackend.shared();
    verifier = verifier(backend);
    down =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", closedPort())
                .deadline(Duration.ofMillis(500))
                .build());
    server = startServer(0);
    policyPort = ((InetSocketAddress) server.address()).getPort();
    front =
        PostfixBackend.start(
            List.of(
                "myhostname = front.example.test",
                "virtual_mailbox_domains =",
                "relay_domains = example.test, down-tempfail.example.test,"
                    + " down-accept.example.test",
                "relayhost = [127.0.0.1]:" + backend.port(),
                "smtpd_recipient_restrictions = reject_unauth_destination,"
                    + " check_policy_service inet:127.0.0.1:"
                    + policyPort));
  }

  /** A verifier asking {@code backend}, as the fronts' policy servers use. */
  static RecipientVerifier verifier(PostfixBackend backend) {
    return RecipientVerifier.create(
        VerifierConfig.builder()
            .backend("127.0.0.1", backend.port())
            .heloName("policy.example.test")
            .knownGood(PostfixBackend.known(0))
            .build());
  }

  static PolicyServer startServer(int port) throws IOException {
    return PolicyServer.builder()
        .listen(new InetSocketAddress("127.0.0.1", port))
        .route(
            "example.test",
            verifier,
            PolicyAnswers.builder().rejectMessage("No such mailbox here: @").build())
        .route(
            "down-tempfail.example.test",
            down,
            PolicyAnswers.builder().onUnverified(FailureMode.TEMPFAIL).build())
        .route("down-accept.example.test", down, PolicyAnswers.defaults())
        .start();
  }

  @AfterAll
  static void stop() {
    if (front != null) {
      front.close();
    }
    if (server != null) {
      server.close();
    }
    if (verifier != null) {
      verifier.close();
      down.close();
    }
  }

  static int closedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** A client session on the front, up to MAIL FROM. */
  static SmtpClient session() throws IOException {
    SmtpClient client = new SmtpClient("127.0.0.1", front.port());
    assertThat(client.readReply()).startsWith("220");
    assertThat(client.send("EHLO client.example.net")).startsWith("250");
    assertThat(client.send("MAIL FROM:<someone@client.example.net>")).startsWith("250");
    return client;
  }

  @Test
  void knownRecipientsAreAcceptedAndUnknownOnesRejectedWithTheConfiguredText() throws IOException {
    try (SmtpClient client = session()) {
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(1) + ">")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.test>"))
          .isEqualTo(
              "550 5.1.1 <nobody@example.test>: Recipient address rejected:"
                  + " No such mailbox here: nobody@example.test");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(999) + ">")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody2@example.test>")).startsWith("550 5.1.1");
      // not ours: Postfix's own reject_unauth_destination answers before the policy server
      assertThat(client.send("RCPT TO:<someone@elsewhere.example>")).startsWith("454 4.7.1");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: through the front\r\n\r\nhello\r\n.")).startsWith("250");
    }
  }

  /**
   * Every form Postfix takes for an address is decided on the mailbox Postfix will deliver to: none
   * skips verification (a trailing dot did: {@code DUNNO}, relayed, bounced by the backend).
   * Measured with Postfix 3.7: it passes the trailing dot and the case as written, the local part
   * unquoted, the source route dropped.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "nobody@example.test.",
        "NOBODY@EXAMPLE.TEST.",
        "nobody@Example.Test",
        "\"nobody\"@example.test",
        "\"nobody\"@EXAMPLE.test.",
        "@relay.example:nobody@example.test",
        "@relay.example,@other.example:nobody@example.test."
      })
  void everyFormOfAnUnknownAddressIsRejected(String form) throws IOException {
    try (SmtpClient client = session()) {
      assertThat(client.send("RCPT TO:<" + form + ">")).startsWith("550 5.1.1");
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "user5@example.test.",
        "user5@EXAMPLE.TEST.",
        "\"user5\"@example.test",
        "@relay.example:user5@example.test"
      })
  void everyFormOfAKnownAddressIsAccepted(String form) throws IOException {
    try (SmtpClient client = session()) {
      assertThat(client.send("RCPT TO:<" + form + ">")).startsWith("250");
    }
  }

  /**
   * A local part that needs its quotes ({@code "no body"}) is refused by the policy server as the
   * gateway refuses it, never passed on unverified.
   */
  @Test
  void aLocalPartTheGatewayRefusesIsRefusedHereToo() throws IOException {
    try (SmtpClient client = session()) {
      assertThat(client.send("RCPT TO:<\"no body\"@example.test>")).matches("5\\d\\d .*");
    }
  }

  @Test
  void backendDownGivesTheConfiguredUnverifiedBehaviour() throws IOException {
    try (SmtpClient client = session()) {
      assertThat(client.send("RCPT TO:<user1@down-tempfail.example.test>"))
          .isEqualTo(
              "450 4.4.3 <user1@down-tempfail.example.test>: Recipient address rejected:"
                  + " Recipient verification unavailable, try again later");
      assertThat(client.send("RCPT TO:<user1@down-accept.example.test>")).startsWith("250");
    }
  }

  @Test
  void postfixRecoversWhenThePolicyServerRestarts() throws IOException {
    try (SmtpClient client = session()) {
      assertThat(client.send("RCPT TO:<nobody3@example.test>")).startsWith("550 5.1.1");
    }
    server.close();
    try (SmtpClient client = session()) {
      // Postfix's default for a policy server it cannot reach
      assertThat(client.send("RCPT TO:<nobody3@example.test>"))
          .isEqualTo(
              "451 4.3.5 <nobody3@example.test>: Recipient address rejected:"
                  + " Server configuration problem");
    } finally {
      server = startServer(policyPort);
    }
    long start = System.nanoTime();
    await("Postfix asks the restarted policy server")
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              try (SmtpClient client = session()) {
                return client.send("RCPT TO:<nobody3@example.test>").startsWith("550 5.1.1");
              }
            });
    System.out.printf(
        "Postfix recovered %d ms after the policy server restarted%n",
        (System.nanoTime() - start) / 1_000_000);
    try (SmtpClient client = session()) {
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(3) + ">")).startsWith("250");
    }
  }
}
