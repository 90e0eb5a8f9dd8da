package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.EdgeClient;
import io.github.rcptproxy.testing.EsmtpBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.TestTls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * STARTTLS for clients with a certificate and key from PEM files made here by {@code openssl}: mail
 * goes through encrypted, the backend's copy says so in its {@code Received:} header, {@code
 * --require-tls} refuses MAIL in the clear, and a renewed certificate is used without a restart.
 */
@RealServers
class GatewayTlsTest {
  @TempDir Path dir;
  private Path cert;
  private Path key;

  @BeforeEach
  void certificate() throws Exception {
    cert = dir.resolve("cert.pem");
    key = dir.resolve("key.pem");
    makeCertificate("mx.example.com");
  }

  @Test
  void clientSendsMailThroughStarttlsAndTheBackendsCopyNamesTls() throws Exception {
    try (ScriptedSmtpServer backend = EsmtpBackend.wellBehaved().start();
        RunningGateway gateway = tlsGateway(backend);
        EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      client.reply();
      client.send("EHLO client.example.net");
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("530");
      assertThat(client.send("STARTTLS")).startsWith("220");
      SSLSession tls = client.startTls(TestTls.trusting(cert));
      assertThat(tls.getProtocol()).isIn("TLSv1.2", "TLSv1.3");
      client.send("EHLO client.example.net");
      assertThat(client.send("MAIL FROM:<you@example.net>")).startsWith("250");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      client.send("DATA");
      assertThat(client.send("Subject: tls\r\n\r\nhello\r\n.")).startsWith("250");

      assertThat(backend.received())
          .contains("Received: from client.example.net ([127.0.0.2])\r\n")
          .contains(
              "\t(using " + tls.getProtocol() + " with cipher " + tls.getCipherSuite() + ")\r\n")
          .contains(" with ESMTPS id ");
      System.out.printf(
          "| STARTTLS (%s, %s) | `250` | `Received: ... (using %s with cipher %s) ... with"
              + " ESMTPS` |%n",
          tls.getProtocol(), tls.getCipherSuite(), tls.getProtocol(), tls.getCipherSuite());
    }
  }

  /**
   * RFC 3207 §4.2: once TLS is active, EHLO must not offer STARTTLS again; a second STARTTLS is
   * refused and leaves the client's new EHLO in force (its MAIL parameters, {@code with ESMTPS}).
   */
  @Test
  void afterStarttlsEhloNoLongerOffersItAndASecondOneForgetsNothing() throws Exception {
    try (ScriptedSmtpServer backend = EsmtpBackend.wellBehaved().start();
        RunningGateway gateway = tlsGateway(backend);
        EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      client.reply();
      assertThat(client.sendForAllLines("EHLO client.example.net")).contains("250-STARTTLS");
      assertThat(client.send("STARTTLS")).startsWith("220");
      client.startTls(TestTls.trusting(cert));
      String ehlo = client.sendForAllLines("EHLO client.example.net");
      assertThat(ehlo).startsWith("250-").doesNotContain("STARTTLS");
      String again = client.send("STARTTLS");
      assertThat(again).startsWith("454");
      assertThat(client.send("MAIL FROM:<you@example.net> BODY=8BITMIME")).startsWith("250");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      client.send("DATA");
      assertThat(client.send("Subject: tls\r\n\r\nhello\r\n.")).startsWith("250");
      assertThat(backend.received())
          .contains("MAIL FROM:<you@example.net> BODY=8BITMIME\r\n")
          .contains(" with ESMTPS id ");
      System.out.printf(
          "| EHLO after STARTTLS, then STARTTLS again | no `STARTTLS` in the EHLO reply, then"
              + " `%s` | the EHLO holds: `BODY=8BITMIME`, `with ESMTPS` |%n",
          again);
    }
  }

  @Test
  void renewedCertificateIsUsedWithoutARestart() throws Exception {
    try (ScriptedSmtpServer backend = EsmtpBackend.wellBehaved().start();
        RunningGateway gateway = tlsGateway(backend)) {
      assertThat(presentedName(gateway)).contains("CN=mx.example.com");
      makeCertificate("renewed.example.com");
      FileTime later = FileTime.fromMillis(System.currentTimeMillis() + 2000);
      Files.setLastModifiedTime(cert, later);
      Files.setLastModifiedTime(key, later);
      await()
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptions() // the old certificate is not trusted any more: a failed handshake
          .until(() -> presentedName(gateway).contains("CN=renewed.example.com"));
    }
  }

  private RunningGateway tlsGateway(ScriptedSmtpServer backend) {
    return TestGateway.start(
        backend.port(), "example.com", s -> s.tls(new GatewaySettings.Tls(cert, key, true)));
  }

  /** The subject of the certificate the gateway presents now, trusting whatever it is. */
  private String presentedName(RunningGateway gateway) throws Exception {
    try (EdgeClient client = EdgeClient.connect("127.0.0.2", gateway.port())) {
      client.reply();
      client.send("EHLO client.example.net");
      client.send("STARTTLS");
      SSLSession tls = client.startTls(TestTls.trusting(cert));
      return ((X509Certificate) tls.getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }
  }

  private void makeCertificate(String name) throws Exception {
    TestTls.makeCertificate(cert, key, name);
  }
}
