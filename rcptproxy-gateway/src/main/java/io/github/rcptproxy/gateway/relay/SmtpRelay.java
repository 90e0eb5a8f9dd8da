package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.front.Envelope;
import io.github.rcptproxy.internal.Connector;
import io.github.rcptproxy.internal.Deadline;
import io.github.rcptproxy.internal.smtp.ClientSecurity;
import io.github.rcptproxy.internal.smtp.ClientSecurityException;
import io.github.rcptproxy.internal.smtp.SessionRefusedException;
import io.github.rcptproxy.internal.smtp.SmtpConnection;
import io.github.rcptproxy.internal.smtp.SmtpReply;
import io.github.rcptproxy.internal.smtp.SmtpText;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.RejectException;

/**
 * Hands one message to the backend while the client waits: the client hears {@code 250} only after
 * the backend said it. Every line of the body is dot-stuffed, and a message with a bare CR or LF
 * (one not in a CRLF pair, RFC 5321 §2.3.8) or a last line without CRLF (BDAT; RFC 5321 §2.3.8, RFC
 * 3030 §2: lines end in CRLF) is refused, never repaired: the backend never gets its end of data,
 * so nothing of it is delivered, and no reading of bare line ends, the backend's or a later hop's,
 * can end the message early and smuggle in a second one.
 *
 * <p>It speaks to the backend as the verifier does: STARTTLS, AUTH and LMTP as configured. With TLS
 * {@code REQUIRED} or {@code VERIFY} nothing of the message leaves in the clear; a backend without
 * STARTTLS, or a failed handshake, tempfails the message. With {@code OPPORTUNISTIC} a failed
 * handshake is retried in the clear on a new connection, as the verifier does. Over LMTP the
 * backend answers the end of data once per recipient; the front gives an LMTP relay one recipient
 * per message ({@link #oneRecipientPerMessage()}), so that reply is exactly that recipient's.
 */
public final class SmtpRelay {
  private static final Logger LOG = LoggerFactory.getLogger(SmtpRelay.class);

  /** The configured hosts, for logs. */
  private final String backend;

  /** Its own breaker, over the same hosts in the same order as the verifier's. */
  private final Connector connector;

  private final VerifierConfig config;
  private final Duration timeout;
  private final ClientSecurity security;
  private final boolean lmtp;
  private final String authUser;

  /**
   * Relays to the first backend of the configuration that answers, in their order, with its TLS,
   * AUTH and protocol: the verifier's {@link Connector}, so a host that does not answer a connect
   * or does not greet within the connect timeout is skipped for the cool-down. {@code timeout}
   * bounds reaching a backend (all hosts tried), the TLS handshake and each reply.
   */
  public SmtpRelay(VerifierConfig config, Duration timeout) {
    if (config.backends().isEmpty()) {
      throw new IllegalArgumentException("no backend to relay to");
    }
    this.backend =
        config.backends().stream()
            .map(b -> b.getHostString() + ":" + b.getPort())
            .collect(Collectors.joining(","));
    this.connector = new Connector(config);
    this.config = config;
    this.timeout = timeout;
    this.security = connector.security();
    this.lmtp = config.protocol() == BackendProtocol.LMTP;
    this.authUser = config.authUser().orElse(null);
  }

  /**
   * Whether each message may have only one recipient: over LMTP the backend answers each recipient
   * separately after DATA, and a client can be told only one answer for the whole message. With one
   * recipient per message that answer is the recipient's own: a refusal tempfails or bounces
   * exactly that recipient, and a delivered copy is never sent twice.
   */
  boolean oneRecipientPerMessage() {
    return lmtp;
  }

