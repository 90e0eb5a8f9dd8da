package io.github.rcptproxy.internal.smtp;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One SMTP reply as {@link SmtpReplyReader} read it. Part of the SMTP plumbing rcptproxy's own
 * modules share.
 *
 * @param code the three-digit reply code, {@code 200} to {@code 599}
 * @param lines the text of each line after the code and its separator, as sent (decoded as UTF-8,
 *     not sanitised): the keywords of an {@code EHLO} reply are its lines after the first
 */
public record SmtpReply(int code, List<String> lines) {

  public SmtpReply {
    if (code < 200 || code > 599) {
      throw new IllegalArgumentException("code must be within 200..599, was " + code);
    }
    lines = List.copyOf(lines);
    if (lines.isEmpty()) {
      throw new IllegalArgumentException("a reply has at least one line");
    }
  }

  /**
   * The first RFC 3463 enhanced status code ({@code 5.1.1}) of the reply's class that opens one of
   * its lines, or empty.
   */
  public String enhancedStatus() {
    for (String line : lines) {
      int end = enhancedStatusEnd(line, code / 100);
      if (end > 0) {
        return line.substring(0, end);
      }
    }
    return "";
  }

  /**
   * The text of the lines without their enhanced status codes, joined with a space and made safe
   * for logs ({@link SmtpText#forLog}).
   */
  public String text() {
    StringBuilder text = new StringBuilder();
    for (String line : lines) {
      int end = enhancedStatusEnd(line, code / 100);
      String rest = line;
      if (end > 0) {
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
    return SmtpText.forLog(text);
  }

  /**
   * What a reply to {@code EHLO} or {@code LHLO} offers: each line after the first, its keyword in
   * upper case mapped to its parameters (stripped; empty where it has none). Meaningful only for a
   * positive reply to one of those.
   */
  public Map<String, String> extensions() {
    Map<String, String> offered = new HashMap<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] keyword = line.split(" ", 2);
      offered.put(
          keyword[0].toUpperCase(Locale.ROOT), keyword.length > 1 ? keyword[1].strip() : "");
    }
    return Collections.unmodifiableMap(offered);
  }

  /** The reply on one line, safe for logs: code, enhanced status code and text. */
  @Override
  public String toString() {
    StringBuilder line = new StringBuilder().append(code);
    String enhanced = enhancedStatus();
    if (!enhanced.isEmpty()) {
      line.append(' ').append(enhanced);
    }
    String text = text();
    if (!text.isEmpty()) {
      line.append(' ').append(text);
    }
    return line.toString();
  }

  /**
   * Where an RFC 3463 enhanced status code of the given class ({@code 5.1.1}) that opens the line
   * ends, or -1 if the line does not open with one.
   */
  private static int enhancedStatusEnd(String line, int replyClass) {
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
}
