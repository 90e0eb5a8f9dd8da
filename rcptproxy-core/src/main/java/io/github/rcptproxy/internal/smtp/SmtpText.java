package io.github.rcptproxy.internal.smtp;

import java.util.Locale;

/**
 * Text from outside (a peer's reply, a client's address) made safe for the two places rcptproxy
 * puts it: a log line ({@link #forLog}) and a reply to an SMTP client ({@link #forReply}). Part of
 * the SMTP plumbing rcptproxy's own modules share. Stateless, so safe from any thread.
 */
public final class SmtpText {
  private SmtpText() {}

  /**
   * Text for a log line or a message: control, format and separator characters, surrogates,
   * private-use and unassigned characters each become {@code ?}; printable text, non-ASCII
   * included, is kept. No line break or terminal escape can pass.
   */
  public static String forLog(CharSequence text) {
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

  /**
   * Text for a reply to an SMTP client: printable ASCII only ({@code ' '} to {@code '~'}); every
   * other code point, and the backslash, is written {@code \x{HEX}} as RFC 6533 §3 writes a
   * non-ASCII address in ASCII ({@code j\x{F6}rg@example.com}), so that neither a control character
   * nor the encoding of the reply line can garble it, and what it stood for stays clear.
   */
  public static String forReply(CharSequence text) {
    StringBuilder clean = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); ) {
      int c = Character.codePointAt(text, i);
      i += Character.charCount(c);
      if (c >= ' ' && c < 0x7f && c != '\\') {
        clean.append((char) c);
      } else {
        clean.append("\\x{").append(Integer.toHexString(c).toUpperCase(Locale.ROOT)).append('}');
      }
    }
    return clean.toString();
  }
}
