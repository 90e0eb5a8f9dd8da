package io.github.rcptproxy;

/**
 * Hears every verdict a verifier hands out: the seam for metrics ({@code MicrometerMetrics} in
 * {@code rcptproxy-micrometer}) or an audit log.
 *
 * <p><b>Contract:</b> called on one thread of the verifier's own, in the order the verdicts were
 * given, never on the caller's SMTP thread: a slow listener delays only later events, and one that
 * throws is logged (once) and called again for the next verdict. Past 100,000 waiting events new
 * ones are dropped (logged once). Events may still arrive shortly after {@link
 * RecipientVerifier#close()}.
 */
@FunctionalInterface
public interface VerificationListener {
  VerificationListener NONE = (address, verdict, fromCache) -> {};

  /**
   * @param address the address as given to the verifier
   * @param verdict what the caller was told
   * @param fromCache whether the answer came from the verdict cache, without asking the backend
   */
  void verified(String address, Verdict verdict, boolean fromCache);
}
