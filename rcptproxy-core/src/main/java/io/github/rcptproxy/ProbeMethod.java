package io.github.rcptproxy;

/** How a recipient is put to the backend. */
public enum ProbeMethod {
  /**
   * {@code RCPT TO} inside a probe transaction ({@code MAIL FROM} once per session, never {@code
   * DATA}). Answers exactly what delivery will meet and works with every server, but each probe
   * transaction with a valid recipient costs Postfix an inflow-control token.
   */
  RCPT,
  /**
   * {@code VRFY} where the backend has proven to answer it honestly, {@link #RCPT} elsewhere (the
   * default). {@code VRFY} opens no transaction, so no queue file and no inflow-control token on
   * Postfix. A domain is trusted only after the backend refused a random local part there (many
   * servers answer {@code 252} to every address, or refuse {@code VRFY}); the trust expires after
   * {@value io.github.rcptproxy.internal.VrfyTrust#TTL_MINUTES} minutes and is dropped at once if
   * the backend stops answering {@code VRFY}.
   */
  VRFY
}
