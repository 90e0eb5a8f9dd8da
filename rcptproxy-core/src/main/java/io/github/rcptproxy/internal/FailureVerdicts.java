package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Verdict.Unverified} for a question the backend could not answer: its session failed,
 * the deadline passed, or it refused for a reason other than the mailbox (warned about once).
 */
final class FailureVerdicts {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  private final VerifierConfig config;
  private final MisconfigurationWarnings warnings;

  FailureVerdicts(VerifierConfig config, MisconfigurationWarnings warnings) {
    this.config = config;
    this.warnings = warnings;
  }

  /** What a failure to borrow a session, or of the session under the question, answers. */
  Verdict of(Exception e, Deadline deadline) {
    if (e instanceof SocketTimeoutException) {
      return deadline.expired()
          ? timeout(deadline)
          : unverified(Verdict.Reason.BACKEND_UNAVAILABLE, "connect timed out", deadline);
    }
    if (e instanceof SessionFailure failure) {
      return of(failure, deadline);
    }
    if (!(e instanceof IOException)) {
      LOG.warn("unexpected failure verifying against {}", config.backendHost().orElse("?"), e);
    }
    return unverified(Verdict.Reason.BACKEND_UNAVAILABLE, String.valueOf(e), deadline);
  }

  private Verdict of(SessionFailure failure, Deadline deadline) {
    String detail = failure.getMessage() + failure.reply().map(reply -> ": " + reply).orElse("");
    if (failure.getMessage().equals(SessionFailure.SESSION_REFUSED)
        && failure.reply().map(BackendReply::code).orElse(0) == 421) {
      warnings.sessionsRefused(detail);
    }
    switch (failure.reason()) {
      case SENDER_REJECTED, BACKEND_REFUSED, TLS_FAILED, AUTH_FAILED ->
          warnings.refused(
              failure.reason(), detail, failure.reply().map(BackendReply::code).orElse(0));
      default -> {}
    }
    return new Verdict.Unverified(failure.reason(), detail, failure.reply(), deadline.elapsed());
  }

  /**
   * A recipient deferred: unverified; where the deferral is for a policy ({@code 4.7.x}: Postfix's
   * {@code 450 4.7.1 Error: too many recipients from ...}) or says nothing (Exim's {@code defer
   * ratelimit}), with one warning naming the rate limits it may be.
   */
  Verdict deferred(BackendReply reply, Deadline deadline) {
    String enhanced = reply.enhancedStatus();
    if (enhanced.isEmpty() || enhanced.startsWith("4.7.")) {
      warnings.deferredForPolicy(reply.toString());
    }
    return new Verdict.Unverified(
        Verdict.Reason.TEMPORARY_FAILURE,
        "backend answered " + reply,
        Optional.of(reply),
        deadline.elapsed());
  }

  /** A refusal that is not about the mailbox: unverified, with one warning naming the fix. */
  Verdict refused(Verdict.Reason reason, BackendReply reply, Deadline deadline) {
    warnings.refused(reason, reply.toString(), reply.code());
    return new Verdict.Unverified(
        reason,
        "the backend refused for a reason other than the mailbox: " + reply,
        Optional.of(reply),
        deadline.elapsed());
  }

  /**
   * A refusal with nothing to compare it with: the backend has accepted no address the control
   * question could ask (warned about once).
   */
  Verdict unconfirmed(BackendReply reply, Deadline deadline) {
    warnings.refused(Verdict.Reason.REFUSAL_UNCONFIRMED, reply.toString(), reply.code());
    return new Verdict.Unverified(
        Verdict.Reason.REFUSAL_UNCONFIRMED,
        "the backend has accepted no address to compare with, so its refusal ("
            + reply
            + ") cannot be told from one of the probe sender, this client or the session",
        Optional.of(reply),
        deadline.elapsed());
  }

  static Verdict timeout(Deadline deadline) {
    return unverified(
        Verdict.Reason.TIMEOUT, "backend did not answer within the deadline", deadline);
  }

  static Verdict unverified(Verdict.Reason reason, String detail, Deadline deadline) {
    return new Verdict.Unverified(reason, detail, Optional.empty(), deadline.elapsed());
  }
}
