package io.github.rcptproxy.policy;

/**
 * What the client is told when a recipient could not be verified: the same choice for the
 * SubEthaSMTP adapter and the Postfix policy server.
 */
public enum FailureMode {
  /**
   * Accept the recipient unverified (fail open), as the 2005 original did; the Postfix policy
   * server answers {@code DUNNO}, so Postfix goes on with its other restrictions.
   */
  ACCEPT,
  /** Answer a temporary failure, so the client's server tries again later (fail closed). */
  TEMPFAIL
}