  /**
   * Relays the message read from {@code body} to every recipient, with the client's {@code
   * Received:} header on top, and returns the backend's reply to it, on one line safe for logs.
   * What the backend says is logged; the client hears only generic texts with the backend's reply
   * class and enhanced status code, never its host names or software.
   *
   * @throws RejectException a {@code 5xx} when the backend refused the sender or the message, else
   *     a {@code 4xx} (the backend unreachable, failing at greeting, or refusing a recipient it had
   *     accepted at verification time)
   */
  String relay(Envelope envelope, InputStream body) throws RejectException, IOException {
    if (lmtp && envelope.recipients().size() != 1) {
      throw new IllegalArgumentException(
          "an LMTP relay takes one recipient per message, got " + envelope.recipients().size());
    }
    try (SmtpConnection connection = connect()) {
      Map<String, String> extensions = connection.extensions();
      String xforward = extensions.get("XFORWARD");
      if (xforward != null) {
        Set<String> offered = Set.of(xforward.toUpperCase(Locale.ROOT).split(" "));
        for (String command : envelope.trace().xforward(offered)) {
          SmtpReply reply = connection.send(command);
          if (reply.code() / 100 != 2) {
            LOG.warn("backend refused {}: {}", command, reply);
          }
        }
      }
      SmtpReply mail = connection.send(mailCommand(envelope, extensions.keySet()));
      expect(mail, "sender", mail.code() / 100 == 2);
      for (String recipient : envelope.recipients()) {
        SmtpReply reply = connection.send("RCPT TO:<" + recipient + ">");
        if (reply.code() / 100 != 2) {
          // Verified a moment ago, refused now: let the client retry rather than lose anyone.
          LOG.warn("backend refused <{}> at relay time: {}", SmtpText.forLog(recipient), reply);
          connection.quit();
          throw new RejectException(451, "4.3.0 Recipient not accepted now, try again later");
        }
      }
      SmtpReply data = connection.send("DATA");
      expect(data, "message", data.code() == 354);
      OutputStream out = connection.out();
      out.write(
          envelope
              .trace()
              .receivedHeader(envelope.recipients(), ZonedDateTime.now())
              .getBytes(StandardCharsets.UTF_8));
      try {
        writeDotStuffed(body, out);
      } catch (BareLineEndException e) {
        // Closing without the end of data: the backend discards what it got of the message.
        LOG.info("message refused, not relayed: {}", e.getMessage());
        throw bareLineEnd();
      }
      out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      // LMTP: one reply per accepted recipient, and there is exactly one: the recipient's own.
      SmtpReply done = connection.read();
      expect(done, "message", done.code() / 100 == 2);
      // The backend has the message: whatever happens now, the client must hear 250, or it sends
      // the message again and the backend delivers it twice.
      connection.quit();
      return done.toString();
    } catch (ClientDataException e) {
      throw e.getCause(); // the client's side failed (gone, or too much data): SubEthaSMTP answers
    } catch (SocketTimeoutException e) {
      LOG.warn("backend {} timed out: {}", backend, e.getMessage());
      throw new RejectException(451, "4.4.2 Mail system timed out, try again later");
    } catch (IOException e) {
      LOG.warn("backend {} failed: {}", backend, e.getMessage());
      throw unavailable();
    }
  }

  /**
   * A connection to the backend, greeted, secured and authenticated as configured (where TLS is
   * required, a backend without it never gets the message in the clear). Where an OPPORTUNISTIC
   * handshake failed, a second connection goes in the clear. Replies are read by the one strict
   * reader (anything malformed counts as a failed backend), each within the timeout however slowly
   * it trickles in.
   */
  private SmtpConnection connect() throws IOException, RejectException {
    try {
      SmtpConnection.Timeout eachReply = SmtpConnection.Timeout.eachReply(timeout);
      return SmtpConnection.open(
          () -> connector.connect(Deadline.after(timeout), eachReply), eachReply, config, security);
    } catch (SessionRefusedException e) {
      // The backend refusing the gateway is the gateway's problem: the client should retry.
      LOG.warn("backend {} refused {}: {}", backend, e.command().orElse("the gateway"), e.reply());
      throw unavailable();
    } catch (ClientSecurityException e) {
      switch (e.failure()) {
        case STARTTLS_NOT_OFFERED ->
            LOG.warn("backend {} does not offer STARTTLS, which is required: not relayed", backend);
        case STARTTLS_REFUSED ->
            LOG.warn("backend {} refused STARTTLS: {}", backend, e.reply().orElseThrow());
        case UNASKED_DATA ->
            LOG.warn("backend {} sent data after its 220 to STARTTLS: not relayed", backend);
        case HANDSHAKE_FAILED ->
            LOG.warn(
                "TLS handshake with backend {} failed: {}", backend, e.getCause().getMessage());
        case NOT_ENCRYPTED ->
            LOG.warn(
                "backend {} session is not encrypted: the password is not sent; not relayed",
                backend);
        case AUTH_NOT_OFFERED ->
            LOG.warn("backend {} offers neither AUTH PLAIN nor LOGIN: not relayed", backend);
        case AUTH_REFUSED ->
            LOG.warn(
                "backend {} did not accept AUTH as {}: {}",
                backend,
                authUser,
                e.reply().orElseThrow());
      }
      throw unavailable();
    }
  }

