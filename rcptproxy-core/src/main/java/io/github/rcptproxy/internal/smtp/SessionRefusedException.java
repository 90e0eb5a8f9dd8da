package io.github.rcptproxy.internal.smtp;

import java.io.IOException;
import java.util.Optional;

/**
 * The backend refused to start a session ({@link SmtpConnection#greet}, {@link
 * SmtpConnection#hello}): its greeting was not {@code 220}, or it refused {@code EHLO}, {@code
 * HELO} or {@code LHLO}. The message is safe for logs.
 */
public final class SessionRefusedException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String command;
  private final transient SmtpReply reply;

  SessionRefusedException(String command, SmtpReply reply) {
    super("the backend refused " + (command == null ? "the session" : command) + ": " + reply);
    this.command = command;
    this.reply = reply;
  }

  /** The command refused ({@code EHLO}, {@code HELO}, {@code LHLO}); empty for the greeting. */
  public Optional<String> command() {
    return Optional.ofNullable(command);
  }

  /** What the backend said. */
  public SmtpReply reply() {
    return reply;
  }
}
