package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.VerifierConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * What one backend session has taken so far, against the backend's {@link SessionLimits}: its
 * rejections, its {@code VRFY} and {@code RSET} commands, the recipients of its open transaction,
 * its age and idle time. It says when the session must be replaced ({@link #withinLimits}) and how
 * large a batch it may still take ({@link #capacity}), and teaches the shared limits what the
 * backend showed: a session the backend ended, or slowed, after {@code n} of something had taken
 * {@code n} without trouble. No I/O: {@link BackendSession} tells it what was sent and answered.
 */
final class LimitLearner {
  /**
   * A session ended after lying idle this long may have met the backend's idle timeout (its {@code
   * 421} crossing our command), which says nothing about its limits.
   */
  static final Duration IDLE_RACE = Duration.ofSeconds(1);

  private final SessionLimits limits;
  private final Duration maxAge;
  private final Duration idleTimeout;
  private final LongSupplier nanoTime;
  private final Instant createdAt;
  private Instant lastUsed;

  /** Recipients refused, {@code 4xx} or {@code 5xx}: Postfix counts both as errors. */
  private int rejections;

  /**
   * {@code VRFY} and {@code RSET} commands: Postfix counts both as junk commands ({@code
   * smtpd_junk_command_limit}), Exim counts {@code VRFY} as a non-mail command.
   */
  private int vrfyCommands;

  private int recipientsInTransaction;

  /** Recipients the open transaction accepted: Postfix opens its queue file at the first. */
  private int acceptedInTransaction;

  /** The counts when the current verification took the session. */
  private int rejectionsBeforeUse;

  private int vrfyBeforeUse;

  /** Rejections answered before the last reply of an exchange the backend hung up after. */
  private int rejectionsBeforeHangUp;

  /** Rejections before the last reply counted in the current use. */
  private int rejectionsBeforeLastReply;

  /**
   * Whether the backend answered anything but {@code 421} after the session's first rejection: then
   * it did not end the session on that refusal.
   */
  private boolean answeredAfterRejection;

  /** Whether {@link #sessionEnded} has told the limits how this session ended. */
  private boolean endTaught;

  /** How long the session lay idle before the current use. */
  private Duration idleBeforeUse = Duration.ZERO;

  LimitLearner(SessionLimits limits, VerifierConfig config, Instant now) {
    this(limits, config.maxSessionAge(), config.idleTimeout(), System::nanoTime, now);
  }

  /** With the ticker that times exchanges: {@link System#nanoTime}, or a test's. */
  LimitLearner(
      SessionLimits limits,
      Duration maxAge,
      Duration idleTimeout,
      LongSupplier nanoTime,
      Instant now) {
    this.limits = limits;
    this.maxAge = maxAge;
    this.idleTimeout = idleTimeout;
    this.nanoTime = nanoTime;
    this.createdAt = now;
    this.lastUsed = now;
  }

  /**
   * The counts before one exchange, and when it started, to tell a throttled answer by.
   *
   * @param junkBeforeReset the session's VRFY and RSET commands before the exchange's RSET, 0 if it
   *     has none
   * @param mayOpenQueueFile whether the exchange may bring its transaction's first accepted
   *     recipient
   */
  record Exchange(
      long startedNanos, int rejectionsBefore, int junkBeforeReset, boolean mayOpenQueueFile) {}

  /** A verification took the session: what it does from here may teach limits. */
  void startUse(Instant now) {
    rejectionsBeforeUse = rejections;
    rejectionsBeforeHangUp = 0;
    rejectionsBeforeLastReply = 0;
    vrfyBeforeUse = vrfyCommands;
    idleBeforeUse = Duration.between(lastUsed, now);
  }

  /** The session went back to the pool. */
  void idleFrom(Instant now) {
    lastUsed = now;
  }

  /**
   * Whether the open transaction cannot take {@code recipients} more and a control question after
   * them within {@code maxRecipientsPerTransaction}.
   */
  boolean transactionFull(int recipients) {
    return recipientsInTransaction + recipients + 1 > limits.maxRecipients();
  }

  /**
   * An RCPT exchange is about to be sent; a {@code RSET} in it counts as a junk command.
   *
   * @param reset whether it resets the transaction first
   * @param open whether it opens a transaction ({@code MAIL})
   */
  Exchange rcptExchange(boolean reset, boolean open) {
    int junkBeforeReset = reset ? vrfyCommands : 0;
    if (reset) {
      vrfyCommands++;
    }
    return new Exchange(
        nanoTime.getAsLong(), rejections, junkBeforeReset, open || acceptedInTransaction == 0);
  }

  /** A VRFY exchange is about to be sent. */
  Exchange vrfyExchange() {
    return new Exchange(nanoTime.getAsLong(), rejections, 0, false);
  }

  /** The backend took the {@code RSET}: the transaction is empty. */
  void transactionReset() {
    recipientsInTransaction = 0;
    acceptedInTransaction = 0;
  }

  /**
   * Counts the replies to an exchange: each refusal (a {@code 421} aside) is a rejection, each VRFY
   * a junk command, each RCPT a recipient of the transaction; "too many recipients" teaches the
   * recipient limit.
   *
   * @param hungUp whether the backend hung up before answering all: then the rejections before its
   *     last reply are what it had tolerated, for {@link #sessionEnded}
   */
  void counted(List<BackendReply> replies, boolean vrfy, boolean hungUp) {
    int rejectionsBeforeLast = rejections;
    for (BackendReply reply : replies) {
      rejectionsBeforeLast = rejections;
      if (reply.code() != 421) {
        answeredAfterRejection();
      }
      if (vrfy) {
        vrfyCommands++;
      } else {
        if (ReplyMeaning.tooManyRecipients(reply)) {
          limits.recipientsTolerated(recipientsInTransaction);
        }
        recipientsInTransaction++;
        if (reply.code() < 400) {
          acceptedInTransaction++;
        }
      }
      if (reply.code() != 421 && reply.code() >= 400) {
        rejections++; // temporary or not: Postfix counts every refusal as an error
      }
    }
    if (!replies.isEmpty()) {
      rejectionsBeforeLastReply = rejectionsBeforeLast;
    }
    if (hungUp) {
      rejectionsBeforeHangUp = rejectionsBeforeLast;
    }
    if (hungUp || replies.stream().anyMatch(reply -> reply.code() == 421)) {
      ended();
    }
  }

  /**
   * The next command after the last reply counted found the session closed: the backend hung up
   * right after that reply, as if it were the last of an exchange cut short ({@link #counted}).
   */
  void hungUpAfterLastReply() {
    rejectionsBeforeHangUp = Math.max(rejectionsBeforeHangUp, rejectionsBeforeLastReply);
  }

  /**
   * The backend ended the session ({@code 421}, a hang-up): one ended on the reply right after its
   * first rejection, not after lying idle, is told to the limits ({@link
   * SessionLimits#endedOnFirstRefusal}). Once per session, whichever sign of the end comes first.
   */
  void ended() {
    if (!endTaught
        && rejections == 1
        && !answeredAfterRejection
        && idleBeforeUse.compareTo(IDLE_RACE) < 0) {
      limits.endedOnFirstRefusal();
    }
    endTaught = true;
  }

  /**
   * The backend answered a command after the session's rejections (a refused {@code RSET} among
   * them): it did not end the session on its first refusal.
   */
  void answeredAfterRejection() {
    if (rejections > 0 && !answeredAfterRejection) {
      answeredAfterRejection = true;
      limits.refusalTolerated();
    }
  }

  /**
   * The backend ended the session during the current use: the counts it had taken before without
   * trouble are its limits. Where it hung up in the middle of a pipelined batch, after answering
   * rejections, the rejections before its last reply, less one (room for the control question after
   * them), are: Exim's {@code drop} after too many failed recipients ends a fresh session in its
   * first batch, again and again were nothing learnt. So are the VRFYs before the use, less one (a
   * use may ask a control VRFY after its question). A session ended on its first use without that,
   * or after lying idle ({@link #IDLE_RACE}), teaches nothing.
   */
  void sessionEnded() {
    ended();
    if (idleBeforeUse.compareTo(IDLE_RACE) >= 0) {
      return;
    }
    int rejectionsTolerated = Math.max(rejectionsBeforeUse, rejectionsBeforeHangUp - 1);
    if (vrfyCommands > vrfyBeforeUse && vrfyBeforeUse > 0) {
      limits.vrfyTolerated(vrfyBeforeUse - 1);
    } else if (rejectionsTolerated > 0) {
      limits.rejectionsTolerated(rejectionsTolerated);
    }
  }

  /**
   * Whether the exchange, now answered, was slowed: answered later than {@link
   * SessionLimits#THROTTLED} after earlier rejections, the backend is throttling this session for
   * its errors. Its answer stands; the session is to be replaced and the count it tolerated becomes
   * the limit. Postfix also counts each junk command past {@code smtpd_junk_command_limit} as an
   * error, and delays every reply once past its soft error limit: a reset transaction answered
   * twice that late (its MAIL and RCPT replies; inflow control delays only the first valid RCPT)
   * teaches the limit of the {@code VRFY} and {@code RSET} commands taken before it. An exchange
   * with the transaction's first accepted recipient may have waited that long for Postfix's inflow
   * control (a queue file opened without a token left): it teaches a rejection limit only if twice
   * as slow.
   */
  boolean throttled(Exchange exchange) {
    long took = took(exchange).toNanos();
    long throttled = SessionLimits.THROTTLED.toNanos();
    boolean openedQueueFile = exchange.mayOpenQueueFile() && acceptedInTransaction > 0;
    if (exchange.junkBeforeReset() > 0 && took >= 2 * throttled) {
      limits.vrfyTolerated(exchange.junkBeforeReset());
      return true;
    }
    if (exchange.rejectionsBefore() > 0 && took >= (openedQueueFile ? 2 : 1) * throttled) {
      limits.throttledAfter(exchange.rejectionsBefore());
      return true;
    }
    return false;
  }

  /** The exchange with {@code backend} is answered: a slow answer is reported once. */
  void answered(Exchange exchange, Object backend) {
    limits.answered(backend, took(exchange));
  }

  /** How long the exchange, now answered, took. */
  private Duration took(Exchange exchange) {
    return Duration.ofNanos(nanoTime.getAsLong() - exchange.startedNanos());
  }

  /**
   * Whether to say {@code QUIT} when the session is closed: not after rejections where the backend
   * slows its replies after errors ({@link SessionLimits#slowsAfterErrors}).
   */
  boolean mayQuit() {
    return rejections == 0 || !limits.slowsAfterErrors();
  }

  /** Within the backend's limits, not too old, not idle too long. */
  boolean withinLimits(Instant now) {
    return rejections < limits.maxRejections()
        && vrfyCommands < limits.maxVrfy()
        && Duration.between(createdAt, now).compareTo(maxAge) < 0
        && Duration.between(lastUsed, now).compareTo(idleTimeout) < 0;
  }

  /**
   * How many recipients one RCPT batch may carry without reaching the backend's limits: what is
   * left of the rejection budget, at most a whole transaction but the room kept for a control
   * question (a full one is reset first).
   */
  int capacity() {
    return Math.max(1, Math.min(limits.maxRejections() - rejections, limits.maxRecipients() - 1));
  }
}
