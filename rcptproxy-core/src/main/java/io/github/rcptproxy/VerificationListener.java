package io.github.rcptproxy;

/**
 * Hears every verdict a verifier hands out: the seam for metrics (see {@link MicrometerMetrics}) or
 * an audit log. Called on the verifying thread, so it must be quick and must not throw.
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
