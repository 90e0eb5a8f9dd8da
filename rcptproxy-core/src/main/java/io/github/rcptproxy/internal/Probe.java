package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.Verdict;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.List;

/** Puts addresses to a backend session with {@code RCPT TO} or {@code VRFY}. */
final class Probe {
  private Probe() {}

  /**
   * Puts the addresses; with RCPT in a transaction reset first if it is full and {@code mayReset}
   * (never for the control question: {@link BackendSession#rcpt}).
   */
  static BackendSession.Answers put(
      BackendSession session,
      ProbeMethod method,
      List<Mailbox> mailboxes,
      boolean mayReset,
      Deadline deadline)
      throws IOException {
    try {
      return method == ProbeMethod.VRFY
          ? session.vrfy(mailboxes, deadline)
          : session.rcpt(mailboxes, deadline, mayReset);
    } catch (InvalidAddressException e) {
      throw new IllegalStateException("a validated address could not be encoded", e);
    }
  }

  /**
   * One address and its reply (with RCPT, in the transaction of the questions before it); a reply
   * followed by a hang-up, or a session found closed when it is asked, is about the session, which
   * ended: its limits are taught and the question goes to a fresh session.
   */
  static BackendReply askOne(
      BackendSession session, ProbeMethod method, Mailbox mailbox, Deadline deadline)
      throws IOException {
    BackendSession.Answers answers;
    try {
      answers = put(session, method, List.of(mailbox), false, deadline);
    } catch (SocketTimeoutException e) {
      throw e;
    } catch (IOException e) {
      if (!(e instanceof SessionFailure failure)
          || failure.reason() == Verdict.Reason.BACKEND_UNAVAILABLE) {
        // Closed under the follow-up question: the reply before it came with a hang-up (Exim's
        // smtp_accept_max_nonmail answers the VRFY past it, then closes). After RCPTs, the
        // rejections before that reply were taken (an Exim drop on $rcpt_fail_count).
        if (method == ProbeMethod.RCPT) {
          session.hungUpAfterLastReply();
        }
        session.teachLimits();
      }
      throw e;
    }
    if (answers.hungUp() || answers.replies().isEmpty()) {
      session.teachLimits();
      throw SessionFailure.closedByBackend();
    }
    return answers.replies().get(0);
  }
}
