package io.github.rcptproxy.internal.smtp;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurityException.Failure;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;

/**
 * One client connection to the backend, SMTP or LMTP: the one client dialogue rcptproxy has (the
 * verifier's sessions, the gateway's relay, {@code rcptproxy probe}, the benchmarks). {@link #open}
 * connects, reads the greeting, says {@code EHLO} ({@code HELO} where refused) or {@code LHLO}, and
 * does {@code STARTTLS} and {@code AUTH} as {@link ClientSecurity} decides; then commands and
 * replies go through {@link #send}, or {@link #write} and {@link #read} to pipeline. Replies are
 * read by the one strict {@link SmtpReplyReader}; each blocking read, and the TLS handshake, is
 * bounded by the caller's {@link Timeout}. A malformed reply is a {@link MalformedReplyException},
 * the end of the stream an {@link java.io.EOFException}: either way the connection is done for.
 *
 * <p>Part of the SMTP plumbing rcptproxy's own modules share, not a general SMTP client API. Used
 * by one thread at a time.
 */
public final class SmtpConnection implements ClientSecurity.Connection, AutoCloseable {

  /** How long each blocking read (and the TLS handshake) may wait, asked before each one. */
  @FunctionalInterface
  public interface Timeout {
    /**
     * The socket timeout for the next blocking read, at least 1 ms (0 would be forever).
     *
     * @param replyStarted {@link System#nanoTime()} when waiting for the current reply began
     * @throws SocketTimeoutException if no time is left
     */
    int millis(long replyStarted) throws SocketTimeoutException;

    /** Each blocking read may take up to {@code limit}. */
    static Timeout eachRead(Duration limit) {
      return replyStarted -> (int) Math.max(1, limit.toMillis());
    }

