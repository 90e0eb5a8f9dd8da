package io.github.rcptproxy.subethasmtp;

/** What the client is told when a recipient could not be verified. */
public enum FailureMode {
  /** Accept the recipient unverified (fail open), as the 2005 original did. */
  ACCEPT,
  /** Answer a temporary failure, so the client's server tries again later (fail closed). */
  TEMPFAIL
}
