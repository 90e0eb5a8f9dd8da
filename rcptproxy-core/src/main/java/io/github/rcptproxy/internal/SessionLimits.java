package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.VerifierConfig;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How much one backend session may take before it is replaced: the configured first guesses,
 * lowered to what the backend showed. A session that the backend ended (it hung up, answered {@code
 * 421} or "too many", or refused a known-good address) after {@code n} rejections or {@code n}
 * {@code VRFY} commands teaches that limit, so later sessions are replaced before it. Where
 * verifiers share findings ({@link #shareWith}), what one learnt is the others' too.
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

  /** Where a store shared by several verifiers keeps a backend's limits: not an address key. */
  static final String STORE_PREFIX = "session-limits:";

  /**
   * How long limits written to a shared store hold there: a backend's configuration changes, and a
   * verifier that joins later learns anew what it then takes (one that read them keeps them, as it
   * keeps its own, for its configuration's life).
   */
  static final Duration SHARED_HOLDS = Duration.ofHours(1);

  /** How often a new session looks in the shared store for what the other verifiers learnt. */
  static final Duration REFRESH = Duration.ofSeconds(1);

  /** The shared store's key: the backend hosts as configured, the same on every verifier. */
  private final String storeKey;

  private final Clock clock;

  /** The configuration, whose first guesses are not written to the shared store. */
  private final VerifierConfig configured;

  /** Where the verifiers that share findings share these limits; null if nowhere. */
  private volatile VerdictCache shared;

  /** When ({@link System#nanoTime}) a new session next reads the shared store. */
  private final AtomicLong nextRefresh = new AtomicLong(System.nanoTime());

  SessionLimits(VerifierConfig config) {
    this.maxRejections = new AtomicInteger(config.maxRejectionsPerSession());
    this.maxVrfy = new AtomicInteger(config.maxVrfyPerSession());
    this.maxRecipients = new AtomicInteger(config.maxRecipientsPerTransaction());
    this.configured = config;
    this.clock = config.clock();
    this.storeKey =
        STORE_PREFIX
            + config.backends().stream()
                .map(backend -> backend.getHostString() + ":" + backend.getPort())
                .collect(Collectors.joining(","));
  }

  /**
   * From now on, a limit learnt here is written to {@code store} ({@value #STORE_PREFIX}{@code
   * host:port,...}, for {@link #SHARED_HOLDS}; the guarded store writes in the background) and a
   * new session first lowers these limits to what is written there ({@link #refresh}), so that the
   * verifiers sharing it each hit the backend's limit once for all, not once each.
   */
  void shareWith(VerdictCache store) {
    this.shared = store;
  }

  /**
   * A session is about to be opened: at most once per {@link #REFRESH}, the limits the other
   * verifiers wrote to the shared store lower these. A guarded store is read in the background, so
   * that a slow cluster never holds up the session (what it says counts for every session, this one
   * too, once it comes); a lookup that fails leaves these limits as they are.
   */
  void refresh() {
    VerdictCache store = shared;
    long due = nextRefresh.get();
    if (store == null
        || System.nanoTime() - due < 0
        || !nextRefresh.compareAndSet(due, System.nanoTime() + REFRESH.toNanos())) {
      return;
    }
    if (store instanceof GuardedCache guarded) {
      guarded.getLater(storeKey, this::heardStored);
    } else {
      heardStored(store.get(storeKey));
    }
  }

  /** Lowers these limits to those found in the shared store, unless expired there. */
  private void heardStored(Optional<VerdictCache.CachedVerdict> stored) {
    stored
        .filter(found -> found.expiresAt().isAfter(clock.instant()))
        .ifPresent(found -> heard(found.reply().text()));
  }

  /**
   * Lowers these limits to those of {@link #written}'s text; a word it does not know is skipped.
   */
  private void heard(String text) {
    boolean lowered = false;
    for (String word : text.split(" ")) {
      String[] pair = word.split("=", 2);
      if (pair.length == 2 && pair[0].equals("slows")) {
        lowered |= Boolean.parseBoolean(pair[1]) && !slowsAfterErrors;
        slowsAfterErrors |= Boolean.parseBoolean(pair[1]);
      } else if (pair.length == 2 && pair[1].matches("[0-9]{1,9}")) {
        AtomicInteger limit =
            switch (pair[0]) {
              case "rejections" -> maxRejections;
              case "vrfy" -> maxVrfy;
              case "recipients" -> maxRecipients;
              default -> null;
            };
        lowered |= limit != null && lower(limit, Integer.parseInt(pair[1]), pair[0], false);
      }
    }
    if (lowered) {
      LOG.info(
          "another verifier sharing findings learnt the backend's session limits: this one's are"
              + " now {}",
          written());
    }
  }

  /**
   * These limits as the shared store keeps them: only those lowered below this configuration's
   * first guesses (by the backend, or by another verifier), never a guess, which another verifier's
   * configuration may set higher on purpose.
   */
  private String written() {
    StringBuilder text = new StringBuilder("slows=" + slowsAfterErrors);
    word(text, "rejections", maxRejections, configured.maxRejectionsPerSession());
    word(text, "vrfy", maxVrfy, configured.maxVrfyPerSession());
    word(text, "recipients", maxRecipients, configured.maxRecipientsPerTransaction());
    return text.toString();
  }

  private static void word(StringBuilder text, String name, AtomicInteger limit, int guess) {
    if (limit.get() < guess) {
      text.append(' ').append(name).append('=').append(limit.get());
    }
  }

  /** Writes these limits to the shared store, if any: one of them was just learnt here. */
  private void share() {
    VerdictCache store = shared;
    if (store != null) {
      Instant now = clock.instant();
      store.put(
          storeKey,
          new VerdictCache.CachedVerdict(
              new BackendReply(250, "", written()), now, now.plus(SHARED_HOLDS)));
    }
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
    lower(maxRecipients, count, "recipients in a transaction", true);
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
    boolean news = !slowsAfterErrors;
    slowsAfterErrors = true;
    if (!lower(maxRejections, count, "rejected recipients", true) && news) {
      share();
    }
  }

  /** The backend ended a session that had taken this many rejections without trouble. */
  void rejectionsTolerated(int count) {
    lower(maxRejections, count, "rejected recipients", true);
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
    lower(maxVrfy, count, "VRFY and RSET commands", true);
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

  /**
   * Lowers {@code limit} to {@code tolerated} (at least 1); returns whether that lowered it. A
   * limit the backend showed here ({@code here}) is logged and written to the shared store; one
   * read there is logged by {@link #heard}.
   */
  private boolean lower(AtomicInteger limit, int tolerated, String what, boolean here) {
    int learnt = Math.max(1, tolerated);
    int before = limit.getAndAccumulate(learnt, Math::min);
    if (learnt >= before) {
      return false;
    }
    if (here) {
      LOG.info(
          "the backend ended or slowed a session after {} {}: sessions are now replaced after {}",
          tolerated + 1,
          what,
          learnt);
      share();
    }
    return true;
  }
}