    /** Each whole reply must come within {@code limit}, however slowly it trickles in. */
    static Timeout eachReply(Duration limit) {
      return replyStarted -> {
        long left = replyStarted + limit.toNanos() - System.nanoTime();
        if (left <= 0) {
          throw new SocketTimeoutException("backend reply took longer than " + limit);
        }
        return (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left));
      };
    }
  }

  /**
   * A connected socket and the configured name of the server it reached (for TLS); {@code greeted}
   * the connection over it whose greeting the dialer read already (the {@code Connector}, which
   * bounds it), or null.
   */
  public record Endpoint(Socket socket, String host, SmtpConnection greeted) {
    /** A socket nothing was read from yet. */
    public Endpoint(Socket socket, String host) {
      this(socket, host, null);
    }

    /** A TCP connection to {@code address} within {@code timeout}, with Nagle's delay off. */
    public static Endpoint connect(InetSocketAddress address, String host, Duration timeout)
        throws IOException {
      Socket socket = new Socket();
      try {
        socket.setTcpNoDelay(true);
        socket.connect(address, (int) Math.max(1, timeout.toMillis()));
        return new Endpoint(socket, host);
      } catch (IOException | RuntimeException e) {
        socket.close();
        throw e;
      }
    }
  }

  /** Makes a new TCP connection to the backend: the caller's choice of address and timeouts. */
  @FunctionalInterface
  public interface Dialer {
    Endpoint dial() throws IOException;
  }

  private static final byte[] CRLF = {'\r', '\n'};

  /** The TCP connection; {@link #transport} is the TLS socket over it after STARTTLS. */
  private final Socket plain;

  private Timeout timeout;
  private Socket transport;
  private OutputStream out;
  private SmtpReplyReader reader;
  private long replyStarted;
  private SmtpReply greeting;
  private Map<String, String> extensions = Map.of();

  /** Takes over a connected socket; nothing is read or sent yet. */
  public SmtpConnection(Socket connected, Timeout timeout) throws IOException {
    this.plain = connected;
    this.timeout = timeout;
    use(connected);
  }

  /**
   * Dials, then greeting, hello, STARTTLS (and hello again) and AUTH, as {@code config} ({@link
   * VerifierConfig#heloName()}, {@link VerifierConfig#protocol()}) and {@code security} ask. Where
   * an OPPORTUNISTIC handshake failed it dials once more, and that connection goes in the clear.
   * Where it fails, the connection is closed (after a {@code QUIT} where nothing was left unsaid).
   *
   * @throws SessionRefusedException if the greeting or hello was refused
   * @throws ClientSecurityException if STARTTLS or AUTH failed as configured
   * @throws IOException if the connection failed, timed out or a reply was malformed
   */
  public static SmtpConnection open(
      Dialer dialer, Timeout timeout, VerifierConfig config, ClientSecurity security)
      throws IOException, ClientSecurityException {
    try {
      return start(dialer.dial(), timeout, config, security);
    } catch (ClientSecurityException e) {
      if (!e.retryInClear()) {
        throw e;
      }
      // That connection is lost; ClientSecurity now skips STARTTLS to that address for a while.
      return start(dialer.dial(), timeout, config, security);
    }
  }

  private static SmtpConnection start(
      Endpoint endpoint, Timeout timeout, VerifierConfig config, ClientSecurity security)
      throws IOException, ClientSecurityException {
    Socket socket = endpoint.socket();
    SmtpConnection connection = endpoint.greeted();
    if (connection == null) {
      try {
        connection = new SmtpConnection(socket, timeout);
      } catch (IOException | RuntimeException e) {
        socket.close();
        throw e;
      }
    }
    boolean lmtp = config.protocol() == BackendProtocol.LMTP;
    String helo = config.heloName().orElseGet(() -> HeloName.of(socket.getLocalAddress()));
    try {
      if (endpoint.greeted() == null) {
        connection.greet();
      }
      connection.hello(helo, lmtp);
      InetSocketAddress address = (InetSocketAddress) socket.getRemoteSocketAddress();
      if (security.startTls(connection, connection.extensions, endpoint.host(), address)) {
        connection.hello(helo, lmtp);
      }
      security.authenticate(connection, connection.extensions);
      return connection;
    } catch (ClientSecurityException e) {
      if (e.failure() == Failure.STARTTLS_NOT_OFFERED
          || e.failure() == Failure.NOT_ENCRYPTED
          || e.failure() == Failure.AUTH_NOT_OFFERED) {
        connection.quit(); // nothing was sent: the dialogue is in step, so it ends politely
      }
      connection.close();
      throw e;
    } catch (IOException | RuntimeException e) {
      connection.close();
      throw e;
    }
  }

  /**
   * Reads the server's greeting.
   *
   * @throws SessionRefusedException unless it is {@code 220}
   */
  public SmtpReply greet() throws IOException {
    greeting = read();
    if (greeting.code() != 220) {
      throw new SessionRefusedException(null, greeting);
    }
    return greeting;
  }

  /**
   * {@code LHLO}, or {@code EHLO} and {@code HELO} where that was refused for good (but for {@code
   * 554}, which refuses the client); returns what it offers, which replaces what was known before.
   *
   * @throws SessionRefusedException unless the last of them was answered {@code 250}
   */
  public Map<String, String> hello(String name, boolean lmtp) throws IOException {
    extensions = Map.of();
    SmtpReply reply = send((lmtp ? "LHLO " : "EHLO ") + name);
    if (reply.code() == 250) {
      extensions = reply.extensions();
    } else if (lmtp || reply.code() < 500 || reply.code() == 554) {
      throw new SessionRefusedException(lmtp ? "LHLO" : "EHLO", reply);
    } else if ((reply = send("HELO " + name)).code() != 250) {
      throw new SessionRefusedException("HELO", reply);
    }
    return extensions;
  }

  /** The greeting {@link #greet} read; null before. */
  public SmtpReply greeting() {
    return greeting;
  }

  /** What the last {@link #hello} offered ({@link SmtpReply#extensions()}); empty after HELO. */
  public Map<String, String> extensions() {
    return extensions;
  }

  /** Whether the last {@link #hello} offered the extension (its keyword in upper case). */
  public boolean offers(String extension) {
    return extensions.containsKey(extension);
  }

  /**
   * Sends one command line, its CRLF added, and reads the reply. The line may carry a secret: no
   * message or exception ever holds it.
   *
   * @throws IllegalArgumentException if the line holds a CR or LF (it would be two commands)
   */
  @Override
  public SmtpReply send(String line) throws IOException {
    if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) {
      throw new IllegalArgumentException("a command line must not hold CR or LF");
    }
    out.write(line.getBytes(StandardCharsets.UTF_8));
    out.write(CRLF);
    out.flush();
    return read();
  }

  /** Sends one command, encoded with its CRLF, and reads the reply. */
  public SmtpReply send(byte[] command) throws IOException {
    write(List.of(command));
    return read();
  }

  /** Sends commands, each encoded with its CRLF, in one go: {@link #read} each reply after. */
  public void write(List<byte[]> commands) throws IOException {
    for (byte[] command : commands) {
      out.write(command);
    }
    out.flush();
  }

  /** The next reply, each blocking read bounded by the {@link Timeout}. */
  public SmtpReply read() throws IOException {
    replyStarted = System.nanoTime();
    return reader.read();
  }

  /**
   * The next reply, within {@code other} rather than the connection's own timeout: the reply to a
   * message's end of data, which RFC 5321 §4.5.3.2.6 gives 10 minutes, or one a caller needs within
   * its own deadline.
   */
  public SmtpReply read(Timeout other) throws IOException {
    Timeout usual = timeout;
    timeout = other;
    try {
      return read();
    } finally {
      timeout = usual;
    }
  }

  /** Where a message's content goes after {@code DATA}'s {@code 354}; buffered, to be flushed. */
  public OutputStream out() {
    return out;
  }

  /**
   * Whether the server sent bytes nobody asked for: left after the last reply, waiting on the
   * connection, or (over TLS) waiting undecrypted on the TCP socket, such as a {@code 421} or a
   * close_notify. Costs no round trip.
   */
  @Override
  public boolean unaskedInput() throws IOException {
    return reader.hasBufferedInput()
        || transport.getInputStream().available() > 0
        || transport != plain && plain.getInputStream().available() > 0;
  }

  @Override
  public Socket handshakeSocket() throws IOException {
    plain.setSoTimeout(timeout.millis(System.nanoTime()));
    return plain;
  }

  @Override
  public void useTls(SSLSocket tls) throws IOException {
    use(tls);
  }

  @Override
  public boolean encrypted() {
    return transport != plain;
  }

  private void use(Socket socket) throws IOException {
    transport = socket;
    out = new BufferedOutputStream(socket.getOutputStream());
    reader =
        new SmtpReplyReader(
            socket.getInputStream(), () -> socket.setSoTimeout(timeout.millis(replyStarted)));
  }

  /** Says {@code QUIT} without waiting for the answer, which can change nothing. */
  public void quit() {
    try {
      out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
    } catch (IOException e) {
      // the server is gone already: it had nothing more to say
    }
  }

  /** Closes the connection; closing TLS never waits long for the server. */
  @Override
  public void close() {
    Socket tls = transport;
    try (plain;
        tls) {
      plain.setSoTimeout(100);
    } catch (IOException ignored) {
      // closed either way
    }
  }

  /** The server's address, as {@code host/address:port}, for logs. */
  public String remote() {
    return String.valueOf(plain.getRemoteSocketAddress());
  }

  /** The local port and the server's address, for logs. */
  @Override
  public String toString() {
    return plain.getLocalPort() + "->" + plain.getRemoteSocketAddress();
  }
}
