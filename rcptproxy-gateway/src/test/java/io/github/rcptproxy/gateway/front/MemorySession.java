package io.github.rcptproxy.gateway.front;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.internal.io.CRLFTerminatedReader;
import org.subethamail.smtp.internal.io.Utf8InputStreamReader;
import org.subethamail.smtp.internal.proxy.ProxyHandler;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.smtp.server.Session;

/**
 * A real SubEthaSMTP session whose client is a byte array: the commands run as over a socket,
 * thousands of sessions a second, so the fuzz tests can drive them. The loop is SubEthaSMTP's own
 * (7.2 {@code Session.runCommandLoop}) without the greeting and the session handler.
 */
final class MemorySession {
  /** How the session ended. */
  enum End {
    /** The input ended between commands. */
    END_OF_INPUT,
    /** A command dropped the connection (its reply was sent). */
    DROPPED,
    /**
     * SubEthaSMTP refused a command line it could not read (bare CR or LF, too long, bad UTF-8).
     */
    BAD_LINE,
    /** Reading failed inside a command, e.g. the input ended inside a message: SubEthaSMTP 421. */
    FAILED
  }

  private final SMTPServer server;
  private final Session session;
  private final ByteArrayInputStream input;
  private final ByteArrayOutputStream output = new ByteArrayOutputStream();

  MemorySession(SMTPServer server, byte[] clientBytes) {
    this.server = server;
    this.input = new ByteArrayInputStream(clientBytes);
    try {
      this.session = new Session(server, null, new MemorySocket(), ProxyHandler.NOP);
    } catch (IOException e) {
      throw new IllegalStateException("nothing to fail in memory", e);
    }
  }

  Session session() {
    return session;
  }

  /** Runs the client's commands until the input ends or the session does. */
  End run() {
    try {
      String line;
      while ((line = session.getReader().readLine()) != null) {
        server.getCommandHandler().handleCommand(session, line);
      }
      return End.END_OF_INPUT;
    } catch (DropConnectionException e) {
      reply(e.getErrorResponse());
      return End.DROPPED;
    } catch (CRLFTerminatedReader.TerminationException
        | CRLFTerminatedReader.MaxLineLengthException
        | Utf8InputStreamReader.InvalidUTF8EncodingException e) {
      return End.BAD_LINE;
    } catch (IOException e) {
      return End.FAILED;
    }
  }

  /** The replies sent so far, one per line (a multi-line reply gives several). */
  List<String> replies() {
    String text = output.toString(StandardCharsets.UTF_8);
    return text.isEmpty() ? List.of() : List.of(text.split("\r\n", -1)).subList(0, count(text));
  }

  /** Bytes of the client's input never read. */
  int unread() {
    try {
      return session.getRawInput().available();
    } catch (IOException e) {
      throw new IllegalStateException("nothing to fail in memory", e);
    }
  }

  private void reply(String response) {
    try {
      session.sendResponse(response);
    } catch (IOException e) {
      throw new IllegalStateException("nothing to fail in memory", e);
    }
  }

  private static int count(String text) {
    return (int) text.chars().filter(c -> c == '\n').count();
  }

  /** A connected socket as far as {@link Session} can tell, without a file descriptor. */
  private final class MemorySocket extends Socket {
    @Override
    public InputStream getInputStream() {
      return input;
    }

    @Override
    public OutputStream getOutputStream() {
      return output;
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
      return new InetSocketAddress(InetAddress.getLoopbackAddress(), 2525);
    }

    @Override
    public InetAddress getInetAddress() {
      return InetAddress.getLoopbackAddress();
    }

    @Override
    public void setSoTimeout(int timeout) {
      // nothing blocks in memory
    }
  }
}
