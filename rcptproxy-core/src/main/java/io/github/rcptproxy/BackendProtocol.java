package io.github.rcptproxy;

/** How the backend is spoken to. */
public enum BackendProtocol {
  /** SMTP (RFC 5321): {@code EHLO}, falling back to {@code HELO} (the default). */
  SMTP,
  /**
   * LMTP (RFC 2033), as mailbox stores such as Dovecot and Cyrus speak it: {@code LHLO} instead of
   * {@code EHLO}; the probe is otherwise the same ({@code MAIL FROM} and {@code RCPT TO}, never
   * {@code DATA}).
   */
  LMTP
}
