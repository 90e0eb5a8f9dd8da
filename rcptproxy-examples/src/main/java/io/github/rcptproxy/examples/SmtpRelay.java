package io.github.rcptproxy.examples;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.BackendTls;
import io.github.rcptproxy.VerifierConfig;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.RejectException;

/**
 * Hands one message to the backend while the client waits: the client hears {@code 250} only after
 * the backend said it. Line endings in the body are normalised to CRLF and every line is
 * dot-stuffed, so a bare CR or LF in the client's data cannot end the message early at the backend
 * and smuggle in a second one.
 *
 * <p>It speaks to the backend as the verifier does: STARTTLS, AUTH and LMTP as configured. With TLS
 * {@code REQUIRED} or {@code VERIFY} nothing of the message leaves in the clear; a backend without
 * STARTTLS, or a failed handshake, tempfails the message. Over LMTP the backend answers the end of
 * data once per recipient; the front gives an LMTP relay one recipient per message ({@link
 * #oneRecipientPerMessage()}), so that reply is exactly that recipient's.
 */
final class SmtpRelay {
  private static final Logger LOG = LoggerFactory.getLogger(SmtpRelay.class);
  private static final int MAX_REPLY_LINE = 2048;
  private static final Pattern ENHANCED_STATUS =
      Pattern.compile("\\d{3}[ -]([245]\\.\\d{1,3}\\.\\d{1,3})(?: |$)");

  private final InetSocketAddress backend;
  private final String host;
  private final String heloName;
  private final Duration timeout;
  private final BackendStartTls tls;
  private final boolean lmtp;
  private final Optional<String> authUser;
  private final Optional<String> authPassword;
  private final boolean authWithoutTls;

