package io.github.rcptproxy.internal;

/** An address that must not be sent to the backend; the message says what is wrong with it. */
public final class InvalidAddressException extends Exception {
  InvalidAddressException(String message) {
    super(message);
  }
}
