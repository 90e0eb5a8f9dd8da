package io.github.rcptproxy.postfix;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads Postfix policy requests ({@code name=value} lines, then an empty line) from bytes as they
 * arrive, within fixed bounds: a line over {@value #MAX_LINE} bytes is skipped (the request is then
 * answered as malformed), a request over {@value #MAX_REQUEST} bytes ends the connection. Holds at
 * most one line buffer and the few attributes the server uses. Not thread-safe: one per connection.
 */
final class RequestReader {
  /** Longest attribute line kept; Postfix's own SMTP lines are at most 2048 bytes. */
  static final int MAX_LINE = 4096;

  /** Longest request; Postfix sends about 30 short attributes (well under 4 KiB). */
  static final int MAX_REQUEST = 32 * 1024;

  /**
   * The attributes the server reads; Postfix adds new ones in most releases, others are ignored.
   */
  static final Set<String> KEPT =
      Set.of("request", "protocol_state", "recipient", "client_address", "sender", "instance");

  private static final List<String> KEPT_ORDERED = List.copyOf(KEPT);
  private static final byte[][] KEPT_NAMES =
      KEPT_ORDERED.stream()
          .map(name -> name.getBytes(StandardCharsets.US_ASCII))
          .toArray(byte[][]::new);

  private static final byte[] NO_BYTES = new byte[0];

  /** A line buffer this long is kept from one request to the next; a longer one is let go. */
  private static final int KEPT_LINE = 512;

  private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder(); // reports bad bytes

  private byte[] line = NO_BYTES;
  private int length;
  private boolean skippingLine;
  private int requestBytes;
  private Map<String, String> attributes = new HashMap<>();
  private String problem;

  /** Thrown when a request passes {@link #MAX_REQUEST} bytes: no answer can be framed, hang up. */
  static final class RequestTooLargeException extends Exception {
    RequestTooLargeException() {
      super("policy request longer than " + MAX_REQUEST + " bytes", null, false, false);
    }
  }

  /**
   * Consumes bytes from {@code in} up to the end of one request and returns it, leaving the bytes
   * after it in {@code in}; returns null when all of {@code in} was consumed and the request is not
   * complete yet.
   */
  PolicyRequest read(ByteBuffer in) throws RequestTooLargeException {
    while (in.hasRemaining()) {
      byte b = in.get();
      if (++requestBytes > MAX_REQUEST) {
        throw new RequestTooLargeException();
      }
      if (b == '\n') {
        if (skippingLine) {
          skippingLine = false;
          continue;
        }
        if (length == 0 || length == 1 && line[0] == '\r') {
          return finish();
        }
        attribute();
        length = 0;
      } else if (!skippingLine) {
        if (length == MAX_LINE) {
          problem("an attribute line is longer than " + MAX_LINE + " bytes");
          skippingLine = true;
          line = NO_BYTES;
          length = 0;
        } else {
          if (length == line.length) {
            byte[] bigger = new byte[Math.min(MAX_LINE, Math.max(128, line.length * 2))];
            System.arraycopy(line, 0, bigger, 0, length);
            line = bigger;
          }
          line[length++] = b;
        }
      }
    }
    return null;
  }

  /** Whether part of a request has arrived and its empty line has not. */
  boolean inRequest() {
    return requestBytes > 0;
  }

  private PolicyRequest finish() {
    if (attributes.isEmpty() && problem == null) {
      problem("empty request");
    }
    PolicyRequest request = new PolicyRequest(Collections.unmodifiableMap(attributes), problem);
    attributes = new HashMap<>();
    problem = null;
    if (line.length > KEPT_LINE) {
      line = NO_BYTES;
    }
    length = 0;
    requestBytes = 0;
    return request;
  }

  private void attribute() {
    int end = line[length - 1] == '\r' ? length - 1 : length;
    int equals = -1;
    for (int i = 0; i < end; i++) {
      if (line[i] == '=') {
        equals = i;
        break;
      }
    }
    if (equals <= 0) {
      problem("a line is not name=value");
      return;
    }
    for (int i = 0; i < equals; i++) {
      byte c = line[i];
      if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-')) {
        problem("an attribute name is not lower-case ASCII");
        return;
      }
    }
    String name = kept(equals);
    if (name == null) {
      return;
    }
    String value;
    try {
      CharBuffer chars = utf8.decode(ByteBuffer.wrap(line, equals + 1, end - equals - 1));
      value = chars.toString();
    } catch (CharacterCodingException e) {
      problem("the value of " + name + " is not UTF-8");
      return;
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < ' ' || c == 0x7f || c >= 0x80 && c < 0xa0) {
        problem("the value of " + name + " has a control character");
        return;
      }
    }
    if (attributes.putIfAbsent(name, value) != null) {
      problem(name + " is given twice");
    }
  }

  /** The kept attribute named by the line's first {@code length} bytes, or null: no copy made. */
  private String kept(int length) {
    for (int k = 0; k < KEPT_NAMES.length; k++) {
      if (Arrays.equals(line, 0, length, KEPT_NAMES[k], 0, KEPT_NAMES[k].length)) {
        return KEPT_ORDERED.get(k);
      }
    }
    return null;
  }

  private void problem(String text) {
    if (problem == null) {
      problem = text;
    }
  }
}
