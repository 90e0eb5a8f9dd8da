package io.github.rcptproxy.internal.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurityException.Failure;
import io.github.rcptproxy.testing.MutableClock;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.StderrCapture;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
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
  private final List<TestConnection> connections = new ArrayList<>();

  @AfterEach
  void close() throws IOException {
    for (TestConnection connection : connections) {
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
    return connectAgain();
  }

  /** Another connection to the same server, greeted. */
  private TestConnection connectAgain() throws IOException {
    TestConnection connection =
        new TestConnection(new Socket(InetAddress.getLoopbackAddress(), server.port()));
    connections.add(connection);
    assertThat(connection.reader.read().code()).isEqualTo(220);
    assertThat(connection.send("EHLO client.test").code()).isEqualTo(250);
    return connection;
  }

  private InetSocketAddress address() {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port());
  }

  /** The server says 220 to STARTTLS and hangs up instead of answering the ClientHello. */
  private static final ScriptedSmtpServer.Script BREAKS_HANDSHAKE =
      s -> {
        s.readLine(); // STARTTLS
        s.write("220 2.0.0 Ready\r\n");
      };

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

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", address()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> assertThat(e.failure()).isEqualTo(Failure.UNASKED_DATA));
    assertThat(c.handshakes).isZero();
  }

  @Test
  void a421ToStartTlsFailsEvenWhereTlsIsOpportunistic() throws Exception {
    TestConnection c = connect(replies("421 4.3.2 Shutting down\r\n"));
    ClientSecurity security = new ClientSecurity(config(BackendTls.OPPORTUNISTIC).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", address()))
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

    assertThat(security.startTls(c, STARTTLS, "localhost", address())).isFalse();
    assertThat(c.encrypted()).isFalse();
  }

  @Test
  void requiredFailsWhereStartTlsIsRefusedWith454() throws Exception {
    TestConnection c = connect(replies("454 4.7.0 TLS not available\r\n"));
    ClientSecurity security = new ClientSecurity(config(BackendTls.REQUIRED).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", address()))
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

    assertThatThrownBy(() -> security.startTls(c, Map.of(), "localhost", address()))
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

    assertThat(security.startTls(c, Map.of(), "localhost", address())).isFalse();
    assertThat(c.sent).isEqualTo(1);
  }

  @Test
  void noneNeverSendsStartTls() throws Exception {
    TestConnection c = connect(replies());
    ClientSecurity security = new ClientSecurity(config(BackendTls.NONE).build());

    assertThat(security.startTls(c, STARTTLS, "localhost", address())).isFalse();
    assertThat(c.sent).isEqualTo(1);
  }

  @Test
  void aHandshakeTheServerBreaksOffIsHandshakeFailedWithItsCause() throws Exception {
    TestConnection c = connect(BREAKS_HANDSHAKE);
    ClientSecurity security = new ClientSecurity(config(BackendTls.OPPORTUNISTIC).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", address()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> {
              assertThat(e.failure()).isEqualTo(Failure.HANDSHAKE_FAILED);
              assertThat(e.getCause()).isInstanceOf(IOException.class);
              assertThat(e.retryInClear()).isTrue();
            });
    assertThat(c.handshakes).isEqualTo(1);
  }

  @Test
  void afterAFailedOpportunisticHandshakeTheAddressGetsNoStartTlsForTheCoolDown() throws Exception {
    MutableClock clock = new MutableClock();
    ClientSecurity security =
        new ClientSecurity(
            config(BackendTls.OPPORTUNISTIC)
                .clock(clock)
                .backendCoolDown(Duration.ofSeconds(30))
                .build());
    TestConnection first = connect(BREAKS_HANDSHAKE);
    assertThatThrownBy(() -> security.startTls(first, STARTTLS, "localhost", address()))
        .isInstanceOf(ClientSecurityException.class);

    clock.advance(Duration.ofSeconds(29));
    TestConnection clear = connectAgain();
    assertThat(security.startTls(clear, STARTTLS, "localhost", address())).isFalse();
    assertThat(clear.sent).isEqualTo(1); // the EHLO only: no STARTTLS

    // Remembered per address: another one (here the same server under another name) is tried.
    TestConnection other = connectAgain();
    InetSocketAddress otherAddress =
        new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port() + 1);
    assertThatThrownBy(() -> security.startTls(other, STARTTLS, "localhost", otherAddress))
        .isInstanceOf(ClientSecurityException.class);
    assertThat(other.handshakes).isEqualTo(1);
  }

  @Test
  void afterTheCoolDownStartTlsIsTriedAgainAndABrokenTlsIsWarnedOnce() throws Exception {
    MutableClock clock = new MutableClock();
    ClientSecurity security =
        new ClientSecurity(
            config(BackendTls.OPPORTUNISTIC)
                .clock(clock)
                .backendCoolDown(Duration.ofSeconds(30))
                .build());
    try (StderrCapture log = new StderrCapture()) {
      TestConnection first = connect(BREAKS_HANDSHAKE);
      assertThatThrownBy(() -> security.startTls(first, STARTTLS, "localhost", address()))
          .isInstanceOf(ClientSecurityException.class);
      clock.advance(Duration.ofSeconds(31));
      TestConnection again = connectAgain();
      assertThatThrownBy(() -> security.startTls(again, STARTTLS, "localhost", address()))
          .isInstanceOfSatisfying(
              ClientSecurityException.class, e -> assertThat(e.retryInClear()).isTrue());

      assertThat(again.handshakes).isEqualTo(1);
      assertThat(log.lines("so " + address() + " is spoken to in the clear")).isEqualTo(1);
    }
  }

  @Test
  void requiredNeverRetriesInTheClearAndKeepsTryingTls() throws Exception {
    ClientSecurity security = new ClientSecurity(config(BackendTls.REQUIRED).build());
    TestConnection first = connect(BREAKS_HANDSHAKE);
    assertThatThrownBy(() -> security.startTls(first, STARTTLS, "localhost", address()))
        .isInstanceOfSatisfying(
            ClientSecurityException.class,
            e -> {
              assertThat(e.failure()).isEqualTo(Failure.HANDSHAKE_FAILED);
              assertThat(e.retryInClear()).isFalse();
            });

    TestConnection again = connectAgain();
    assertThatThrownBy(() -> security.startTls(again, STARTTLS, "localhost", address()))
        .isInstanceOf(ClientSecurityException.class);
    assertThat(again.handshakes).isEqualTo(1);
  }

  @Test
  void aHandshakeThatOutlastsTheSocketTimeoutIsATimeoutNotAFailure() throws Exception {
    TestConnection c = connect(replies("220 2.0.0 Ready\r\n")); // then silence
    c.handshakeTimeoutMillis = 200;
    ClientSecurity security = new ClientSecurity(config(BackendTls.REQUIRED).build());

    assertThatThrownBy(() -> security.startTls(c, STARTTLS, "localhost", address()))
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
