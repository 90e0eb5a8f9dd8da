package io.github.rcptproxy.postfix;

/** What Postfix is told when a recipient could not be verified. */
public enum FailureMode {
  /** {@code DUNNO}: Postfix goes on with its other restrictions (fail open). */
  ACCEPT,
  /** A temporary refusal, so the client's server tries again later (fail closed). */
  TEMPFAIL
}
