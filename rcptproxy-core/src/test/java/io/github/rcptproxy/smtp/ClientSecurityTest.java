package io.github.rcptproxy.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.smtp.ClientSecurityException.Failure;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client STARTTLS and AUTH exchange against scripted servers, for the faults a real server does
 * not show: data after the {@code 220}, a {@code 421} to STARTTLS, AUTH without PLAIN or LOGIN.
 */
class ClientSecurityTest {
  private static final String PASSWORD = "s3cret-Pa55";
  private static final Map<String, String> STARTTLS = Map.of("STARTTLS", "");

  private ScriptedSmtpServer server;
  private TestConnection connection;

  @AfterEach
  void close() throws IOException {
    if (connection != null) {
      connection.socket.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private static VerifierConfig.Builder config(BackendTls tls) {
    return VerifierConfig.builder().backend("127.0.0.1", 25).tls(tls);
  }

  /** Connects to a server that greets, answers the EHLO, then plays {@code rest}. */
  private TestConnection connect(ScriptedSmtpServer.Script rest) throws IOException {
    server =
        ScriptedSmtpServer.start(
            c -> {
              c.write("220 fake.test ESMTP\r\n");
              c.readLine(); // EHLO
              c.write("250 fake.test\r\n");
              rest.play(c);
            });
    connection = new TestConnection(new Socket(InetAddress.getLoopbackAddress(), server.port()));
    assertThat(connection.reader.read().code()).isEqualTo(220);
    assertThat(connection.send("EHLO client.test").code()).isEqualTo(250);
    return connection;
  }

  /** Answers each command line with the next reply, then keeps reading. */
  private static ScriptedSmtpServer.Script replies(String... replies) {
    return c -> {
      for (String reply : replies) {
        c.readLine();
        c.write(reply);
      }
      c.readUntilClosed();
    };
  }

  @Test
  void refusesToHandshakeWhenDataFollowsThe220() throws Exception {
    TestConnection c = connect(replies("220 2.0.0 Ready\r\nMAIL FROM:<injected@evil.test>\r\n"));
    ClientSecurity security = new ClientSecurity(config(BackendTls.OPPORTUNISTIC).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", server.port()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> assertThat(e.failure()).isEqualTo(Failure.UNASKED_DATA));
    assertThat(c.handshakes).isZero();
  }

  @Test
  void a421ToStartTlsFailsEvenWhereTlsIsOpportunistic() throws Exception {
    TestConnection c = connect(replies("421 4.3.2 Shutting down\r\n"));
    ClientSecurity security = new ClientSecurity(config(BackendTls.OPPORTUNISTIC).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", server.port()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> {
              assertThat(e.failure()).isEqualTo(Failure.STARTTLS_REFUSED);
              assertThat(e.reply().orElseThrow().code()).isEqualTo(421);
            });
  }

  @Test
  void opportunisticStaysInTheClearWhereStartTlsIsRefusedWith454() throws Exception {
    TestConnection c = connect(replies("454 4.7.0 TLS not available\r\n"));
    ClientSecurity security = new ClientSecurity(config(BackendTls.OPPORTUNISTIC).build());

    assertThat(security.startTls(c, STARTTLS, "localhost", server.port())).isFalse();
    assertThat(c.encrypted()).isFalse();
  }

  @Test
  void requiredFailsWhereStartTlsIsRefusedWith454() throws Exception {
    TestConnection c = connect(replies("454 4.7.0 TLS not available\r\n"));
    ClientSecurity security = new ClientSecurity(config(BackendTls.REQUIRED).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", server.port()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> {
              assertThat(e.failure()).isEqualTo(Failure.STARTTLS_REFUSED);
              assertThat(e.reply().orElseThrow().code()).isEqualTo(454);
            });
  }

  @Test
  void requiredFailsWithoutSendingAnythingWhereStartTlsIsNotOffered() throws Exception {
    TestConnection c = connect(replies());
    ClientSecurity security = new ClientSecurity(config(BackendTls.REQUIRED).build());

    assertThatThrownBy(() -> security.startTls(c, Map.of(), "localhost", server.port()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> assertThat(e.failure()).isEqualTo(Failure.STARTTLS_NOT_OFFERED));
    assertThat(c.sent).isEqualTo(1); // the EHLO only
  }

  @Test
  void opportunisticStaysInTheClearWithoutSendingAnythingWhereStartTlsIsNotOffered()
      throws Exception {
    TestConnection c = connect(replies());
    ClientSecurity security = new ClientSecurity(config(BackendTls.OPPORTUNISTIC).build());

    assertThat(security.startTls(c, Map.of(), "localhost", server.port())).isFalse();
    assertThat(c.sent).isEqualTo(1);
  }

  @Test
  void noneNeverSendsStartTls() throws Exception {
    TestConnection c = connect(replies());
    ClientSecurity security = new ClientSecurity(config(BackendTls.NONE).build());

    assertThat(security.startTls(c, STARTTLS, "localhost", server.port())).isFalse();
    assertThat(c.sent).isEqualTo(1);
  }

  @Test
  void aHandshakeTheServerBreaksOffIsHandshakeFailedWithItsCause() throws Exception {
    TestConnection c =
        connect(
            s -> {
              s.readLine(); // STARTTLS
              s.write("220 2.0.0 Ready\r\n"); // and hangs up instead of answering the ClientHello
            });
    ClientSecurity security = new ClientSecurity(config(BackendTls.OPPORTUNISTIC).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", server.port()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> {
              assertThat(e.failure()).isEqualTo(Failure.HANDSHAKE_FAILED);
              assertThat(e.getCause()).isInstanceOf(IOException.class);
            });
    assertThat(c.handshakes).isEqualTo(1);
  }

  @Test
  void aHandshakeThatOutlastsTheSocketTimeoutIsATimeoutNotAFailure() throws Exception {
    TestConnection c = connect(replies("220 2.0.0 Ready\r\n")); // then silence
    c.handshakeTimeoutMillis = 200;
    ClientSecurity security = new ClientSecurity(config(BackendTls.REQUIRED).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", server.port()))
        .isInstanceOf(SocketTimeoutException.class);
  }

  @Test
  void authOfferedWithoutPlainOrLoginSendsNothing() throws Exception {
    TestConnection c = connect(replies());
    ClientSecurity security = new ClientSecurity(clearAuth().build());

    assertThatThrownBy(() -> security.authenticate(c, Map.of("AUTH", "CRAM-MD5 GSSAPI")))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> {
              assertThat(e.failure()).isEqualTo(Failure.AUTH_NOT_OFFERED);
              assertThat(e.getMessage()).contains("CRAM-MD5");
            });
    assertThat(c.sent).isEqualTo(1);
  }

  @Test
  void noPasswordGoesOverAConnectionInTheClearUnlessAllowed() throws Exception {
    TestConnection c = connect(replies());
    ClientSecurity security =
        new ClientSecurity(config(BackendTls.REQUIRED).auth("probe", PASSWORD).build());

    assertThatThrownBy(() -> security.authenticate(c, Map.of("AUTH", "PLAIN LOGIN")))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> assertThat(e.failure()).isEqualTo(Failure.NOT_ENCRYPTED));
    assertThat(c.sent).isEqualTo(1);
  }

