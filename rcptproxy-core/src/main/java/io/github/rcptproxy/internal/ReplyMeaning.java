package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;

/**
 * What a backend reply to {@code RCPT TO} or {@code VRFY} says on its face. No refusal becomes
 * {@link Verdict.Rejected} on its code alone: {@link #NO_SUCH_MAILBOX}, {@link #UNCLEAR_REFUSAL}
 * and {@link #POLICY_REFUSAL} are about this address only where the backend accepted a known-good
 * address in the same transaction ({@link Dialogue} asks it).
 */
enum ReplyMeaning {
  /** {@code 2xx}: the backend takes the address. */
  ACCEPTED,
  /**
   * {@code 5xx} with an enhanced status code about the recipient's mailbox or address: about the
   * mailbox once the backend accepted an address in the same transaction (a site may give a mailbox
   * code to every address it refuses for a policy, the null sender say).
   */
  NO_SUCH_MAILBOX,
  /**
   * {@code 5xx} that does not say what it is about (no enhanced status code, as Exim and OpenSMTPD
   * answer, or a code such as {@code 5.0.0}): about the mailbox only if a known-good address is
   * accepted right after it.
   */
  UNCLEAR_REFUSAL,
  /** {@code 5xx} whose enhanced status code is about the probe sender ({@code X.1.7}, X.1.8). */
  SENDER_REFUSED,
  /**
   * {@code 5xx} coded as policy or security ({@code X.7.x}): about this client or the probe unless
   * the backend gives it to this address only, accepting a known-good one right after it (some
   * sites answer unknown users {@code 550 5.7.1 ... user unknown}).
   */
  POLICY_REFUSAL,
  /**
   * {@code 5xx} whose enhanced status code is about something else than the address: protocol
   * ({@code X.5.x}), system or network ({@code X.3.x}, X.4.x).
   */
  REFUSED_FOR_OTHER_REASON,
  /** {@code 4xx} about this command: try again later. */
  TEMPORARY,
  /**
   * The session cannot answer any more: {@code 421} (closing), too many recipients ({@code X.5.3},
   * or {@code 452} without an enhanced code), bad sequence ({@code 503}). Ask again on a fresh
   * session.
   */
  SESSION_OVER;

  /** Classifies the reply to {@code RCPT TO} or {@code VRFY}. */
  static ReplyMeaning of(BackendReply reply) {
    int code = reply.code();
    if (code < 400) {
      return ACCEPTED;
    }
    String enhanced = reply.enhancedStatus();
    if (code == 421 || code == 503 || tooManyRecipients(reply)) {
      return SESSION_OVER;
    }
    if (code < 500) {
      return TEMPORARY;
    }
    if (code == 530) {
      return REFUSED_FOR_OTHER_REASON; // STARTTLS or AUTH first: about the session (RFC 3207, 4954)
    }
    if (enhanced.isEmpty()) {
      return UNCLEAR_REFUSAL;
    }
    String subjectDetail = enhanced.substring(enhanced.indexOf('.') + 1);
    return switch (subjectDetail) {
      // bad mailbox, bad system, bad syntax, ambiguous, moved, null MX; mailbox disabled or full
      case "1.1", "1.2", "1.3", "1.4", "1.6", "1.10", "2.1", "2.2" -> NO_SUCH_MAILBOX;
      case "1.7", "1.8" -> SENDER_REFUSED;
      default -> {
        char subject = subjectDetail.charAt(0);
        if (subject == '7') {
          yield POLICY_REFUSAL;
        }
        yield subject == '3' || subject == '4' || subject == '5'
            ? REFUSED_FOR_OTHER_REASON
            : UNCLEAR_REFUSAL;
      }
    };
  }

  /**
   * Whether the reply says the transaction holds too many recipients: {@code X.5.3}, or a {@code
   * 452} without an enhanced code ({@code 452 4.2.2} is a full mailbox, about that recipient only).
   */
  static boolean tooManyRecipients(BackendReply reply) {
    String enhanced = reply.enhancedStatus();
    return enhanced.endsWith(".5.3") || reply.code() == 452 && enhanced.isEmpty();
  }

  /**
   * Whether a reply to {@code VRFY} says the mailbox exists: {@code 250} or {@code 251} only. A
   * {@code 252} says the server cannot tell (RFC 5321 3.5.3: Exim's {@code 252 Administrative
   * prohibition}, Postfix for every address it would take).
   */
  static boolean vrfySaysExists(BackendReply reply) {
    return reply.code() == 250 || reply.code() == 251;
  }

  /** Whether a {@code VRFY} reply says the backend does not do VRFY at all. */
  static boolean vrfyNotSupported(BackendReply reply) {
    int code = reply.code();
    return code == 500 || code == 502 || code == 504;
  }
}
