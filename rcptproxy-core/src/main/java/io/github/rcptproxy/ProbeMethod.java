package io.github.rcptproxy;

/** How a recipient is put to the backend. */
public enum ProbeMethod {
  /**
   * {@code RCPT TO} inside a probe transaction ({@code MAIL FROM} once per session, never {@code
   * DATA}). Answers exactly what delivery will meet and works with every server.
   */
  RCPT,
  /**
   * {@code VRFY}: no transaction, so no queue file and no inflow-control token on Postfix. Used for
   * a domain only after the backend rejected a random local part there, since many servers answer
   * {@code 252} to every address or refuse {@code VRFY}; such domains fall back to {@link #RCPT}.
   */
  VRFY
}
