package io.github.rcptproxy.internal;

import java.net.IDN;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * A recipient address that passed RFC 5321 validation and can be written to the backend. Anything
 * doubtful is refused with a reason, never stripped or repaired: what reaches the backend is
 * exactly what the client sent, or nothing.
 */
public final class Mailbox {
  static final int MAX_LOCAL_PART_BYTES = 64;
  static final int MAX_DOMAIN_BYTES = 255;
  static final int MAX_PATH_BYTES = 256;
  public static final int MAX_COMMAND_LINE_BYTES = 512;

  private static final Pattern IPV4_LITERAL =
      Pattern.compile(
          "\\[(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])]");
  private static final Pattern IPV6_LITERAL = Pattern.compile("\\[IPv6:[0-9A-Fa-f:.]{2,45}]");
  private static final String ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~";

  private final String localPart;
  private final String domain;
  private final boolean needsSmtputf8;

  private Mailbox(String localPart, String domain, boolean needsSmtputf8) {
    this.localPart = localPart;
    this.domain = domain;
    this.needsSmtputf8 = needsSmtputf8;
  }

  /**
   * Validates an address given as {@code local@domain} or {@code <local@domain>}. A non-ASCII
   * domain is converted to its A-label form; a non-ASCII local part is kept and marks the address
   * as needing SMTPUTF8.
   */
  public static Mailbox parse(String address) throws InvalidAddressException {
    if (address == null || address.isEmpty()) {
      throw new InvalidAddressException("empty address");
    }
    String bare = address;
    if (bare.length() >= 2 && bare.charAt(0) == '<' && bare.charAt(bare.length() - 1) == '>') {
      bare = bare.substring(1, bare.length() - 1);
    }
    checkCharacters(bare);
    if (bare.startsWith("@")) {
      throw new InvalidAddressException(
          bare.indexOf(':') > 0 ? "source routes are not accepted" : "empty local part");
    }
    int at = bare.lastIndexOf('@');
    if (at < 0) {
      throw new InvalidAddressException("no @ in address");
    }
    String localPart = bare.substring(0, at);
    String domain = asciiDomain(bare.substring(at + 1));
    boolean needsSmtputf8 = checkLocalPart(localPart);
    if (utf8Length(localPart) > MAX_LOCAL_PART_BYTES) {
      throw new InvalidAddressException(
          "local part longer than " + MAX_LOCAL_PART_BYTES + " bytes");
    }
    if (domain.length() > MAX_DOMAIN_BYTES) {
      throw new InvalidAddressException("domain longer than " + MAX_DOMAIN_BYTES + " bytes");
    }
    Mailbox mailbox = new Mailbox(localPart, domain, needsSmtputf8);
    if (utf8Length(mailbox.path()) > MAX_PATH_BYTES) {
      throw new InvalidAddressException("path longer than " + MAX_PATH_BYTES + " bytes");
    }
    return mailbox;
  }

  public String localPart() {
    return localPart;
  }

  /** The domain, in A-label (ASCII) form, or an address literal. */
  public String domain() {
    return domain;
  }

  public boolean needsSmtputf8() {
    return needsSmtputf8;
  }

  String address() {
    return localPart + "@" + domain;
  }

  String path() {
    return "<" + localPart + "@" + domain + ">";
  }

  /**
   * The command {@code verb + path} as the bytes of one CRLF-terminated line, encoded strictly:
   * ASCII, or UTF-8 when the backend offers SMTPUTF8.
   */
  public byte[] command(String verb, boolean smtputf8Offered) throws InvalidAddressException {
    if (needsSmtputf8 && !smtputf8Offered) {
      throw new InvalidAddressException(
          "non-ASCII local part needs SMTPUTF8, which the backend does not offer");
    }
    return encodeLine(verb + path(), smtputf8Offered);
  }

  /**
   * Encodes one command line and appends CRLF. Refuses characters the charset cannot encode and any
   * line that would contain CR, LF or NUL or exceed 512 bytes.
   */
  public static byte[] encodeLine(String line, boolean utf8) throws InvalidAddressException {
    byte[] bytes = isAscii(line) ? asciiLine(line) : encodedLine(line, utf8);
    int length = bytes.length - 2;
    if (bytes.length > MAX_COMMAND_LINE_BYTES) {
      throw new InvalidAddressException(
          "command line longer than " + MAX_COMMAND_LINE_BYTES + " bytes");
    }
    for (int i = 0; i < length; i++) {
      if (bytes[i] == '\r' || bytes[i] == '\n' || bytes[i] == 0) {
        throw new InvalidAddressException("encodes to a line break or NUL");
      }
    }
    bytes[length] = '\r';
    bytes[length + 1] = '\n';
    return bytes;
  }