  @Test
  void authPlainSendsTheCredentialsInOneLine() throws Exception {
    TestConnection c = connect(replies("235 2.7.0 Authentication successful\r\n"));
    ClientSecurity security = new ClientSecurity(clearAuth().build());

    security.authenticate(c, Map.of("AUTH", "login plain"));

    c.socket.close();
    awaitReceived("AUTH PLAIN " + base64("\0probe\0" + PASSWORD) + "\r\n");
  }

  @Test
  void authLoginWherePlainIsNotOffered() throws Exception {
    TestConnection c =
        connect(
            replies(
                "334 VXNlcm5hbWU6\r\n",
                "334 UGFzc3dvcmQ6\r\n",
                "235 2.7.0 Authentication successful\r\n"));
    ClientSecurity security = new ClientSecurity(clearAuth().build());

    security.authenticate(c, Map.of("AUTH", "LOGIN"));

    c.socket.close();
    awaitReceived("AUTH LOGIN\r\n" + base64("probe") + "\r\n" + base64(PASSWORD) + "\r\n");
  }

  @Test
  void refusedAuthCarriesTheReplyAndNeverThePassword() throws Exception {
    TestConnection c = connect(replies("535 5.7.8 Authentication credentials invalid\r\n"));
    ClientSecurity security = new ClientSecurity(clearAuth().build());

    assertThatThrownBy(() -> security.authenticate(c, Map.of("AUTH", "PLAIN")))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> {
              assertThat(e.failure()).isEqualTo(Failure.AUTH_REFUSED);
              assertThat(e.reply().orElseThrow().code()).isEqualTo(535);
              assertThat(e.getMessage() + e)
                  .doesNotContain(PASSWORD)
                  .doesNotContain(base64("\0probe\0" + PASSWORD));
            });
    assertThat(security.toString()).doesNotContain(PASSWORD);
  }

  @Test
  void withoutAuthConfiguredAuthenticateSendsNothing() throws Exception {
    TestConnection c = connect(replies());
    new ClientSecurity(config(BackendTls.NONE).build()).authenticate(c, Map.of("AUTH", "PLAIN"));

    assertThat(c.sent).isEqualTo(1);
  }

  private static VerifierConfig.Builder clearAuth() {
    return config(BackendTls.NONE).auth("probe", PASSWORD).authWithoutTls(true);
  }

  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }

  private void awaitReceived(String text) {
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(server.received()).contains(text));
  }

  /** The connection as a caller implements it: counts commands and handshakes. */
  private static final class TestConnection implements ClientSecurity.Connection {
    final Socket socket;
    final OutputStream out;
    final SmtpReplyReader reader;
    int sent;
    int handshakes;
    int handshakeTimeoutMillis = 5000;

    TestConnection(Socket socket) throws IOException {
      this.socket = socket;
      socket.setSoTimeout(5000);
      this.out = socket.getOutputStream();
      this.reader = new SmtpReplyReader(socket.getInputStream());
    }

    @Override
    public SmtpReply send(String line) throws IOException {
      sent++;
      out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      return reader.read();
    }

    @Override
    public boolean unaskedInput() {
      return reader.hasBufferedInput();
    }

    @Override
    public Socket handshakeSocket() throws IOException {
      handshakes++;
      socket.setSoTimeout(handshakeTimeoutMillis);
      return socket;
    }

    @Override
    public void useTls(SSLSocket tls) {
      throw new AssertionError("no handshake here completes");
    }

    @Override
    public boolean encrypted() {
      return false;
    }
  }
}
