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
   * {@code STARTTLS} where the backend offers it, without checking its certificate (as Postfix's
   * {@code may}); clear text where it is not offered. A handshake that fails is a failed
   * verification ({@link Verdict.Reason#TLS_FAILED}), never a silent fall-back to clear text.
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
