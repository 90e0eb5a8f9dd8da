package io.github.rcptproxy.internal.smtp;

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
   * other code point becomes one {@code ?}.
   */
  public static String forReply(CharSequence text) {
    StringBuilder clean = new StringBuilder(text.length());
    text.codePoints().forEach(c -> clean.append(c >= ' ' && c < 0x7f ? (char) c : '?'));
    return clean.toString();
  }
}
