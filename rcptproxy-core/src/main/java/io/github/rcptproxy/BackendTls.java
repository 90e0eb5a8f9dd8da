package io.github.rcptproxy;

/**
 * Whether the verifier uses STARTTLS (RFC 3207) on its sessions to the backend. After the handshake
 * the greeting ({@code EHLO}/{@code LHLO}) is sent again and its capabilities replace those given
 * in the clear. The handshake counts against the verification's deadline; a pooled session does it
 * once.
 */
public enum BackendTls {
  /** Clear text; {@code STARTTLS} is never sent (the default). */
  NONE,
  /**
   * {@code STARTTLS} where the backend offers it, without checking its certificate, as Postfix's
   * {@code may}: clear text where it is not offered or is refused (but for {@code 421}), and where
   * the handshake fails. A failed handshake closes that connection and the session is opened again
   * without {@code STARTTLS}, within the same deadline; that backend address then gets no {@code
   * STARTTLS} for {@link VerifierConfig#backendCoolDown()}, and one warning is logged. A handshake
   * that outlasts the deadline is a {@link Verdict.Reason#TIMEOUT}, not retried; a {@code 421} to
   * {@code STARTTLS}, or data after its {@code 220}, is {@link Verdict.Reason#TLS_FAILED}. The
   * gateway's relay does the same.
   */
  OPPORTUNISTIC,
  /**
   * {@code STARTTLS} always, without checking the certificate (Postfix's {@code encrypt}): a
   * backend that does not offer it, or whose handshake fails, is never probed in the clear;
   * verifications answer {@link Verdict.Reason#TLS_FAILED}.
   */
  REQUIRED,
  /**
   * As {@link #REQUIRED}, and the certificate chain must lead to a trusted certificate ({@link
   * VerifierConfig.Builder#trust}, {@link VerifierConfig.Builder#trustPem}, or the JDK's default
   * trust store) and name the configured backend host (RFC 2818/6125 rules; SNI is sent with it).
   */
  VERIFY
}