  /** Relays to the first backend of the configuration, with its TLS, AUTH and protocol. */
  SmtpRelay(VerifierConfig config, Duration timeout) {
    this.host = config.backendHost().orElseThrow();
    this.backend = new InetSocketAddress(host, config.backendPort());
    this.heloName = config.heloName();
    this.timeout = timeout;
    this.tls = config.tls() == BackendTls.NONE ? null : new BackendStartTls(config);
    this.lmtp = config.protocol() == BackendProtocol.LMTP;
    this.authUser = config.authUser();
    this.authPassword = config.authPassword();
    this.authWithoutTls = config.authWithoutTls();
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
   * Received:} header on top, and returns the backend's final reply line. What the backend says is
   * logged; the client hears only generic texts with the backend's reply class and enhanced status
   * code, never its host names or software.
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
    SSLSocket secure = null;
    try (Socket socket = new Socket()) {
      socket.connect(backend, (int) timeout.toMillis());
      socket.setSoTimeout((int) timeout.toMillis());
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = new BufferedOutputStream(socket.getOutputStream());
      Map<String, String> extensions = greet(in, out);
      if (tls != null) {
        secure = startTls(socket, in, out, extensions);
        if (secure != null) {
          in = new BufferedInputStream(secure.getInputStream());
          out = new BufferedOutputStream(secure.getOutputStream());
          extensions = hello(in, out);
        }
      }
      if (authUser.isPresent()) {
        authenticate(in, out, extensions, secure != null);
      }
      String xforward = extensions.get("XFORWARD");
      if (xforward != null) {
        Set<String> offered = Set.of(xforward.toUpperCase(Locale.ROOT).split(" "));
        for (String command : envelope.trace().xforward(offered)) {
          String[] reply = send(out, in, command);
          if (!reply[0].startsWith("2")) {
            LOG.warn("backend refused {}: {}", command, printable(last(reply)));
          }
        }
      }
      expect(send(out, in, mailCommand(envelope, extensions.keySet())), "sender", "2");
      for (String recipient : envelope.recipients()) {
        String[] reply = send(out, in, "RCPT TO:<" + recipient + ">");
        if (!reply[0].startsWith("2")) {
          // Verified a moment ago, refused now: let the client retry rather than lose anyone.
          LOG.warn("backend refused <{}> at relay time: {}", recipient, printable(last(reply)));
          quit(out);
          throw new RejectException(451, "4.3.0 Recipient not accepted now, try again later");
        }
      }
      expect(send(out, in, "DATA"), "message", "354");
      out.write(
          envelope
              .trace()
              .receivedHeader(envelope.recipients(), ZonedDateTime.now())
              .getBytes(StandardCharsets.UTF_8));
      writeDotStuffed(body, out);
      out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      // LMTP: one reply per accepted recipient, and there is exactly one: the recipient's own.
      String[] done = read(in);
      expect(done, "message", "2");
      // The backend has the message: whatever happens now, the client must hear 250, or it sends
      // the message again and the backend delivers it twice.
      quit(out);
      return last(done);
    } catch (ClientDataException e) {
      throw e.getCause(); // the client's side failed (gone, or too much data): SubEthaSMTP answers
    } catch (SocketTimeoutException e) {
      LOG.warn("backend {} timed out: {}", backend, e.getMessage());
      throw new RejectException(451, "4.4.2 Mail system timed out, try again later");
    } catch (IOException e) {
      LOG.warn("backend {} failed: {}", backend, e.getMessage());
      throw unavailable();
    } finally {
      if (secure != null) {
        secure.close();
      }
    }
  }

  /**
   * STARTTLS where offered (where required, a backend without it never gets the message in the
   * clear); returns the TLS socket, or null when the session stays in the clear.
   */
  private SSLSocket startTls(
      Socket socket, InputStream in, OutputStream out, Map<String, String> extensions)
      throws IOException, RejectException {
    if (!extensions.containsKey("STARTTLS")) {
      if (tls.required()) {
        LOG.warn("backend {} does not offer STARTTLS, which is required: not relayed", backend);
        quit(out);
        throw unavailable();
      }
      return null;
    }
    String[] reply = send(out, in, "STARTTLS");
    if (!reply[0].startsWith("220")) {
      if (tls.required()) {
        LOG.warn("backend {} refused STARTTLS: {}", backend, printable(last(reply)));
        throw unavailable();
      }
      return null;
    }
    if (in.available() > 0) {
      LOG.warn("backend {} sent data after its 220 to STARTTLS: not relayed", backend);
      throw unavailable();
    }
    try {
      return tls.handshake(socket, host, backend.getPort());
    } catch (SocketTimeoutException e) {
      throw e;
    } catch (IOException e) {
      LOG.warn("TLS handshake with backend {} failed: {}", backend, e.getMessage());
      throw unavailable();
    }
  }

  /** AUTH PLAIN, or LOGIN where PLAIN is not offered; the password is never logged. */
  private void authenticate(
      InputStream in, OutputStream out, Map<String, String> extensions, boolean encrypted)
      throws IOException, RejectException {
    String user = authUser.orElseThrow();
    String password = authPassword.orElseThrow();
    if (!encrypted && !authWithoutTls) {
      LOG.warn(
          "backend {} session is not encrypted: the password is not sent; not relayed", backend);
      throw unavailable();
    }
    List<String> mechanisms =
        List.of(extensions.getOrDefault("AUTH", "").toUpperCase(Locale.ROOT).split(" "));
    String[] reply;
    if (mechanisms.contains("PLAIN")) {
      reply = sendSecret(out, in, "AUTH PLAIN ", "\0" + user + "\0" + password);
    } else if (mechanisms.contains("LOGIN")) {
      reply = send(out, in, "AUTH LOGIN");
      if (reply[0].startsWith("334")) {
        reply = sendSecret(out, in, "", user);
      }
      if (reply[0].startsWith("334")) {
        reply = sendSecret(out, in, "", password);
      }
    } else {
      LOG.warn("backend {} offers neither AUTH PLAIN nor LOGIN: not relayed", backend);
      throw unavailable();
    }
    if (!reply[0].startsWith("235")) {
      LOG.warn("backend {} did not accept AUTH as {}: {}", backend, user, printable(last(reply)));
      throw unavailable();
    }
  }

  private String[] sendSecret(OutputStream out, InputStream in, String prefix, String secret)
      throws IOException {
    out.write(
        (prefix + Base64.getEncoder().encodeToString(secret.getBytes(StandardCharsets.UTF_8)))
            .getBytes(StandardCharsets.US_ASCII));
    out.write('\r');
    out.write('\n');
    out.flush();
    return read(in);
  }

  /** Greeting and EHLO (or HELO); returns the offered extensions with their parameters. */
  private Map<String, String> greet(InputStream in, OutputStream out)
      throws IOException, RejectException {
    String[] greeting = read(in);
    if (!greeting[0].startsWith("2")) {
      // The backend refusing the gateway is the gateway's problem: the client should retry.
      LOG.warn("backend {} refused the gateway: {}", backend, printable(last(greeting)));
      throw unavailable();
    }
    return hello(in, out);
  }

  /** EHLO (HELO where refused) or LHLO; returns the offered extensions with their parameters. */
  private Map<String, String> hello(InputStream in, OutputStream out)
      throws IOException, RejectException {
    Map<String, String> extensions = new HashMap<>();
    String[] ehlo = send(out, in, (lmtp ? "LHLO " : "EHLO ") + heloName);
    if (ehlo[0].startsWith("2")) {
      for (int i = 1; i < ehlo.length; i++) {
        String[] keyword = ehlo[i].substring(4).split(" ", 2);
        extensions.put(keyword[0].toUpperCase(Locale.ROOT), keyword.length > 1 ? keyword[1] : "");
      }
      return extensions;
    }
    if (lmtp) {
      LOG.warn("backend {} refused LHLO: {}", backend, printable(last(ehlo)));
      throw unavailable();
    }
    String[] helo = send(out, in, "HELO " + heloName);
    if (!helo[0].startsWith("2")) {
      LOG.warn("backend {} refused HELO: {}", backend, printable(last(helo)));
      throw unavailable();
    }
    return extensions;
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

  /** Says goodbye without waiting: nothing the backend answers now can change the outcome. */
  private static void quit(OutputStream out) {
    try {
      out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
    } catch (IOException e) {
      // the backend went away first: it had nothing more to say
    }
  }

  private static RejectException unavailable() {
    return new RejectException(451, "4.4.1 Mail system unavailable, try again later");
  }

  /** Copies the body, turning CR, LF and CRLF alike into CRLF and doubling a leading dot. */
  static void writeDotStuffed(InputStream body, OutputStream out) throws IOException {
    InputStream in = body.markSupported() ? body : new BufferedInputStream(body);
    boolean lineStart = true;
    int b;
    while ((b = readClient(in)) >= 0) {
      if (b == '\r' || b == '\n') {
        if (b == '\r') {
          in.mark(1);
          if (readClient(in) != '\n') {
            in.reset();
          }
        }
        out.write('\r');
        out.write('\n');
        lineStart = true;
        continue;
      }
      if (lineStart && b == '.') {
        out.write('.');
      }
      out.write(b);
      lineStart = false;
    }
    if (!lineStart) {
      out.write('\r');
      out.write('\n');
    }
  }

  private static int readClient(InputStream in) throws ClientDataException {
    try {
      return in.read();
    } catch (IOException e) {
      throw new ClientDataException(e);
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

  /** Text from outside for the log: printable ASCII, anything else becomes '?'. */
  static String printable(String text) {
    StringBuilder clean = new StringBuilder(text.length());
    text.codePoints().forEach(c -> clean.append(c >= ' ' && c < 0x7f ? (char) c : '?'));
    return clean.toString();
  }

  private String[] send(OutputStream out, InputStream in, String command) throws IOException {
    out.write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
    return read(in);
  }

  /**
   * Passes on a positive reply; turns any other into a generic one of the same class, with the
   * backend's enhanced status code if it had a valid one: its text stays in the log.
   */
  private void expect(String[] reply, String what, String positive) throws RejectException {
    if (reply[0].startsWith(positive)) {
      return;
    }
    String line = last(reply);
    LOG.warn("backend {} refused the {}: {}", backend, what, printable(line));
    int code = Integer.parseInt(line.substring(0, 3));
    if (code == 530) {
      // STARTTLS or AUTH needed: the gateway's configuration, not the client's message
      LOG.warn(
          "backend {} requires STARTTLS or AUTH: set --backend-tls / --backend-auth-user", backend);
      throw unavailable();
    }
    boolean permanent = code >= 500;
    Matcher enhanced = ENHANCED_STATUS.matcher(line);
    String status =
        enhanced.lookingAt() && enhanced.group(1).charAt(0) == line.charAt(0)
            ? enhanced.group(1)
            : permanent ? "5.0.0" : "4.0.0";
    String subject = Character.toUpperCase(what.charAt(0)) + what.substring(1);
    if (permanent) {
      throw new RejectException(code, status + " " + subject + " rejected");
    }
    // 421 would tell the client that we are closing; we are not.
    throw new RejectException(
        code >= 400 && code != 421 ? code : 451,
        status + " " + subject + " not accepted now, try again later");
  }

  private static String last(String[] reply) {
    return reply[reply.length - 1];
  }

  /**
   * Reads one reply (all its lines) within the timeout, however slowly it trickles in, as strictly
   * as the verifier does: CRLF line ends, one code on every line, at most 100 lines of 2 KiB.
   * Anything else counts as a failed backend.
   */
  private String[] read(InputStream in) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<String> lines = new ArrayList<>();
    while (true) {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      for (int b = in.read(); b != '\n'; b = in.read()) {
        if (b < 0 || line.size() > MAX_REPLY_LINE) {
          throw new IOException(
              "backend closed, or sent a reply line over " + MAX_REPLY_LINE + " bytes");
        }
        if (System.nanoTime() - deadline > 0) {
          throw new SocketTimeoutException("backend reply took longer than " + timeout);
        }
        line.write(b);
      }
      String text = line.toString(StandardCharsets.UTF_8);
      if (!text.endsWith("\r") || text.indexOf('\r') != text.length() - 1) {
        throw new IOException("backend reply line with a bare LF or CR");
      }
      text = text.substring(0, text.length() - 1);
      if (!text.matches("[2-5]\\d\\d([ -].*)?")
          || !lines.isEmpty() && !text.startsWith(lines.get(0).substring(0, 3))
          || lines.size() >= 100) {
        throw new IOException("malformed reply from backend");
      }
      lines.add(text);
      if (text.length() == 3 || text.charAt(3) == ' ') {
        return lines.toArray(new String[0]);
      }
    }
  }
}
