package io.github.rcptproxy.gateway;

/** A command line that cannot be run; its message is the one-line error the user sees. */
public final class UsageException extends RuntimeException {
  public UsageException(String message) {
    super(message);
  }
}
