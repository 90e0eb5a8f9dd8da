package io.github.rcptproxy.internal.smtp;

import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurityException.Failure;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of {@code STARTTLS} (RFC 3207) and {@code AUTH} (RFC 4954) to the backend, as a
 * {@link VerifierConfig} asks for them: the one place that decides when to encrypt, when to refuse,
 * and what to send. Each caller maps a {@link ClientSecurityException} to its own error.
 *
 * <p>The order on a connection is: greeting, {@code EHLO}, {@link #startTls}, {@code EHLO} again
 * where it returned {@code true}, then {@link #authenticate} with the capabilities of that last
 * {@code EHLO}: {@link SmtpConnection#open} keeps it.
 *
 * <p>This is the SMTP plumbing rcptproxy's own modules share (through {@link SmtpConnection}: the
 * verifier's sessions, the gateway's relay, {@code rcptproxy probe}); it is public for them, not as
 * a general SMTP client API. Immutable, so one instance serves every connection and thread; each
 * {@link Connection} is used by one thread at a time.
 */
public final class ClientSecurity {

  /**
   * What the exchange needs of one connection. Used by one thread at a time; every method may block
   * for at most the connection's own time bound.
   */
  public interface Connection {
    /**
     * Sends one command line (without its CRLF, which this adds) and reads the reply. The line may
     * carry a secret (the Base64 of a password): it must never reach a log or a message.
     *
     * @throws IOException if the connection fails, times out or the reply is malformed
     */
    SmtpReply send(String line) throws IOException;

    /** Whether the server sent bytes after its last reply that no command asked for. */
    boolean unaskedInput() throws IOException;

    /**
     * The TCP socket under the connection, its timeout set to bound the TLS handshake that is about
     * to run over it.
     */
    Socket handshakeSocket() throws IOException;

    /** From now on commands and replies go over {@code tls}, layered over the TCP socket. */
    void useTls(SSLSocket tls) throws IOException;

    /** Whether commands go over TLS. */
    boolean encrypted();
  }

  private static final Logger LOG = LoggerFactory.getLogger(ClientSecurity.class);

  private final ClientTls tls;
  private final Clock clock;
  private final Duration coolDown;

  /** Server address → until when {@code STARTTLS} is not sent to it (OPPORTUNISTIC only). */
  private final ConcurrentHashMap<InetSocketAddress, Instant> tlsBroken = new ConcurrentHashMap<>();

  private final String user;
  private final String password;
  private final boolean authWithoutTls;

  /**
   * STARTTLS and AUTH as the configuration asks: {@link VerifierConfig#tls()}, its trust, {@link
   * VerifierConfig#authUser()}, {@link VerifierConfig#authPassword()} and {@link
   * VerifierConfig#authWithoutTls()}; {@link VerifierConfig#clock()} and {@link
   * VerifierConfig#backendCoolDown()} for how long a failed opportunistic handshake is remembered.
   */
  public ClientSecurity(VerifierConfig config) {
    this.tls = config.tls() == BackendTls.NONE ? null : new ClientTls(config);
    this.clock = config.clock();
    this.coolDown = config.backendCoolDown();
    this.user = config.authUser().orElse(null);
    this.password = config.authPassword().orElse(null);
    this.authWithoutTls = config.authWithoutTls();
  }

  /**
   * Sends {@code STARTTLS} where the configuration asks for it and does the handshake. With {@link
   * BackendTls#OPPORTUNISTIC}, a server that does not offer {@code STARTTLS} or refuses it (but for
   * {@code 421}, after which it hangs up) leaves the connection in the clear, and so does an
   * address whose handshake failed within the cool-down (nothing is sent then). Nothing is sent
   * after a failed handshake: the connection is then unusable.
   *
   * @param extensions what the server's last {@code EHLO} offered ({@link SmtpReply#extensions()})
   * @param host the configured name of the server, checked against its certificate and sent as SNI
   * @param address the address the connection reached, for remembering that its TLS is broken
   * @return whether the connection is now encrypted, so that the caller sends {@code EHLO} again
   * @throws ClientSecurityException {@link Failure#STARTTLS_NOT_OFFERED} or {@link
   *     Failure#STARTTLS_REFUSED} where TLS is required (or the refusal is a {@code 421}), {@link
   *     Failure#UNASKED_DATA} or {@link Failure#HANDSHAKE_FAILED} whatever the mode (the latter
   *     {@linkplain ClientSecurityException#retryInClear() to be retried in the clear} where TLS is
   *     opportunistic)
   * @throws SocketTimeoutException if the handshake did not end within the socket's timeout (a
   *     deadline, not a broken TLS: never retried in the clear)
   * @throws IOException if sending {@code STARTTLS} or reading its reply failed
   */
  public boolean startTls(
      Connection connection, Map<String, String> extensions, String host, InetSocketAddress address)
      throws IOException, ClientSecurityException {
    if (tls == null) {
      return false;
    }
    boolean required = tls.required();
    if (!required && brokenUntil(address).isAfter(clock.instant())) {
      return false;
    }
    if (!extensions.containsKey("STARTTLS")) {
      if (required) {
        throw new ClientSecurityException(
            Failure.STARTTLS_NOT_OFFERED, "the backend does not offer STARTTLS", null, null);
      }
      return false;
    }
    SmtpReply reply = connection.send("STARTTLS");
    if (reply.code() != 220) {
      if (required || reply.code() == 421) {
        throw new ClientSecurityException(
            Failure.STARTTLS_REFUSED, "the backend refused STARTTLS: " + reply, reply, null);
      }
      return false;
    }
    if (connection.unaskedInput()) {
      // Bytes after the 220 that were not asked for could only be an attack (CVE-2011-0411 style).
      throw new ClientSecurityException(
          Failure.UNASKED_DATA, "the backend sent data after its 220 to STARTTLS", null, null);
    }
    SSLSocket secure;
    try {
      secure = tls.handshake(connection.handshakeSocket(), host, address.getPort());
    } catch (SocketTimeoutException e) {
      throw e;
    } catch (IOException e) {
      String why = "TLS handshake with " + host + " failed (" + e.getMessage() + ")";
      if (!required) {
        broken(address, why);
      }
      throw new ClientSecurityException(Failure.HANDSHAKE_FAILED, why, null, e, !required);
    }
    if (!required) {
      tlsBroken.remove(address); // working again: a later failure is news worth a warning
    }
    connection.useTls(secure);
    return true;
  }

  private Instant brokenUntil(InetSocketAddress address) {
    return tlsBroken.getOrDefault(address, Instant.MIN);
  }

  /** Remembers for the cool-down that the address's TLS is broken; warns when that is news. */
  private void broken(InetSocketAddress address, String why) {
    if (tlsBroken.put(address, clock.instant().plus(coolDown)) == null) {
      LOG.warn(
          "{}; tls is OPPORTUNISTIC, so {} is spoken to in the clear, STARTTLS tried again after {}",
          why,
          address,
          coolDown);
    }
  }

  /**
   * {@code AUTH PLAIN}, or {@code LOGIN} where PLAIN is not offered, as the configured user; does
   * nothing where no {@code AUTH} is configured. The password goes only into the command bytes,
   * never into a message, an exception or a log; it is not sent over a connection in the clear
   * unless {@link VerifierConfig#authWithoutTls()}.
   *
   * @param extensions what the server's last {@code EHLO} offered ({@link SmtpReply#extensions()})
   * @throws ClientSecurityException {@link Failure#NOT_ENCRYPTED} (nothing was sent), {@link
   *     Failure#AUTH_NOT_OFFERED} (neither PLAIN nor LOGIN offered; nothing was sent) or {@link
   *     Failure#AUTH_REFUSED} with the server's reply (anything but {@code 235})
   * @throws IOException if sending or reading failed
   */
  public void authenticate(Connection connection, Map<String, String> extensions)
      throws IOException, ClientSecurityException {
    if (user == null) {
      return;
    }
    if (!connection.encrypted() && !authWithoutTls) {
      throw new ClientSecurityException(
          Failure.NOT_ENCRYPTED,
          "the session is not encrypted, so the password is not sent",
          null,
          null);
    }
    List<String> mechanisms =
        List.of(extensions.getOrDefault("AUTH", "").toUpperCase(Locale.ROOT).split(" "));
    SmtpReply reply;
    if (mechanisms.contains("PLAIN")) {
      reply = connection.send("AUTH PLAIN " + base64("\0" + user + "\0" + password));
    } else if (mechanisms.contains("LOGIN")) {
      reply = connection.send("AUTH LOGIN");
      if (reply.code() == 334) {
        reply = connection.send(base64(user));
      }
      if (reply.code() == 334) {
        reply = connection.send(base64(password));
      }
    } else {
      throw new ClientSecurityException(
          Failure.AUTH_NOT_OFFERED,
          "the backend offers neither AUTH PLAIN nor LOGIN"
              + Optional.ofNullable(extensions.get("AUTH"))
                  .map(offered -> " (it offers " + SmtpText.forLog(offered) + ")")
                  .orElse(""),
          null,
          null);
    }
    if (reply.code() != 235) {
      throw new ClientSecurityException(
          Failure.AUTH_REFUSED, "the backend did not accept AUTH: " + reply, reply, null);
    }
  }

  private static String base64(String secret) {
    return Base64.getEncoder().encodeToString(secret.getBytes(StandardCharsets.UTF_8));
  }

  /** The configuration in short, never the password. */
  @Override
  public String toString() {
    return "ClientSecurity[tls="
        + (tls == null ? "NONE" : tls.required() ? "required" : "opportunistic")
        + (user == null ? "" : ", auth=" + user + (authWithoutTls ? " (allowed without TLS)" : ""))
        + "]";
  }
}
