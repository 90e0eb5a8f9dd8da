package io.github.rcptproxy.examples;

/** A command line that cannot be run; its message is the one-line error the user sees. */
final class UsageException extends RuntimeException {
  UsageException(String message) {
    super(message);
  }
}
