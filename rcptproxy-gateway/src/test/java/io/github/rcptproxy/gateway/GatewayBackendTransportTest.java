package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.testing.AuthenticatingPostfix;
import io.github.rcptproxy.testing.DovecotBackend;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import io.github.rcptproxy.testing.TestCertificates;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gateway's backend options, verification and relay both: a real Postfix that talks only over
 * TLS and only to clients that authenticated (checked by a real Dovecot), and a real Dovecot LMTP.
 */
@RealServers
class GatewayBackendTransportTest {
  private static TestCertificates certificates;
  private static AuthenticatingPostfix backends;
  private static DovecotBackend dovecot;
  private static PostfixBackend postfix;

  private final List<AutoCloseable> resources = new ArrayList<>();

  @BeforeAll
  static void startBackends() {
    certificates = TestCertificates.shared();
    backends = AuthenticatingPostfix.start("encrypt");
    dovecot = backends.dovecot();
    postfix = backends.postfix();
  }

  @AfterAll
  static void stopBackends() {
    if (backends != null) {
      backends.close();
    }
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable resource : resources) {
      resource.close();
    }
  }

  private RunningGateway gateway(int backendPort) {
    return gateway(backendPort, settings -> {});
  }

  private RunningGateway gateway(int backendPort, Consumer<GatewaySettings.Builder> extra) {
    RunningGateway gateway = TestGateway.start(backendPort, PostfixBackend.DOMAIN, extra);
    resources.add(0, gateway);
    return gateway;
  }

  private static SmtpClient client(int port) throws Exception {
    SmtpClient client = new SmtpClient("127.0.0.1", port);
    assertThat(client.readReply()).startsWith("220");
    assertThat(client.send("EHLO client.test")).startsWith("250");
    return client;
  }

  @Test
  void verifiesAndRelaysOverVerifiedTlsWithAuth() throws Exception {
    RunningGateway gateway =
        TestGateway.start(
            postfix.port(),
            PostfixBackend.DOMAIN,
            s ->
                s.verifier(
                    v ->
                        v.backend("localhost", postfix.port()) // the name in the certificate
                            .tls(BackendTls.VERIFY)
                            .trustPem(certificates.caPem())
                            .auth(DovecotBackend.user(1), DovecotBackend.PASSWORD)
                            .knownGood(PostfixBackend.known(0))));
    try (gateway) {
      try (SmtpClient client = client(gateway.port())) {
        assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
        assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(1) + ">")).startsWith("550");
      }
      for (int n = 1; n <= 2; n++) {
        try (SmtpClient client = client(gateway.port())) {
          assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
          assertThat(client.send("RCPT TO:<" + PostfixBackend.known(n) + ">")).startsWith("250");
          assertThat(client.send("DATA")).startsWith("354");
          assertThat(client.send("Subject: over TLS\r\n\r\nhello\r\n.")).startsWith("250");
        }
      }
    } // the relay's connection ends with the gateway: Postfix then logs what it was asked
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(postfix.log())
                    .contains("to=<" + PostfixBackend.known(1) + ">", "status=sent")
                    .contains("to=<" + PostfixBackend.known(2) + ">")
                    // both messages over one connection: STARTTLS and AUTH once
                    .contains("starttls=1 auth=1 mail=2 rcpt=2 data=2"));
    assertThat(gateway.verifier().stats().unverified().values()).allMatch(n -> n == 0);
  }

  @Test
  void withoutTlsTheEncryptOnlyBackendTempfailsAndIsNeverABounce() throws Exception {
    RunningGateway gateway = gateway(postfix.port());
    try (SmtpClient client = client(gateway.port())) {
      assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
      // Unverified (530 5.7.0 Must issue a STARTTLS command first), and the relay cannot ask
      // the backend either: the client keeps the message.
      assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(2) + ">"))
          .isEqualTo("451 4.4.1 Mail system unavailable, try again later");
    }
  }

  @Test
  void requiredTlsNeverSendsTheMessageInTheClear() throws Exception {
    try (ScriptedSmtpServer backend =
        ScriptedSmtpServer.start(ScriptedSmtpServer.dialogue(address -> "250 2.1.5 Ok\r\n"))) {
      RunningGateway gateway =
          gateway(backend.port(), s -> s.verifier(v -> v.tls(BackendTls.REQUIRED)));
      try (SmtpClient client = client(gateway.port())) {
        assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
        assertThat(client.send("RCPT TO:<" + PostfixBackend.known(3) + ">"))
            .isEqualTo("451 4.4.1 Mail system unavailable, try again later");
      }
      assertThat(backend.received()).contains("EHLO").doesNotContain("MAIL", "RCPT", "hello");
    }
  }

  @Test
  void lmtpTakesOneRecipientPerMessageAndEachGetsItsOwnAnswer() throws Exception {
    RunningGateway gateway =
        gateway(
            dovecot.lmtpPort(),
            TestGateway.noDisconnect().andThen(TestGateway.lmtpKnowing(DovecotBackend.user(1))));
    String alice = DovecotBackend.user(2);
    try (SmtpClient client = client(gateway.port())) {
      // The client sends one message to two recipients; the second one's quota is full.
      assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@" + DovecotBackend.DOMAIN + ">"))
          .startsWith("550"); // verified over LMTP
      assertThat(client.send("RCPT TO:<" + alice + ">")).startsWith("250");
      assertThat(client.send("RCPT TO:<" + DovecotBackend.FULL + ">"))
          .isEqualTo(
              "452 4.5.3 One recipient per message here, send the others in another transaction");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: two recipients\r\n\r\nhello\r\n.")).startsWith("250");
      // ... and sends the other recipient its own copy, as RFC 5321 asks after a 452.
      assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
      assertThat(client.send("RCPT TO:<" + DovecotBackend.FULL + ">")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: two recipients\r\n\r\nhello\r\n."))
          .isEqualTo("552 5.2.2 Message rejected"); // the client bounces exactly this recipient
    }
    assertThat(dovecot.delivered(alice))
        .singleElement()
        .satisfies(message -> assertThat(message).contains("Subject: two recipients"));
    assertThat(dovecot.delivered(DovecotBackend.FULL)).isEmpty();
    assertThat(dovecot.log()).contains("Quota exceeded");
  }
}