  /** MAIL with exactly the parameters the client gave, if the backend can take them. */
  private static String mailCommand(Envelope envelope, Set<String> extensions)
      throws RejectException {
    StringBuilder mail = new StringBuilder("MAIL FROM:<").append(envelope.from()).append('>');
    if (envelope.smtputf8()) {
      if (!extensions.contains("SMTPUTF8")) {
        throw new RejectException(554, "5.6.7 SMTPUTF8 mail cannot be delivered here");
      }
      mail.append(" SMTPUTF8");
    }
    if (envelope.eightBitMime()) {
      if (!extensions.contains("8BITMIME")) {
        throw new RejectException(554, "5.6.3 8-bit mail cannot be delivered here");
      }
      mail.append(" BODY=8BITMIME");
    }
    return mail.toString();
  }

  private static RejectException unavailable() {
    return new RejectException(451, "4.4.1 Mail system unavailable, try again later");
  }

  /**
   * Copies the body, doubling a leading dot, up to a bare CR or LF, which ends it with a {@link
   * BareLineEndException} (what was written by then holds no end of data). So does a last line
   * without its CRLF (BDAT): refused, never given one.
   */
  public static void writeDotStuffed(InputStream body, OutputStream out) throws IOException {
    InputStream in = body.markSupported() ? body : new BufferedInputStream(body);
    boolean lineStart = true;
    long offset = 0;
    int b;
    while ((b = readClient(in)) >= 0) {
      if (b == '\n') {
        throw new BareLineEndException("bare LF at byte " + offset);
      }
      if (b == '\r') {
        if (readClient(in) != '\n') {
          throw new BareLineEndException("bare CR at byte " + offset);
        }
        offset += 2;
        out.write('\r');
        out.write('\n');
        lineStart = true;
        continue;
      }
      if (lineStart && b == '.') {
        out.write('.');
      }
      out.write(b);
      offset++;
      lineStart = false;
    }
    if (!lineStart) {
      throw new BareLineEndException("last line without CRLF at byte " + offset);
    }
  }

  private static int readClient(InputStream in) throws ClientDataException {
    try {
      return in.read();
    } catch (IOException e) {
      throw new ClientDataException(e);
    }
  }

  /**
   * The client's message has a bare CR or LF, or a last line without CRLF: refused for good (resent
   * as it is, it would be refused again). 554 is RFC 5321's permanent failure of a transaction
   * after the end of data, as for every message refused here; 5.6.0 (RFC 3463: the content of the
   * message, no more specific code fits) rather than Postfix's 521 5.5.2, as the message did end
   * where the client meant and the session goes on.
   */
  static RejectException bareLineEnd() {
    return new RejectException(
        554,
        "5.6.0 Message refused: a line not ended by CRLF (a bare CR or LF, or none at the end)");
  }

  /** The client's data has a CR or LF that is not part of a CRLF pair, or ends without CRLF. */
  public static final class BareLineEndException extends IOException {
    BareLineEndException(String message) {
      super(message);
    }
  }

  /** Reading the client's data failed: not the backend's fault. */
  private static final class ClientDataException extends IOException {
    ClientDataException(IOException cause) {
      super(cause);
    }

    @Override
    public synchronized IOException getCause() {
      return (IOException) super.getCause();
    }
  }

  /**
   * Passes on a positive reply; turns any other into a generic one of the same class, with the
   * backend's enhanced status code if it had a valid one: its text stays in the log.
   */
  private void expect(SmtpReply reply, String what, boolean positive) throws RejectException {
    if (positive) {
      return;
    }
    LOG.warn("backend {} refused the {}: {}", backend, what, reply);
    int code = reply.code();
    if (code == 530) {
      // STARTTLS or AUTH needed: the gateway's configuration, not the client's message
      LOG.warn(
          "backend {} requires STARTTLS or AUTH: set --backend-tls / --backend-auth-user", backend);
      throw unavailable();
    }
    boolean permanent = code >= 500;
    String status =
        !reply.enhancedStatus().isEmpty() ? reply.enhancedStatus() : permanent ? "5.0.0" : "4.0.0";
    String subject = Character.toUpperCase(what.charAt(0)) + what.substring(1);
    if (permanent) {
      throw new RejectException(code, status + " " + subject + " rejected");
    }
    // 421 would tell the client that we are closing; we are not.
    throw new RejectException(
        code >= 400 && code != 421 ? code : 451,
        status + " " + subject + " not accepted now, try again later");
  }
}
