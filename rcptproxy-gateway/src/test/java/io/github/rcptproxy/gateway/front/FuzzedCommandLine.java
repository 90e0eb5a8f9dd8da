package io.github.rcptproxy.gateway.front;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A MAIL or RCPT line built from fuzz data, and what the client meant by it: the address and each
 * parameter. {@code canonical} lines are well-formed as RFC 5321 writes them (one space, a path in
 * angle brackets, a known valid address, no keyword twice), so their outcome is known exactly.
 * Anything at all after the verb gives a line with no meaning ({@code parameters} null).
 *
 * @param line the command line, without CRLF
 * @param canonical whether the line is well-formed
 * @param address the address the client meant
 * @param parameters the parameters in the order given, or null for a line of any characters
 */
record FuzzedCommandLine(String line, boolean canonical, String address, List<String> parameters) {
  /** Largest message the fuzz tests' server takes, as a SIZE parameter sees it. */
  static final BigInteger MAX_SIZE = BigInteger.valueOf(GatewayEdgeFuzzTest.MAIL_LIMIT);

  /** Addresses SubEthaSMTP takes as they are; the null reverse-path last. */
  private static final String[] ADDRESSES = {
    "a@example.net", "first.last+tag@sub.example.com", "jörg@example.net", "ü@bücher.example", ""
  };

  private static final String[] GAPS = {
    " ", " ", " ", "", "  ", "\t", "\u0000", "\u0001", "\u000b", "\u001f", "\u00a0", "\u3000"
  };

  private static final String[] ENDS = {"", "", "", " ", "\t", "\u3000", "\u0001", ">", "<"};

  private static final String[] SEPARATORS = {" ", " ", " ", "  ", "\t", "\u3000", "\u0001"};

  static FuzzedCommandLine of(FuzzedDataProvider data, String verb, String keyword) {
    if (data.consumeBoolean()) {
      return new FuzzedCommandLine(verb + data.consumeString(200), false, null, null);
    }
    boolean upper = data.consumeBoolean();
    String gap = data.pickValue(GAPS);
    String colonGap = data.pickValue(new String[] {"", "", " ", "\t", "\u3000"});
    boolean known = data.consumeBoolean();
    String address = known ? data.pickValue(ADDRESSES) : data.consumeString(60);
    boolean brackets = data.consumeInt(0, 3) > 0;
    String end = data.pickValue(ENDS);
    StringBuilder line = new StringBuilder();
    line.append(upper ? verb : verb.toLowerCase(Locale.ROOT)).append(gap);
    line.append(upper ? keyword : keyword.toLowerCase(Locale.ROOT)).append(colonGap);
    line.append(brackets ? "<" + address + ">" : address).append(end);
    boolean canonical = gap.equals(" ") && colonGap.isEmpty() && known && brackets && end.isEmpty();
    List<String> parameters = new ArrayList<>();
    boolean spaces = true;
    int count = data.consumeInt(0, 3);
    for (int i = 0; i < count; i++) {
      String separator = data.pickValue(SEPARATORS);
      String parameter = parameter(data);
      canonical &= separator.equals(" ");
      spaces &= separator.chars().allMatch(c -> c == ' ');
      line.append(separator).append(parameter);
      parameters.add(parameter);
    }
    List<String> keywords =
        parameters.stream().map(p -> p.split("=", 2)[0].toUpperCase(Locale.ROOT)).toList();
    canonical &= keywords.stream().distinct().count() == keywords.size();
    boolean pathFirst = colonGap.trim().isEmpty(); // as trim() sees white space
    if (!pathFirst
        || (!brackets && (!spaces || !address.matches("[^\\x00-\\x20<][^\\x00-\\x20]*")))) {
      // Without angle brackets only a space ends the path: where the parameters start is unclear.
      return new FuzzedCommandLine(line.toString(), false, null, null);
    }
    return new FuzzedCommandLine(line.toString(), canonical, address, parameters);
  }

  /** A word: white space and control characters are the separators' part. */
  private static String parameter(FuzzedDataProvider data) {
    String word = anyParameter(data).replaceAll("[\\x00-\\x20]", "");
    return word.isEmpty() ? "X" : word;
  }

  private static String anyParameter(FuzzedDataProvider data) {
    return switch (data.consumeInt(0, 9)) {
      case 0 -> data.pickValue(new String[] {"SMTPUTF8", "smtputf8", "SmtpUtf8"});
      case 1 -> data.pickValue(new String[] {"BODY=8BITMIME", "body=8bitmime", "BODY=7BIT"});
      case 2 -> "SIZE=" + data.consumeLong(0, Long.MAX_VALUE);
      case 3 -> "SIZE=" + "0".repeat(data.consumeInt(0, 30)) + data.consumeInt(0, 20_000_000);
      case 4 -> "SIZE=" + data.consumeAsciiString(25);
      case 5 ->
          data.pickValue(
              new String[] {
                "RET=HDRS",
                "ENVID=x",
                "NOTIFY=NEVER",
                "BODY=BINARYMIME",
                "AUTH=<>",
                "\u017fmtputf8",
                "body=8b\u0131tm\u0131me",
                "\u017fize=10"
              });
      case 6 -> data.pickValue(new String[] {"SIZE", "SIZE=", "BODY", "BODY=", "=", "SMTPUTF8="});
      default -> data.consumeString(30);
    };
  }

  /** Whether the client declared {@code word} (a keyword, or keyword=value), in any case. */
  boolean has(String word) {
    return parameters.stream().anyMatch(p -> p.equalsIgnoreCase(word));
  }

  /**
   * Whether the gateway knows {@code parameter} with this value: SMTPUTF8, BODY=7BIT or 8BITMIME
   * (RFC 6152), SIZE of at most 20 digits (RFC 1870) up to the limit.
   */
  static boolean known(String parameter) {
    String upper = GatewayEdgeFuzzTest.asciiUpper(parameter);
    if (upper.equals("SMTPUTF8") || upper.equals("BODY=7BIT") || upper.equals("BODY=8BITMIME")) {
      return true;
    }
    if (!upper.startsWith("SIZE=")) {
      return false;
    }
    String digits = upper.substring(5);
    return !digits.isEmpty()
        && digits.length() <= 20
        && digits.chars().allMatch(c -> c >= '0' && c <= '9')
        && new BigInteger(digits).compareTo(MAX_SIZE) <= 0;
  }
}
