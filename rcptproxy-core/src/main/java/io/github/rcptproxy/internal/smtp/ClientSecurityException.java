package io.github.rcptproxy.internal.smtp;

import java.util.Optional;

/**
 * {@link ClientSecurity} could not secure or authenticate the connection as configured: {@link
 * #failure()} says what went wrong, {@link #reply()} what the server said where it said something.
 * The message is safe for logs and never holds the password. Not an {@link java.io.IOException}, so
 * each caller maps it to its own error deliberately.
 */
public final class ClientSecurityException extends Exception {
  private static final long serialVersionUID = 1L;

  /** What went wrong. */
  public enum Failure {
    /** TLS is required and the server's {@code EHLO} does not offer {@code STARTTLS}. */
    STARTTLS_NOT_OFFERED,
    /**
     * The server answered {@code STARTTLS} with anything but {@code 220}, and TLS is required or
     * the answer was {@code 421}; see {@link #reply()}.
     */
    STARTTLS_REFUSED,
    /**
     * The server sent bytes after its {@code 220} to {@code STARTTLS} that nobody asked for: they
     * could be injected commands (CVE-2011-0411), so no handshake was attempted.
     */
    UNASKED_DATA,
    /**
     * The TLS handshake failed (not for lack of time), or the certificate did not verify; see
     * {@link #getCause()}. The connection is unusable.
     */
    HANDSHAKE_FAILED,
    /** The connection is in the clear and AUTH over clear text is not allowed: nothing was sent. */
    NOT_ENCRYPTED,
    /** The server offers neither {@code AUTH PLAIN} nor {@code AUTH LOGIN}: nothing was sent. */
    AUTH_NOT_OFFERED,
    /** The server answered AUTH with anything but {@code 235}; see {@link #reply()}. */
    AUTH_REFUSED
  }

  private final Failure failure;
  private final transient SmtpReply reply;
  private final boolean retryInClear;

  ClientSecurityException(Failure failure, String message, SmtpReply reply, Throwable cause) {
    this(failure, message, reply, cause, false);
  }

  ClientSecurityException(
      Failure failure, String message, SmtpReply reply, Throwable cause, boolean retryInClear) {
    super(message, cause);
    this.failure = failure;
    this.reply = reply;
    this.retryInClear = retryInClear;
  }

  /** What went wrong. */
  public Failure failure() {
    return failure;
  }

  /**
   * The server's reply that refused ({@link Failure#STARTTLS_REFUSED}, {@link
   * Failure#AUTH_REFUSED}); empty for the others.
   */
  public Optional<SmtpReply> reply() {
    return Optional.ofNullable(reply);
  }

  /**
   * Whether the caller should open a new connection and go on in the clear: the handshake failed
   * ({@link Failure#HANDSHAKE_FAILED}) with {@link io.github.rcptproxy.BackendTls#OPPORTUNISTIC},
   * and {@link ClientSecurity#startTls} sends no {@code STARTTLS} to that address for the
   * cool-down. Never with {@code REQUIRED} or {@code VERIFY}.
   */
  public boolean retryInClear() {
    return retryInClear;
  }
}
