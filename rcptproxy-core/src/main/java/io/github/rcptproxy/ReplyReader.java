package io.github.rcptproxy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads SMTP replies strictly: every line ends in CRLF, carries the same three-digit code, is at
 * most {@value #MAX_LINE_BYTES} bytes, and a reply has at most {@value #MAX_LINES} lines. Anything
 * else is a {@link Verdict.Reason#PROTOCOL_ERROR}, after which the session must be discarded: the
 * reader stops at the first bad byte and never reads the rest of an endless reply.
 */
final class ReplyReader {
  static final int MAX_LINE_BYTES = 2048;
  static final int MAX_LINES = 100;

  /** Called before each blocking read, to bound it (a socket sets its timeout there). */
  interface BeforeRead {
    void beforeRead() throws IOException;
  }

  /** One reply: its code and the text of each line (after the code and separator), unsanitised. */
  record Reply(int code, List<String> lines) {
    BackendReply toBackendReply() {
      String enhanced = "";
      StringBuilder text = new StringBuilder();
      for (String line : lines) {
        int end = enhancedStatusEnd(line, code / 100);
        String rest = line;
        if (end > 0) {
          if (enhanced.isEmpty()) {
            enhanced = line.substring(0, end);
          }
          while (end < line.length() && line.charAt(end) == ' ') {
            end++;
          }
          rest = line.substring(end);
        }
        if (!rest.isEmpty()) {
          if (text.length() > 0) {
            text.append(' ');
          }
          text.append(rest);
        }
      }
      return new BackendReply(code, enhanced, sanitise(text));
    }
  }

  /**
   * Where an RFC 3463 enhanced status code of the given class ({@code 5.1.1}) that opens the line
   * ends, or -1 if the line does not open with one.
   */
  static int enhancedStatusEnd(String line, int replyClass) {
    if (line.length() < 5 || line.charAt(0) != (char) ('0' + replyClass) || line.charAt(1) != '.') {
      return -1;
    }
    int at = 2;
    for (int part = 0; part < 2; part++) {
      int digits = 0;
      while (at < line.length() && Character.isDigit(line.charAt(at)) && line.charAt(at) < 0x80) {
        at++;
        digits++;
      }
      if (digits < 1 || digits > 3) {
        return -1;
      }
      if (part == 0) {
        if (at >= line.length() || line.charAt(at) != '.') {
          return -1;
        }
        at++;
      }
    }
    return at == line.length() || line.charAt(at) == ' ' ? at : -1;
  }

  private final InputStream in;
  private final BeforeRead beforeRead;
  private final byte[] buffer = new byte[4096];
  private int position;
  private int limit;

  ReplyReader(InputStream in, BeforeRead beforeRead) {
    this.in = in;
    this.beforeRead = beforeRead;
  }

  Reply read() throws IOException {
    List<String> lines = new ArrayList<>(1);
    int code = -1;
    while (true) {
      byte[] line = readLine();
      int lineCode = parseCode(line);
      if (code == -1) {
        code = lineCode;
      } else if (lineCode != code) {
        throw SessionFailure.protocolError(
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
        return new Reply(code, lines);
      }
      if (lines.size() >= MAX_LINES) {
        throw SessionFailure.protocolError("reply longer than " + MAX_LINES + " lines");
      }
    }
  }

  /** Whether bytes are already buffered: the backend said something nobody asked for. */
  boolean hasBufferedInput() {
    return position < limit;
  }

  private static int parseCode(byte[] line) throws SessionFailure {
    if (line.length < 3
        || line[0] < '2'
        || line[0] > '5'
        || !isDigit(line[1])
        || !isDigit(line[2])
        || (line.length > 3 && line[3] != ' ' && line[3] != '-')) {
      throw SessionFailure.protocolError(
          "malformed reply line: "
              + sanitise(
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
            throw SessionFailure.protocolError("reply line ends in a bare LF");
          }
          byte[] line = join(carried, start, end + 1);
          position = i + 1;
          return checkNoBareCr(line);
        }
        if ((carried == null ? 0 : carried.length) + (i - start) + 1 > MAX_LINE_BYTES) {
          throw SessionFailure.protocolError("reply line longer than " + MAX_LINE_BYTES + " bytes");
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
  private static byte[] checkNoBareCr(byte[] lineWithCrLf) throws SessionFailure {
    int length = lineWithCrLf.length - 2;
    for (int i = 0; i < length; i++) {
      if (lineWithCrLf[i] == '\r') {
        throw SessionFailure.protocolError("reply line contains a bare CR");
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
      throw SessionFailure.closedByBackend();
    }
    position = 0;
    limit = n;
  }

  /** Replaces control characters and anything that is not printable with '?'. */
  static String sanitise(CharSequence text) {
    StringBuilder clean = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (Character.getType(c)) {
        case Character.CONTROL,
            Character.FORMAT,
            Character.SURROGATE,
            Character.UNASSIGNED,
            Character.LINE_SEPARATOR,
            Character.PARAGRAPH_SEPARATOR,
            Character.PRIVATE_USE ->
            clean.append('?');
        default -> clean.append(c);
      }
    }
    return clean.toString();
  }
}
