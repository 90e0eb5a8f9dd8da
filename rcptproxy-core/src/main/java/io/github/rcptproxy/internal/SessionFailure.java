package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import java.io.IOException;
import java.util.Optional;

/**
 * A backend session could not answer. {@link #retryable()} marks a session that died under us (EOF,
 * reset, {@code 421}, too many recipients): a stale pooled session, worth one more try on a fresh
 * one.
 */
public final class SessionFailure extends IOException {
  /** The message of a failure whose greeting refused the session ({@code 421}, {@code 554}). */
  static final String SESSION_REFUSED = "backend refused the session";

  private final Verdict.Reason reason;
  private final boolean retryable;
  private final transient BackendReply reply;

  SessionFailure(Verdict.Reason reason, boolean retryable, String message, BackendReply reply) {
    super(message);
    this.reason = reason;
    this.retryable = retryable;
    this.reply = reply;
  }

  SessionFailure(Verdict.Reason reason, String message, BackendReply reply, Throwable cause) {
    super(message, cause);
    this.reason = reason;
    this.retryable = false;
    this.reply = reply;
  }

  static SessionFailure protocolError(String message) {
    return new SessionFailure(Verdict.Reason.PROTOCOL_ERROR, false, message, null);
  }

  /** The backend said the session is over ({@code 421}, too many recipients, bad sequence). */
  static SessionFailure sessionEnded(BackendReply reply) {
    return new SessionFailure(
        Verdict.Reason.BACKEND_UNAVAILABLE, true, "backend ended the session", reply);
  }

  /** The backend's refusal may be about the probe sender: ask again with its fallback. */
  static SessionFailure senderReplaced(BackendReply reply) {
    return new SessionFailure(
        Verdict.Reason.SENDER_REJECTED,
        true,
        "backend refused a recipient of the probe sender; asking again with its fallback",
        reply);
  }

  static SessionFailure closedByBackend() {
    return new SessionFailure(
        Verdict.Reason.BACKEND_UNAVAILABLE, true, "connection closed by backend", null);
  }

  Verdict.Reason reason() {
    return reason;
  }

  boolean retryable() {
    return retryable;
  }

  Optional<BackendReply> reply() {
    return Optional.ofNullable(reply);
  }
}
