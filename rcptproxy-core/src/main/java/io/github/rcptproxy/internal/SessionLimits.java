package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How much one backend session may take before it is replaced: the configured first guesses,
 * lowered to what the backend showed. A session that the backend ended (it hung up, answered {@code
 * 421} or "too many", or refused a known-good address) after {@code n} rejections or {@code n}
 * {@code VRFY} commands teaches that limit, so later sessions are replaced before it.
 */
public final class SessionLimits {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  /**
   * A reply this slow is the backend throttling the session (Postfix's {@code
   * smtpd_error_sleep_time} past its soft error limit, its inflow control), not thinking.
   */
  public static final Duration THROTTLED = Duration.ofMillis(900);

  private final AtomicInteger maxRejections;
  private final AtomicInteger maxVrfy;
  private final AtomicInteger maxRecipients;
  private final AtomicBoolean slowAnswerWarned = new AtomicBoolean();

  /** Whether a refusal later than the deadline was warned about. */
  private final AtomicBoolean lateRefusalWarned = new AtomicBoolean();

  /**
   * Sessions in a row ended on the reply right after their first rejection ({@code 421} or a
   * hang-up): this many and the backend takes no refusal in a session.
   */
  static final int ENDED_ON_FIRST_REFUSAL_TO_WARN = 3;

  private final AtomicInteger endedOnFirstRefusal = new AtomicInteger();
  private final AtomicBoolean endedOnFirstRefusalWarned = new AtomicBoolean();

  /** Whether the backend was seen slowing its replies to a session after its rejections. */
  private volatile boolean slowsAfterErrors;

  SessionLimits(VerifierConfig config) {
    this.maxRejections = new AtomicInteger(config.maxRejectionsPerSession());
    this.maxVrfy = new AtomicInteger(config.maxVrfyPerSession());
    this.maxRecipients = new AtomicInteger(config.maxRecipientsPerTransaction());
  }

  int maxRejections() {
    return maxRejections.get();
  }

  int maxVrfy() {
    return maxVrfy.get();
  }

  int maxRecipients() {
    return maxRecipients.get();
  }

  /** The backend answered "too many recipients" after this many in one transaction. */
  void recipientsTolerated(int count) {
    lower(maxRecipients, count, "recipients in a transaction");
  }

  /**
   * Whether the backend slows every reply of a session after its errors (Postfix's {@code
   * smtpd_error_sleep_time} past {@code smtpd_soft_error_limit}): then a session with rejections is
   * closed without {@code QUIT}, whose answer the backend would hold back for that sleep, keeping
   * the connection, which counts toward its per-client connection limit, that long.
   */
  boolean slowsAfterErrors() {
    return slowsAfterErrors;
  }

  /** A refusal came later than the deadline: true the first time only (one warning). */
  boolean lateRefusal() {
    return lateRefusalWarned.compareAndSet(false, true);
  }

  /** The backend slowed a session's replies after {@code count} rejections. */
  void throttledAfter(int count) {
    slowsAfterErrors = true;
    rejectionsTolerated(count);
  }

  /** The backend ended a session that had taken this many rejections without trouble. */
  void rejectionsTolerated(int count) {
    lower(maxRejections, count, "rejected recipients");
  }

  /**
   * The backend ended a session on the reply right after its first rejection: several sessions in a
   * row, and it ends every one there (Postfix {@code smtpd_hard_error_limit = 1}, as under its
   * stress mode; an Exim {@code drop} on the first failed recipient), which no pacing avoids: said
   * once, naming those settings. A limit of two or more, or Exim's {@code 554 Too many nonmail
   * commands}, answers after the first refusal ({@link #refusalTolerated}).
   */
  void endedOnFirstRefusal() {
    if (endedOnFirstRefusal.incrementAndGet() < ENDED_ON_FIRST_REFUSAL_TO_WARN) {
      return;
    }
    rejectionsTolerated(0); // batches of one: a recipient behind a refusal would go unanswered
    if (endedOnFirstRefusalWarned.compareAndSet(false, true)) {
      LOG.warn(
          "the backend ended {} sessions in a row on the reply right after their first refused"
              + " recipient (421 or a hang-up): each refusal costs a session, and the"
              + " verifications it ends are answered UNVERIFIED BACKEND_UNAVAILABLE; let it take"
              + " refusals from this host: Postfix smtpd_hard_error_limit (default 20, 1 under"
              + " stress; smtpd_soft_error_limit only slows replies), Exim an ACL drop on"
              + " $rcpt_fail_count (smtp_max_synprot_errors counts protocol errors, not refused"
              + " recipients)",
          endedOnFirstRefusal.get());
    }
  }

  /**
   * Whether the last {@value #ENDED_ON_FIRST_REFUSAL_TO_WARN} sessions with a rejection, or more,
   * were each ended on the reply right after it: then a random {@code VRFY}, refused, would end the
   * session it is asked on, with the verification it was to confirm.
   */
  boolean endsSessionsOnFirstRefusal() {
    return endedOnFirstRefusal.get() >= ENDED_ON_FIRST_REFUSAL_TO_WARN;
  }

  /** A session took a command after a rejection: the run of sessions ended on one is broken. */
  void refusalTolerated() {
    endedOnFirstRefusal.set(0);
  }

  /**
   * The backend ended a session that had taken this many VRFY and RSET commands without trouble.
   */
  void vrfyTolerated(int count) {
    lower(maxVrfy, count, "VRFY and RSET commands");
  }

  /**
   * The backend took {@code took} to answer one exchange on a session: about a second is the
   * backend throttling, not thinking (Postfix's inflow control, each abandoned probe transaction
   * with a valid recipient keeping a token, or its error-limit delay). Said once per configuration,
   * naming that backend and that exchange's time, never the verification's, which may have lost its
   * time on another backend first (one that accepted the connection and never greeted).
   */
  void answered(Object backend, Duration took) {
    if (took.compareTo(THROTTLED) >= 0 && slowAnswerWarned.compareAndSet(false, true)) {
      LOG.warn(
          "backend {} took {} ms to answer a probe: it is likely throttling probes (Postfix"
              + " in_flow_delay or smtpd_error_sleep_time); probeMethod VRFY opens no transaction",
          backend,
          took.toMillis());
    }
  }

  private static void lower(AtomicInteger limit, int tolerated, String what) {
    int learnt = Math.max(1, tolerated);
    int before = limit.getAndAccumulate(learnt, Math::min);
    if (learnt < before) {
      LOG.info(
          "the backend ended or slowed a session after {} {}: sessions are now replaced after {}",
          tolerated + 1,
          what,
          learnt);
    }
  }
}
