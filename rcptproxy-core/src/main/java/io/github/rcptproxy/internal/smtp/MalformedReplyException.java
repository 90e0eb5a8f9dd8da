package io.github.rcptproxy.internal.smtp;

import java.io.IOException;

/**
 * The peer's reply broke the rules {@link SmtpReplyReader} enforces (a bare CR or LF, a line too
 * long, too many lines, no valid code, a code that changes within the reply). The connection's
 * state is unknown from here: it must be given up.
 */
public final class MalformedReplyException extends IOException {
  private static final long serialVersionUID = 1L;

  /** With the rule the reply broke. */
  public MalformedReplyException(String message) {
    super(message);
  }
}
