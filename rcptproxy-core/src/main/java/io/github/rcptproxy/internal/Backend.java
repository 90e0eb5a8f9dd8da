package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.ToIntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One configuration's view of the backend: its session pool and what was learnt about it (its
 * limits, which domains answer {@code VRFY} honestly, a known-good address per domain). Replaced
 * whole on reconfiguration.
 *
 * <p>A refusal becomes {@link Verdict.Rejected} only when it is about the mailbox: its enhanced
 * status code says so, or — where the backend sends none, as Exim and OpenSMTPD do — a known-good
 * address (the last one the backend accepted in the domain, else in any domain) is accepted in the
 * same session right after it. If that is refused too, the refusal is about the probe sender, the
 * client or the session: the session is replaced, the question asked once more on a fresh one, and
 * then answered {@link Verdict.Reason#BACKEND_REFUSED}; so is a refusal before the backend ever
 * accepted an address (nothing to tell it by).
 */
public final class Backend implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  /** How long a domain's VRFY trust (or the backend's refusal of VRFY) holds before a re-check. */
  static final int VRFY_TRUST_MINUTES = 10;

  private static final Duration VRFY_TRUST_TTL = Duration.ofMinutes(VRFY_TRUST_MINUTES);

  /** Fresh sessions a verification may take after the first one failed under it. */
  private static final int MAX_RETRIES = 2;

  /** How long past its deadline a batch waits for a share on another thread (it never should). */
  private static final long JOIN_MARGIN_MILLIS = 1000;

  private final VerifierConfig config;
  private final SessionPool pool;
  private final SessionLimits limits;
  private final ExecutorService batchThreads;

  /** VRFY where honest; LMTP servers (Dovecot: {@code 501}) are asked with RCPT only. */
  private final boolean vrfy;

  /** Whether VRFY answers are trusted in a domain, and until when. */
  private final DomainMemory<VrfyTrust> vrfyTrust = new DomainMemory<>();

  private final KnownGood knownGood;

  private volatile Instant vrfyUnsupportedUntil = Instant.MIN;

  /** The kinds of misconfiguration already warned about (each once per configuration). */
  private final Set<String> warned = ConcurrentHashMap.newKeySet();

  private record VrfyTrust(boolean honest, Instant until) {}

  /** One address still to be answered, and where its verdict goes. */
  private record Question(int index, Mailbox mailbox, String domain) {}

  /** A refusal that did not say what it is about, waiting for the control question. */
  private record Refusal(Question question, BackendReply reply) {}

  public Backend(
      VerifierConfig config, Counters counters, KnownGood knownGood, ExecutorService batchThreads) {
    this.config = config;
    this.knownGood = knownGood;
    this.batchThreads = batchThreads;
    this.limits = new SessionLimits(config);
    this.vrfy =
        config.probeMethod() == ProbeMethod.VRFY && config.protocol() == BackendProtocol.SMTP;
    if (config.backends().isEmpty()) {
      this.pool = null;
    } else {
      LOG.info("verifying recipients against {}", config);
      this.pool = new SessionPool(new Connector(config), config, limits, counters);
    }
  }

  public VerifierConfig config() {
    return config;
  }

  public KnownGood knownGood() {
    return knownGood;
  }

  public boolean configured() {
    return pool != null;
  }

  public int activeSessions() {
    return pool == null ? 0 : pool.active();
  }

  public int idleSessions() {
    return pool == null ? 0 : pool.idle();
  }

  /**
   * Verifies the addresses within one deadline and returns their verdicts in order. An entry is
   * null where the question was still unanswered when this backend was closed by a reconfiguration
   * (never put, or to be asked again after its session failed): the caller asks the new one. A
   * batch larger than one session takes at a time is answered on several sessions at once: the
   * caller's thread and batch threads each take the next questions from one queue as their session
   * can take them, so a session that answers early takes more and a slow one holds up no other. A
   * session that fails under its questions is replaced and they are asked again on a fresh one, at
   * most {@value #MAX_RETRIES} times, within the deadline.
   */
  public List<Verdict> verifyAll(List<String> addresses, Deadline deadline) {
    Verdict[] verdicts = new Verdict[addresses.size()];
    if (pool == null) {
      Arrays.fill(
          verdicts, unverified(Verdict.Reason.NOT_CONFIGURED, "no backend configured", deadline));
      return Arrays.asList(verdicts);
    }
    List<Question> open = new ArrayList<>(verdicts.length);
    for (int i = 0; i < verdicts.length; i++) {
      try {
        Mailbox mailbox = Mailbox.parse(addresses.get(i));
        open.add(new Question(i, mailbox, mailbox.domain().toLowerCase(Locale.ROOT)));
      } catch (InvalidAddressException e) {
        verdicts[i] = unverified(Verdict.Reason.INVALID_ADDRESS, e.getMessage(), deadline);
      }
    }
    if (open.isEmpty()) {
      return Arrays.asList(verdicts);
    }
    Queue queue = new Queue(open);
    List<Future<Verdict[]>> helpers = new ArrayList<>();
    for (int i = 1; i < sessionsFor(open.size()); i++) {
      try {
        helpers.add(
            batchThreads.submit(
                () -> {
                  Verdict[] answered = new Verdict[verdicts.length];
                  answerFrom(queue, answered, deadline);
                  return answered;
                }));
      } catch (RejectedExecutionException e) {
        break; // every batch thread busy: fewer sessions answer this batch
      }
    }
    answerFrom(queue, verdicts, deadline);
    boolean helperLost = false;
    for (Future<Verdict[]> helper : helpers) {
      Optional<Verdict[]> answered = join(helper, deadline);
      answered.ifPresent(
          them -> {
            for (int i = 0; i < them.length; i++) {
              if (them[i] != null) {
                verdicts[i] = them[i];
              }
            }
          });
      helperLost |= answered.isEmpty();
    }
    queue.settleLeft(verdicts);
    if (helperLost) {
      Verdict late = timeout(deadline);
      for (Question question : open) {
        if (verdicts[question.index()] == null) {
          verdicts[question.index()] = late;
        }
      }
    }
    return Arrays.asList(verdicts);
  }

  /**
   * How many sessions a batch is answered on at once: as many as it needs (a session takes {@code
   * maxRejectionsPerSession} at a time), at most {@code maxSessions}.
   */
  private int sessionsFor(int questions) {
    int perSession = Math.max(1, limits.maxRejections());
    return Math.min(config.maxSessions(), (questions + perSession - 1) / perSession);
  }

  /** A helper's verdicts, once it finished (its every wait is bounded by the deadline). */
  private static Optional<Verdict[]> join(Future<Verdict[]> helper, Deadline deadline) {
    try {
      return Optional.of(
          helper.get(deadline.remaining().toMillis() + JOIN_MARGIN_MILLIS, TimeUnit.MILLISECONDS));
    } catch (TimeoutException | ExecutionException e) {
      LOG.warn("part of a batch did not finish with its deadline", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return Optional.empty();
  }

  /**
   * The questions of one batch not yet taken by a session, shared by the threads answering it; and
   * what a thread that gave up (no session within the deadline, none could be opened) answered, for
   * the questions no other thread took.
   */
  private static final class Queue {
    private final ArrayDeque<Question> questions;
    private Verdict gaveUp;

    Queue(List<Question> questions) {
      this.questions = new ArrayDeque<>(questions);
    }

    synchronized boolean isEmpty() {
      return questions.isEmpty();
    }

    /** Moves the next questions into {@code into}, as many as {@code room} allows for the first. */
    synchronized void take(List<Question> into, ToIntFunction<Question> room) {
      Question first = questions.peek();
      for (int n = first == null ? 0 : room.applyAsInt(first); n > 0 && !questions.isEmpty(); n--) {
        into.add(questions.poll());
      }
    }

    synchronized void gaveUp(Verdict verdict) {
      gaveUp = verdict;
    }

    /**
     * Answers the questions no thread took with what the last one to give up answered; leaves them
     * null (for the new backend) where the threads stopped because of a reconfiguration.
     */
    synchronized void settleLeft(Verdict[] verdicts) {
      for (Question question : questions) {
        verdicts[question.index()] = gaveUp;
      }
      questions.clear();
    }
  }

  /**
   * Answers questions from the queue on as many sessions in turn as it takes, within the deadline,
   * until the queue is empty. The questions it took are left unanswered (null) only if the pool was
   * closed before they were answered (never put, or to be asked again after their session failed).
   */
  private void answerFrom(Queue queue, Verdict[] verdicts, Deadline deadline) {
    List<Question> open = new ArrayList<>();
    int retries = 0;
    boolean refusedBefore = false;
    while (!open.isEmpty() || !queue.isEmpty()) {
      Verdict failed = null;
      BackendSession session = null;
      if (deadline.expired()) {
        failed = timeout(deadline);
      } else {
        try {
          session = pool.borrow(deadline);
        } catch (NoSuchElementException e) {
          failed =
              unverified(
                  Verdict.Reason.BUSY, "no backend session free within the deadline", deadline);
        } catch (IllegalStateException e) {
          return; // reconfigured: what this thread has not answered goes to the new backend
        } catch (Exception e) {
          failed = failure(e, deadline);
        }
      }
      if (failed != null) {
        settleAll(open, verdicts, failed);
        queue.gaveUp(failed);
        return;
      }
      try {
        if (open.isEmpty()) {
          BackendSession taken = session;
          queue.take(open, question -> roomFor(taken, question));
          retries = 0;
          refusedBefore = false;
        }
        session.startUse();
        answer(session, open, verdicts, deadline);
      } catch (IOException e) {
        if (retryable(e, retries++, refusedBefore) && !deadline.expired()) {
          refusedBefore |= refusedKnownGood(e);
          LOG.debug("{} failed ({}); asking again on a fresh session", session, e.getMessage());
          if (!(e instanceof SessionFailure failure && failure.reply().isPresent())) {
            pool.discardIdle(); // the connection died: its idle siblings likely did too
          }
          continue;
        }
        Verdict failedUnder = failure(e, deadline);
        settleAll(open, verdicts, failedUnder);
        queue.gaveUp(failedUnder);
        return;
      } finally {
        pool.release(session);
      }
    }
  }

  /**
   * How many questions one exchange on the session takes, the first of them this one: one where
   * VRFY may answer (it is not pipelined), else a pipelined RCPT batch as large as the session's
   * limits allow.
   */
  private int roomFor(BackendSession session, Question first) {
    return vrfy && vrfyMayServe(first.domain()) ? 1 : session.capacity();
  }

  /**
   * Answers what it can of the open questions on one session, removing the answered ones: a
   * pipelined RCPT batch as large as the session's limits allow, or one question with VRFY.
   *
   * @throws IOException if the session failed under the questions; those not answered stay open
   */
  private void answer(
      BackendSession session, List<Question> open, Verdict[] verdicts, Deadline deadline)
      throws IOException {
    if (open.isEmpty()) {
      return;
    }
    boolean tryVrfy = vrfy && vrfyMayServe(open.get(0).domain());
    int capacity = roomFor(session, open.get(0));
    List<Question> batch = new ArrayList<>();
    for (Iterator<Question> it = open.iterator(); it.hasNext() && batch.size() < capacity; ) {
      Question question = it.next();
      if (question.mailbox().needsSmtputf8() && !session.offers("SMTPUTF8")) {
        verdicts[question.index()] =
            unverified(
                Verdict.Reason.INVALID_ADDRESS,
                "non-ASCII local part needs SMTPUTF8, which the backend does not offer",
                deadline);
        it.remove();
      } else {
        batch.add(question);
      }
    }
    if (batch.isEmpty()) {
      return;
    }
    if (tryVrfy) {
      Question question = batch.get(0);
      if (!question.mailbox().needsSmtputf8()
          && vrfyHonest(session, question.domain(), deadline)
          && ask(session, true, batch, open, verdicts, deadline)) {
        return;
      }
    }
    ask(session, false, batch, open, verdicts, deadline);
  }

  /**
   * Puts the questions to the backend with VRFY or RCPT and turns each reply into a verdict, asking
   * a known-good address of the domain where a refusal does not say what it is about.
   *
   * @return false if the backend answered that it does not do VRFY (nothing was answered)
   * @throws IOException if the session failed; the questions not answered stay open
   */
  private boolean ask(
      BackendSession session,
      boolean vrfy,
      List<Question> questions,
      List<Question> open,
      Verdict[] verdicts,
      Deadline deadline)
      throws IOException {
    BackendSession.Answers answers = put(session, vrfy, mailboxes(questions), true, deadline);
    List<BackendReply> replies = answers.replies();
    if (vrfy && !replies.isEmpty() && ReplyMeaning.vrfyNotSupported(replies.get(0))) {
      vrfyRefused(replies.get(0));
      return false;
    }
    // A reply followed by a hang-up is about the session, whatever it says.
    int trusted = answers.hungUp() ? replies.size() - 1 : replies.size();
    Map<String, List<Refusal>> unclear = new LinkedHashMap<>();
    SessionFailure sessionOver = null;
    for (int i = 0; i < trusted && sessionOver == null; i++) {
      Question question = questions.get(i);
      BackendReply reply = replies.get(i);
      switch (ReplyMeaning.of(reply)) {
        case ACCEPTED -> {
          knownGood.accepted(question.domain(), question.mailbox());
          settle(question, new Verdict.Accepted(reply, deadline.elapsed()), open, verdicts);
        }
        case NO_SUCH_MAILBOX ->
            settle(question, new Verdict.Rejected(reply, deadline.elapsed()), open, verdicts);
        case UNCLEAR_REFUSAL ->
            unclear
                .computeIfAbsent(question.domain(), d -> new ArrayList<>())
                .add(new Refusal(question, reply));
        case SENDER_REFUSED -> {
          session.retire();
          settle(
              question, refused(Verdict.Reason.SENDER_REJECTED, reply, deadline), open, verdicts);
        }
        case REFUSED_FOR_OTHER_REASON -> {
          session.retire();
          settle(
              question, refused(Verdict.Reason.BACKEND_REFUSED, reply, deadline), open, verdicts);
        }
        case TEMPORARY ->
            settle(
                question,
                new Verdict.Unverified(
                    Verdict.Reason.TEMPORARY_FAILURE,
                    "backend answered " + reply,
                    Optional.of(reply),
                    deadline.elapsed()),
                open,
                verdicts);
        case SESSION_OVER -> {
          if (reply.code() == 421) {
            session.teachLimits();
          } else {
            session.retire();
          }
          sessionOver =
              new SessionFailure(
                  Verdict.Reason.BACKEND_UNAVAILABLE, true, "backend ended the session", reply);
        }
      }
    }
    if (sessionOver != null) {
      throw sessionOver;
    }
    if (answers.hungUp()) {
      session.teachLimits();
      throw SessionFailure.closedByBackend();
    }
    for (Map.Entry<String, List<Refusal>> domain : unclear.entrySet()) {
      confirmMailboxRefusals(
          session, vrfy, domain.getKey(), domain.getValue(), open, verdicts, deadline);
    }
    return true;
  }

  /**
   * Asks a known-good address of the domain right after refusals that did not say what they are
   * about: accepted, the refusals were about the mailboxes; refused too, they were not.
   */
  private void confirmMailboxRefusals(
      BackendSession session,
      boolean vrfy,
      String domain,
      List<Refusal> refusals,
      List<Question> open,
      Verdict[] verdicts,
      Deadline deadline)
      throws IOException {
    Optional<Mailbox> known = knownGood.control(domain);
    if (known.isEmpty()) {
      for (Refusal refusal : refusals) {
        settle(
            refusal.question(),
            new Verdict.Unverified(
                Verdict.Reason.BACKEND_REFUSED,
                "the backend has accepted no address yet, so its refusal ("
                    + refusal.reply()
                    + ") cannot be told from one of the probe sender, this client or the session",
                Optional.of(refusal.reply()),
                deadline.elapsed()),
            open,
            verdicts);
      }
      return;
    }
    Mailbox control = known.get();
    BackendReply reply = askOne(session, vrfy, control, deadline);
    ReplyMeaning meaning = ReplyMeaning.of(reply);
    if (meaning == ReplyMeaning.ACCEPTED) {
      for (Refusal refusal : refusals) {
        settle(
            refusal.question(),
            new Verdict.Rejected(refusal.reply(), deadline.elapsed()),
            open,
            verdicts);
      }
      return;
    }
    if (meaning == ReplyMeaning.TEMPORARY) {
      for (Refusal refusal : refusals) {
        settle(
            refusal.question(),
            new Verdict.Unverified(
                Verdict.Reason.TEMPORARY_FAILURE,
                "backend answered a known-good address " + reply,
                Optional.of(reply),
                deadline.elapsed()),
            open,
            verdicts);
      }
      return;
    }
    session.teachLimits();
    throw new SessionFailure(
        Verdict.Reason.BACKEND_REFUSED,
        true,
        "the backend refused the known-good address "
            + control
            + " too ("
            + reply
            + "): its refusals are about the probe sender, this client or the session, not the"
            + " recipient",
        refusals.get(0).reply());
  }

  /**
   * Puts the addresses with VRFY or RCPT; with RCPT in a transaction reset first if it is full and
   * {@code mayReset} (never for the control question: {@link BackendSession#rcpt}).
   */
  private static BackendSession.Answers put(
      BackendSession session,
      boolean vrfy,
      List<Mailbox> mailboxes,
      boolean mayReset,
      Deadline deadline)
      throws IOException {
    try {
      return vrfy ? session.vrfy(mailboxes, deadline) : session.rcpt(mailboxes, deadline, mayReset);
    } catch (InvalidAddressException e) {
      throw new IllegalStateException("a validated address could not be encoded", e);
    }
  }

  /**
   * One question and its reply (with RCPT, in the transaction of the questions before it); a reply
   * followed by a hang-up is about the session, which ended: its limits are taught and the question
   * goes to a fresh session.
   */
  private static BackendReply askOne(
      BackendSession session, boolean vrfy, Mailbox mailbox, Deadline deadline) throws IOException {
    BackendSession.Answers answers = put(session, vrfy, List.of(mailbox), false, deadline);
    if (answers.hungUp() || answers.replies().isEmpty()) {
      session.teachLimits();
      throw SessionFailure.closedByBackend();
    }
    return answers.replies().get(0);
  }

  private static List<Mailbox> mailboxes(List<Question> questions) {
    List<Mailbox> mailboxes = new ArrayList<>(questions.size());
    for (Question question : questions) {
      mailboxes.add(question.mailbox());
    }
    return mailboxes;
  }

  private static void settle(
      Question question, Verdict verdict, List<Question> open, Verdict[] verdicts) {
    verdicts[question.index()] = verdict;
    open.remove(question);
  }

  private static void settleAll(List<Question> open, Verdict[] verdicts, Verdict verdict) {
    for (Question question : open) {
      verdicts[question.index()] = verdict;
    }
    open.clear();
  }

  /** Whether VRFY may answer for the domain: not refused lately, not known to answer yes to all. */
  private boolean vrfyMayServe(String domain) {
    Instant now = config.clock().instant();
    if (vrfyUnsupportedUntil.isAfter(now)) {
      return false;
    }
    VrfyTrust known = vrfyTrust.get(domain);
    return known == null || !known.until().isAfter(now) || known.honest();
  }

  /**
   * Whether VRFY answers are honest in the domain: learnt by asking a random local part (refused as
   * a mailbox → honest), held for {@value #VRFY_TRUST_MINUTES} minutes. False where it cannot be
   * told now (the question then goes by RCPT).
   */
  private boolean vrfyHonest(BackendSession session, String domain, Deadline deadline)
      throws IOException {
    Instant now = config.clock().instant();
    if (vrfyUnsupportedUntil.isAfter(now)) {
      return false;
    }
    VrfyTrust known = vrfyTrust.get(domain);
    if (known != null && known.until().isAfter(now)) {
      return known.honest();
    }
    Mailbox random;
    try {
      random =
          Mailbox.parse(
              "rcptproxy-"
                  + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE)
                  + "@"
                  + domain);
    } catch (InvalidAddressException e) {
      return false;
    }
    BackendReply reply = askOne(session, true, random, deadline);
    if (ReplyMeaning.vrfyNotSupported(reply)) {
      vrfyRefused(reply);
      return false;
    }
    Boolean honest =
        switch (ReplyMeaning.of(reply)) {
          case ACCEPTED -> false;
          case NO_SUCH_MAILBOX -> true;
          case UNCLEAR_REFUSAL -> {
            Optional<Mailbox> knownGoodAddress = knownGood.control(domain);
            if (knownGoodAddress.isEmpty()) {
              yield null; // cannot tell yet
            }
            BackendReply control = askOne(session, true, knownGoodAddress.get(), deadline);
            yield ReplyMeaning.of(control) == ReplyMeaning.ACCEPTED ? true : null;
          }
          case SESSION_OVER -> {
            session.teachLimits();
            throw new SessionFailure(
                Verdict.Reason.BACKEND_UNAVAILABLE, true, "backend ended the session", reply);
          }
          default -> null; // cannot tell now
        };
    if (honest == null) {
      return false;
    }
    VrfyTrust before = vrfyTrust.get(domain);
    vrfyTrust.put(domain, new VrfyTrust(honest, now.plus(VRFY_TRUST_TTL)));
    if (before == null || before.honest() != honest) {
      if (honest) {
        LOG.info(
            "backend refuses unknown users in {} on VRFY ({}); using VRFY there", domain, reply);
      } else {
        LOG.info("backend accepts any user in {} on VRFY ({}); using RCPT there", domain, reply);
      }
    }
    return honest;
  }

  private void vrfyRefused(BackendReply reply) {
    Instant now = config.clock().instant();
    if (!vrfyUnsupportedUntil.isAfter(now)) {
      LOG.info("backend refuses VRFY ({}); verifying with RCPT instead", reply);
    }
    vrfyUnsupportedUntil = now.plus(VRFY_TRUST_TTL);
  }

  /** A refusal that is not about the mailbox: unverified, with one warning naming the fix. */
  private Verdict refused(Verdict.Reason reason, BackendReply reply, Deadline deadline) {
    warnRefused(reason, reply.toString(), reply.code());
    return new Verdict.Unverified(
        reason,
        "the backend refused for a reason other than the mailbox: " + reply,
        Optional.of(reply),
        deadline.elapsed());
  }

  /**
   * One warning per kind of misconfiguration (TLS, AUTH, STARTTLS required, the probe sender,
   * another refusal), each naming the fix; later ones are only in the verdicts.
   */
  private void warnRefused(Verdict.Reason reason, String what, int code) {
    switch (code == 530 && reason == Verdict.Reason.BACKEND_REFUSED ? "530" : reason.name()) {
      case "TLS_FAILED" ->
          warnOnce(
              "TLS_FAILED",
              "TLS to the backend failed ({}): recipients are answered UNVERIFIED TLS_FAILED; check"
                  + " the backend's STARTTLS, certificate and host name, and the configured trust",
              what);
      case "AUTH_FAILED" ->
          warnOnce(
              "AUTH_FAILED",
              "AUTH to the backend failed ({}): recipients are answered UNVERIFIED AUTH_FAILED;"
                  + " check the configured user and password",
              what);
      case "530" ->
          warnOnce(
              "refused",
              "backend requires STARTTLS or AUTH before it answers ({}): recipients are answered"
                  + " UNVERIFIED {}; configure tls (REQUIRED or VERIFY) and, if it asks, auth",
              what,
              reason);
      case "SENDER_REJECTED" ->
          warnOnce(
              "SENDER_REJECTED",
              "backend refuses the probe sender <{}> ({}): no recipient can be verified; set"
                  + " probeSender to one it accepts (the null sender <> passes sender"
                  + " verification)",
              config.probeSender(),
              what);
      default ->
          warnOnce(
              "refused",
              "backend refuses recipients for a reason other than the mailbox ({}): recipients are"
                  + " answered UNVERIFIED {}; check that it accepts the probe sender <{}> (<>"
                  + " passes sender verification) and does not refuse this client",
              what,
              reason,
              config.probeSender());
    }
  }

  private void warnOnce(String kind, String format, Object... arguments) {
    if (warned.add(kind)) {
      LOG.warn(format, arguments);
    }
  }

  /**
   * Whether to ask again on a fresh session: after a session that died or ended under us, up to
   * {@value #MAX_RETRIES} times; after a refused known-good address, once (a second refusal on a
   * fresh session is the backend's standing answer).
   */
  private static boolean retryable(IOException e, int retries, boolean refusedBefore) {
    if (retries >= MAX_RETRIES || refusedBefore && refusedKnownGood(e)) {
      return false;
    }
    if (e instanceof SessionFailure failure) {
      return failure.retryable();
    }
    return !(e instanceof SocketTimeoutException);
  }

  private static boolean refusedKnownGood(IOException e) {
    return e instanceof SessionFailure failure
        && failure.reason() == Verdict.Reason.BACKEND_REFUSED;
  }

  private Verdict failure(Exception e, Deadline deadline) {
    if (e instanceof SocketTimeoutException) {
      return deadline.expired()
          ? timeout(deadline)
          : unverified(Verdict.Reason.BACKEND_UNAVAILABLE, "connect timed out", deadline);
    }
    if (e instanceof SessionFailure failure) {
      switch (failure.reason()) {
        case SENDER_REJECTED, BACKEND_REFUSED, TLS_FAILED, AUTH_FAILED ->
            warnRefused(
                failure.reason(),
                failure.getMessage() + failure.reply().map(reply -> ": " + reply).orElse(""),
                failure.reply().map(BackendReply::code).orElse(0));
        default -> {}
      }
      String detail = failure.getMessage() + failure.reply().map(reply -> ": " + reply).orElse("");
      return new Verdict.Unverified(failure.reason(), detail, failure.reply(), deadline.elapsed());
    }
    if (e instanceof IOException) {
      return unverified(Verdict.Reason.BACKEND_UNAVAILABLE, String.valueOf(e), deadline);
    }
    LOG.warn("unexpected failure verifying against {}", config.backendHost().orElse("?"), e);
    return unverified(Verdict.Reason.BACKEND_UNAVAILABLE, String.valueOf(e), deadline);
  }

  private static Verdict timeout(Deadline deadline) {
    return unverified(
        Verdict.Reason.TIMEOUT, "backend did not answer within the deadline", deadline);
  }

  private static Verdict unverified(Verdict.Reason reason, String detail, Deadline deadline) {
    return new Verdict.Unverified(reason, detail, Optional.empty(), deadline.elapsed());
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.close();
    }
  }
}
