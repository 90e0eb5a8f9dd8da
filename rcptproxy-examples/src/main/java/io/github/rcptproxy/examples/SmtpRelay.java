package io.github.rcptproxy.examples;

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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.subethamail.smtp.RejectException;

/**
 * Hands one message to the backend while the client waits: the client hears {@code 250} only after
 * the backend said it. Line endings in the body are normalised to CRLF and every line is
 * dot-stuffed, so a bare CR or LF in the client's data cannot end the message early at the backend
 * and smuggle in a second one.
 */
final class SmtpRelay {
  private static final int MAX_REPLY_LINE = 2048;

  private final InetSocketAddress backend;
  private final String heloName;
  private final Duration timeout;

  SmtpRelay(InetSocketAddress backend, String heloName, Duration timeout) {
    this.backend = backend;
    this.heloName = heloName;
    this.timeout = timeout;
  }

  /**
   * Relays the message read from {@code body} to every recipient and returns the backend's final
   * reply line.
   *
   * @throws RejectException with the backend's {@code 5xx}/{@code 4xx}, or {@code 451} when the
   *     backend could not be reached or refused a recipient it had accepted at verification time
   */
  String relay(String from, List<String> recipients, InputStream body)
      throws RejectException, IOException {
    try (Socket socket = new Socket()) {
      socket.connect(backend, (int) timeout.toMillis());
      socket.setSoTimeout((int) timeout.toMillis());
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = new BufferedOutputStream(socket.getOutputStream());
      expect(read(in), 2, "greeting");
      Set<String> extensions = new HashSet<>();
      String[] ehlo = send(out, in, "EHLO " + heloName);
      if (ehlo[0].startsWith("2")) {
        for (int i = 1; i < ehlo.length; i++) {
          extensions.add(ehlo[i].substring(4).split(" ", 2)[0].toUpperCase(Locale.ROOT));
        }
      } else {
        expect(send(out, in, "HELO " + heloName), 2, "HELO");
      }
      boolean utf8 = !isAscii(from) || recipients.stream().anyMatch(r -> !isAscii(r));
      String mail =
          "MAIL FROM:<"
              + from
              + ">"
              + (utf8 && extensions.contains("SMTPUTF8") ? " SMTPUTF8" : "")
              + (extensions.contains("8BITMIME") ? " BODY=8BITMIME" : "");
      expect(send(out, in, mail), 2, "MAIL");
      for (String recipient : recipients) {
        String[] reply = send(out, in, "RCPT TO:<" + recipient + ">");
        if (!reply[0].startsWith("2")) {
          // Verified a moment ago, refused now: let the client retry rather than lose anyone.
          send(out, in, "QUIT");
          throw new RejectException(451, "4.3.0 Backend refused a recipient, try again later");
        }
      }
      String[] data = send(out, in, "DATA");
      if (!data[0].startsWith("354")) {
        throw fromBackend(data);
      }
      writeDotStuffed(body, out);
      out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String[] done = read(in);
      if (!done[0].startsWith("2")) {
        throw fromBackend(done);
      }
      send(out, in, "QUIT");
      return last(done);
    } catch (ClientDataException e) {
      throw e.getCause(); // the client's side failed (gone, or too much data): SubEthaSMTP answers
    } catch (SocketTimeoutException e) {
      throw new RejectException(451, "4.4.2 Backend timed out, try again later");
    } catch (IOException e) {
      throw new RejectException(451, "4.4.1 Backend unavailable, try again later");
    }
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

  /** Reply text must be printable ASCII: anything else becomes '?'. */
  private static String printable(String text) {
    StringBuilder clean = new StringBuilder(text.length());
    text.codePoints().forEach(c -> clean.append(c >= ' ' && c < 0x7f ? (char) c : '?'));
    return clean.toString();
  }

  private static boolean isAscii(String s) {
    return s.chars().allMatch(c -> c < 0x80);
  }

  private String[] send(OutputStream out, InputStream in, String command) throws IOException {
    out.write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
    return read(in);
  }

  private static void expect(String[] reply, int digit, String step) throws RejectException {
    if (reply[0].charAt(0) - '0' != digit) {
      throw fromBackend(reply);
    }
  }

  /** The backend's own failure, passed on: 5xx stays 5xx, everything else becomes a 4xx. */
  private static RejectException fromBackend(String[] reply) {
    String line = last(reply);
    int code = Integer.parseInt(line.substring(0, 3));
    String text = line.length() > 4 ? printable(line.substring(4)) : "";
    if (code >= 500) {
      return new RejectException(code, text);
    }
    // 421 would tell the client that we are closing; we are not: any other 4xx is passed on.
    return new RejectException(
        code >= 400 && code != 421 ? code : 451, text.isEmpty() ? "4.3.0 Try again later" : text);
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