  static boolean isAscii(String line) {
    for (int i = 0; i < line.length(); i++) {
      if (line.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  /** The common case, without an encoder: every char is one byte; two more left for CRLF. */
  private static byte[] asciiLine(String line) {
    byte[] bytes = new byte[line.length() + 2];
    for (int i = 0; i < line.length(); i++) {
      bytes[i] = (byte) line.charAt(i);
    }
    return bytes;
  }

  private static byte[] encodedLine(String line, boolean utf8) throws InvalidAddressException {
    CharsetEncoder encoder =
        (utf8 ? StandardCharsets.UTF_8 : StandardCharsets.US_ASCII)
            .newEncoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer encoded;
    try {
      encoded = encoder.encode(CharBuffer.wrap(line));
    } catch (CharacterCodingException e) {
      throw new InvalidAddressException("cannot be encoded as " + encoder.charset());
    }
    byte[] bytes = new byte[encoded.remaining() + 2];
    encoded.get(bytes, 0, bytes.length - 2);
    return bytes;
  }

  private static void checkCharacters(String s) throws InvalidAddressException {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
        continue;
      }
      switch (Character.getType(c)) {
        case Character.CONTROL,
            Character.FORMAT,
            Character.SURROGATE,
            Character.LINE_SEPARATOR,
            Character.PARAGRAPH_SEPARATOR,
            Character.UNASSIGNED ->
            throw new InvalidAddressException(
                String.format("control or unassigned character U+%04X", (int) c));
        default -> {}
      }
      if (c == '<' || c == '>') {
        throw new InvalidAddressException("'" + c + "' inside the path");
      }
    }
  }

  /** Returns whether the local part needs SMTPUTF8. */
  private static boolean checkLocalPart(String localPart) throws InvalidAddressException {
    boolean nonAscii = false;
    if (localPart.charAt(0) == '"') {
      // RFC 5321 allows quoted strings, but spaces and escapes in them are a favourite of
      // injection and parser-confusion attacks and all but unused by real mailboxes: refused.
      if (localPart.length() < 3 || localPart.charAt(localPart.length() - 1) != '"') {
        throw new InvalidAddressException("unterminated or empty quoted local part");
      }
      for (int i = 1; i < localPart.length() - 1; i++) {
        char c = localPart.charAt(i);
        if (c == ' ' || c == '\\' || c == '"') {
          throw new InvalidAddressException(
              "quoted local part with spaces, quotes or escapes is not accepted");
        } else if (c >= 0x80) {
          nonAscii = true;
        }
      }
      return nonAscii;
    }
    String problem = dotAtomProblem(localPart);
    if (problem != null) {
      throw new InvalidAddressException(problem);
    }
    return !isAscii(localPart);
  }

  /** Why {@code localPart} is not a dot-atom (RFC 5321, UTF-8 allowed), or null if it is one. */
  static String dotAtomProblem(String localPart) {
    if (localPart.isEmpty()) {
      return "empty local part";
    }
    boolean previousDot = true;
    for (int i = 0; i < localPart.length(); i++) {
      char c = localPart.charAt(i);
      if (c == '.') {
        if (previousDot) {
          return "empty atom in local part (leading or double dot)";
        }
        previousDot = true;
        continue;
      }
      previousDot = false;
      if (c < 0x80 && !(Character.isLetterOrDigit(c) || ATEXT_SPECIALS.indexOf(c) >= 0)) {
        return "character '" + c + "' not allowed in unquoted local part";
      }
    }
    return previousDot ? "local part ends with a dot" : null;
  }

  private static String asciiDomain(String domain) throws InvalidAddressException {
    if (domain.isEmpty()) {
      throw new InvalidAddressException("empty domain");
    }
    if (domain.charAt(0) == '[') {
      if (IPV4_LITERAL.matcher(domain).matches() || IPV6_LITERAL.matcher(domain).matches()) {
        return domain;
      }
      throw new InvalidAddressException("malformed address literal");
    }
    String ascii = domain;
    if (!isAscii(domain)) {
      try {
        ascii = IDN.toASCII(domain, IDN.USE_STD3_ASCII_RULES);
      } catch (IllegalArgumentException e) {
        throw new InvalidAddressException("domain is not a valid internationalised name");
      }
    }
    if (ascii.length() > MAX_DOMAIN_BYTES) {
      throw new InvalidAddressException("domain longer than " + MAX_DOMAIN_BYTES + " bytes");
    }
    if (!isHostName(ascii)) {
      throw new InvalidAddressException("malformed domain");
    }
    return ascii;
  }

  /** Labels of letters, digits and inner hyphens, 1 to 63 long, separated by single dots. */
  static boolean isHostName(String name) {
    int labelLength = 0;
    char previous = '.';
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '.') {
        if (labelLength == 0 || previous == '-') {
          return false;
        }
        labelLength = 0;
      } else if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || (c == '-' && labelLength > 0)) {
        if (++labelLength > 63) {
          return false;
        }
      } else {
        return false;
      }
      previous = c;
    }
    return labelLength > 0 && previous != '-';
  }

  private static int utf8Length(String s) {
    int bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }

  @Override
  public String toString() {
    return address();
  }
}
