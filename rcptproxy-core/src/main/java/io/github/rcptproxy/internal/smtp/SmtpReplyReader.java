package io.github.rcptproxy.internal.smtp;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Reads SMTP replies strictly: every line ends in CRLF, carries the same three-digit code ({@code
 * 2xx} to {@code 5xx}), is at most {@value #MAX_LINE_BYTES} bytes, and a reply has at most {@value
 * #MAX_LINES} lines. Anything else is a {@link MalformedReplyException}, after which the connection
 * must be given up: the reader stops at the first bad byte and never reads the rest of an endless
 * reply. The end of the stream before a whole reply is an {@link EOFException}.
 *
 * <p>This is the SMTP plumbing rcptproxy's own modules share (every {@link SmtpConnection} reads
 * with one); it is public for them, not as a general SMTP client API.
 *
 * <p>Thread-confined: a reader belongs to one connection and is used by one thread at a time.
 */
public final class SmtpReplyReader {
  /** The longest reply line taken, in bytes, its CR included. */
  public static final int MAX_LINE_BYTES = 2048;

  /** The most lines one reply may have. */
  public static final int MAX_LINES = 100;

  /** Called before each blocking read, to bound it (a socket sets its timeout there). */
  @FunctionalInterface
  public interface BeforeRead {
    /**
     * Prepares the next blocking read.
     *
     * @throws IOException to fail the read instead, for example when its deadline has passed
     */
    void beforeRead() throws IOException;
  }

  private final InputStream in;
  private final BeforeRead beforeRead;
  private final byte[] buffer = new byte[4096];
  private int position;
  private int limit;

  /** A reader of the stream whose reads are bounded by the stream itself (a socket's timeout). */
  public SmtpReplyReader(InputStream in) {
    this(in, () -> {});
  }

  /** A reader that calls {@code beforeRead} before each blocking read of {@code in}. */
  public SmtpReplyReader(InputStream in, BeforeRead beforeRead) {
    this.in = Objects.requireNonNull(in, "in");
    this.beforeRead = Objects.requireNonNull(beforeRead, "beforeRead");
  }

  /**
   * Reads the next whole reply.
   *
   * @throws MalformedReplyException if the reply breaks the rules above
   * @throws EOFException if the stream ends before the reply does
   * @throws IOException if reading fails, or {@link BeforeRead} refuses
   */
  public SmtpReply read() throws IOException {
    List<String> lines = new ArrayList<>(1);
    int code = -1;
    while (true) {
      byte[] line = readLine();
      int lineCode = parseCode(line);
      if (code == -1) {
        code = lineCode;
      } else if (lineCode != code) {
        throw new MalformedReplyException(
            "multi-line reply changes code from " + code + " to " + lineCode);
      }
      boolean last = line.length == 3 || line[3] == ' ';
      lines.add(
          new String(
              line,
              Math.min(4, line.length),
              Math.max(0, line.length - 4),
              StandardCharsets.UTF_8));
      if (last) {
        return new SmtpReply(code, lines);
      }
      if (lines.size() >= MAX_LINES) {
        throw new MalformedReplyException("reply longer than " + MAX_LINES + " lines");
      }
    }
  }

  /**
   * Whether bytes after the last reply are already buffered: the peer said something nobody asked
   * for (after a {@code 220} to {@code STARTTLS}, that could only be an injection attack).
   */
  public boolean hasBufferedInput() {
    return position < limit;
  }

  private static int parseCode(byte[] line) throws MalformedReplyException {
    if (line.length < 3
        || line[0] < '2'
        || line[0] > '5'
        || !isDigit(line[1])
        || !isDigit(line[2])
        || (line.length > 3 && line[3] != ' ' && line[3] != '-')) {
      throw new MalformedReplyException(
          "malformed reply line: "
              + SmtpText.forLog(
                  new String(line, 0, Math.min(line.length, 40), StandardCharsets.ISO_8859_1)));
    }
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  }

  private static boolean isDigit(byte b) {
    return b >= '0' && b <= '9';
  }

  /** Reads one line and returns it without its CRLF. */
  private byte[] readLine() throws IOException {
    int start = position;
    byte[] carried = null;
    while (true) {
      for (int i = start; i < limit; i++) {
        byte b = buffer[i];
        if (b == '\n') {
          int end = i;
          boolean crlf =
              end > start
                  ? buffer[end - 1] == '\r'
                  : carried != null && carried.length > 0 && carried[carried.length - 1] == '\r';
          if (!crlf) {
            throw new MalformedReplyException("reply line ends in a bare LF");
          }
          byte[] line = join(carried, start, end + 1);
          position = i + 1;
          return checkNoBareCr(line);
        }
        if ((carried == null ? 0 : carried.length) + (i - start) + 1 > MAX_LINE_BYTES) {
          throw new MalformedReplyException("reply line longer than " + MAX_LINE_BYTES + " bytes");
        }
      }
      carried = join(carried, start, limit);
      position = limit;
      fill();
      start = position;
    }
  }

  /** Joins what was carried over with buffer[from, to). */
  private byte[] join(byte[] carried, int from, int to) {
    int carriedLength = carried == null ? 0 : carried.length;
    byte[] joined = new byte[carriedLength + to - from];
    if (carried != null) {
      System.arraycopy(carried, 0, joined, 0, carriedLength);
    }
    System.arraycopy(buffer, from, joined, carriedLength, to - from);
    return joined;
  }

  /** Takes a line ending in CRLF, returns it without; refuses a CR anywhere else. */
  private static byte[] checkNoBareCr(byte[] lineWithCrLf) throws MalformedReplyException {
    int length = lineWithCrLf.length - 2;
    for (int i = 0; i < length; i++) {
      if (lineWithCrLf[i] == '\r') {
        throw new MalformedReplyException("reply line contains a bare CR");
      }
    }
    byte[] line = new byte[length];
    System.arraycopy(lineWithCrLf, 0, line, 0, length);
    return line;
  }

  private void fill() throws IOException {
    beforeRead.beforeRead();
    int n = in.read(buffer, 0, buffer.length);
    if (n < 0) {
      throw new EOFException("connection closed by the peer");
    }
    position = 0;
    limit = n;
  }
}
