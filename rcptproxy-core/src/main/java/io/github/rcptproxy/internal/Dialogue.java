package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.Verdict;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

/**
 * The questions put to one session and what its answers mean: a pipelined RCPT batch as large as
 * the session's limits allow, or one question with VRFY where VRFY may answer ({@link VrfyTrust}).
 *
 * <p>A refusal becomes {@link Verdict.Rejected} only on evidence that it is about this address: the
 * backend accepted an address in the same transaction. A refusal with a mailbox code ({@code
 * 5.1.1}...) needs one accepted anywhere in the transaction; one that says nothing ({@code 550
 * Unknown user}) or is coded as policy ({@code 5.7.1}) needs a known-good address (the last one the
 * backend accepted in the domain, else in any domain, else one the operator named) accepted right
 * after it: the control question. If the control is refused too, the refusal is about the probe
 * sender, the client or the session: the session fails with {@link Verdict.Reason#BACKEND_REFUSED}
 * (the batch run asks once more on a fresh one). With no known-good address at all the verdict is
 * {@link Verdict.Reason#REFUSAL_UNCONFIRMED}.
 *
 * <p>Only questions that go by RCPT are taken together with other callers' ({@link #asksTogether});
 * those ({@link Question#gathered}) go as one pipelined RCPT batch where the backend offers
 * PIPELINING, even where VRFY became trusted meanwhile.
 *
 * <p>With VRFY {@code 250} and {@code 251} say the mailbox exists, a {@code 252} only where a
 * random local part is refused right after it ({@link VrfyTrust#refusesRandomNow}); a {@code 252}
 * to that too, a {@code 4xx}, a policy refusal, or a refusal the control does not settle does not
 * say, and the address is asked with RCPT.
 *
 * <p>Where other verifications wait for a session, a caller answered {@code 252} does not ask the
 * random local part itself: it leaves the {@code 252} with the session ({@link VrfyRun}) and waits
 * for the session's next refusal of VRFY in the domain, the next caller's unknown address or the
 * random local part that whoever ends the run asks (at most {@value #MAX_RUN} {@code 252}s, {@link
 * #MAX_RUN_AGE} old, or when no one waits). One refusal so confirms several {@code 252}s; what it
 * does not confirm in time is asked with RCPT, as an unconfirmed {@code 252} always is.
 */
final class Dialogue implements BatchRun.Answerer<BackendSession> {
  /** The most {@code 252}s of a domain one refusal may confirm on a session. */
  static final int MAX_RUN = 4;

  /**
   * How old a run's first {@code 252} may grow before the run is ended: a blanket {@code 252} (a
   * rate limit) must not be confirmed by a refusal long after it, once the limit has eased.
   */
  static final Duration MAX_RUN_AGE = Duration.ofMillis(50);

  /** How long a caller waits for its run's end, at most (the session may sit idle meanwhile). */
  private static final Duration MAX_WAIT = MAX_RUN_AGE.multipliedBy(4);

  private final KnownGood knownGood;
  private final VrfyTrust vrfyTrust;
  private final FailureVerdicts failures;
  private final BooleanSupplier othersWaiting;

  /** A refusal waiting for evidence that it is about this address. */
  private record Refusal(Question question, BackendReply reply) {}

  /** The questions one thread holds, and where their verdicts go. */
  private record Open(List<Question> questions, VerdictSlots verdicts) {
    void settle(Question question, Verdict verdict) {
      verdicts.settle(question.index(), verdict);
      questions.remove(question);
    }

    void replace(Question question, Question with) {
      questions.set(questions.indexOf(question), with);
    }
  }

  Dialogue(
      KnownGood knownGood,
      VrfyTrust vrfyTrust,
      FailureVerdicts failures,
      BooleanSupplier othersWaiting) {
    this.knownGood = knownGood;
    this.vrfyTrust = vrfyTrust;
    this.failures = failures;
    this.othersWaiting = othersWaiting;
  }

  /**
   * One question where VRFY may answer it (VRFY is not pipelined), else a pipelined RCPT batch as
   * large as the session's limits allow.
   */
  @Override
  public int roomFor(BackendSession session, Question first) {
    return vrfyFirst(session, first) ? 1 : session.capacity();
  }

  /**
   * Only where the question goes by RCPT anyway: gathered VRFY questions would go by RCPT, and
   * against Postfix with many unknown addresses their transactions (one per session, replaced after
   * its rejections) take the inflow tokens that VRFY leaves to real mail (GatewayLoadTest: 58 of
   * 10,000 verifications past the deadline behind its one-second waits).
   */
  @Override
  public boolean asksTogether(Question question) {
    return !mayVrfy(question.domain());
  }

  /**
   * Whether the question is put with VRFY first: where VRFY may answer, but not where it came with
   * other callers' questions and the backend pipelines: one RCPT exchange then answers them all.
   */
  private boolean vrfyFirst(BackendSession session, Question question) {
    return mayVrfy(question.domain())
        && question.held() == null
        && !(question.gathered() && session.offers("PIPELINING"));
  }

  /**
   * Whether VRFY may answer in the domain: never before a known-good address is known, as its
   * honesty cannot be shown; a pipelined RCPT batch then settles its refusals by its own accepted
   * addresses.
   */
  private boolean mayVrfy(String domain) {
    return vrfyTrust.mayServe(domain) && knownGood.control(domain).isPresent();
  }

  /**
   * Answers what it can of the open questions on the session, removing the answered ones.
   *
   * @throws IOException if the session failed under the questions; those not answered stay open
   */
  @Override
  public void answer(
      BackendSession session, List<Question> questions, VerdictSlots verdicts, Deadline deadline)
      throws IOException {
    session.startUse();
    try {
      ask(session, new Open(questions, verdicts), deadline);
    } catch (IOException e) {
      session.vrfyRun().settleNone();
      throw e;
    }
    endRunsDue(session, deadline);
  }

  /**
   * Settles the questions that waited for a refusal on the session they were answered {@code 252}
   * on: confirmed, they are accepted; not (in time), they stay open, to be asked with RCPT.
   */
  @Override
  public void afterRelease(List<Question> questions, VerdictSlots verdicts, Deadline deadline) {
    Open open = new Open(questions, verdicts);
    for (Question question : List.copyOf(questions)) {
      Held252 held = question.held();
      if (held == null) {
        continue;
      }
      Duration wait = deadline.remaining().dividedBy(2);
      if (held.confirmed(wait.compareTo(MAX_WAIT) < 0 ? wait : MAX_WAIT)) {
        open.settle(question, accepted(question, held.reply(), deadline));
      }
    }
  }

  private void ask(BackendSession session, Open open, Deadline deadline) throws IOException {
    List<Question> questions = open.questions();
    if (questions.isEmpty()) {
      return;
    }
    // A question whose 252 was not confirmed goes to RCPT, as it would have at once.
    boolean tryVrfy = vrfyFirst(session, questions.get(0));
    List<Question> batch = batch(session, open, tryVrfy ? 1 : session.capacity(), deadline);
    if (batch.isEmpty()) {
      return;
    }
    Question first = batch.get(0);
    if (tryVrfy
        && !first.mailbox().needsSmtputf8()
        && vrfyTrust.honest(session, first.domain(), deadline)
        && askVrfy(session, first, open, deadline)) {
      return;
    }
    askRcpt(session, batch, open, deadline);
  }

  /**
   * The next questions, at most {@code capacity}; one with a non-ASCII local part is answered
   * invalid at once where the backend does not offer SMTPUTF8.
   */
  private static List<Question> batch(
      BackendSession session, Open open, int capacity, Deadline deadline) {
    List<Question> batch = new ArrayList<>();
    for (Iterator<Question> it = open.questions().iterator();
        it.hasNext() && batch.size() < capacity; ) {
      Question question = it.next();
      if (question.mailbox().needsSmtputf8() && !session.offers("SMTPUTF8")) {
        open.verdicts()
            .settle(
                question.index(),
                FailureVerdicts.unverified(
                    Verdict.Reason.INVALID_ADDRESS,
                    "non-ASCII local part needs SMTPUTF8, which the backend does not offer",
                    deadline));
        it.remove();
      } else {
        batch.add(question);
      }
    }
    return batch;
  }

  /**
   * Asks VRFY; false where its answer does not say (a {@code 252} where a random local part is not
   * refused right after it, a {@code 4xx}, a policy refusal, VRFY refused, or a refusal the control
   * does not settle): the question goes to RCPT.
   */
  private boolean askVrfy(BackendSession session, Question question, Open open, Deadline deadline)
      throws IOException {
    BackendReply reply = Probe.askOne(session, ProbeMethod.VRFY, question.mailbox(), deadline);
    if (ReplyMeaning.vrfyNotSupported(reply)) {
      vrfyTrust.refused(reply);
      return false;
    }
    switch (ReplyMeaning.of(reply)) {
      case ACCEPTED -> {
        if (!ReplyMeaning.vrfySaysExists(reply)) {
          return held252(session, question, reply, open, deadline);
        }
        open.settle(question, accepted(question, reply, deadline));
      }
      case NO_SUCH_MAILBOX -> {
        session.vrfyRun().settle(question.domain(), true); // the 252s before were not blanket
        open.settle(question, new Verdict.Rejected(reply, deadline.elapsed()));
      }
      case UNCLEAR_REFUSAL -> {
        if (!vrfyControlTaken(session, question.domain(), deadline)) {
          return false;
        }
        open.settle(question, new Verdict.Rejected(reply, deadline.elapsed()));
      }
      case SESSION_OVER -> throw sessionOver(session, reply);
      default -> {
        return false;
      }
    }
    return true;
  }

  /**
   * A {@code 252}: left with the session for a later refusal to confirm where others wait for a
   * session (the question stays open, for {@link #afterRelease}), else confirmed now by a random
   * local part with the run before it; false where it was not confirmed (asked with RCPT).
   */
  private boolean held252(
      BackendSession session, Question question, BackendReply reply, Open open, Deadline deadline)
      throws IOException {
    Held252 held = new Held252(question.domain(), reply);
    session.vrfyRun().add(held);
    if (!runDue(session, question.domain()) && !deadline.nearlySpent()) {
      open.replace(question, question.holding(held));
      return true;
    }
    if (!endRun(session, question.domain(), deadline)) {
      return false;
    }
    open.settle(question, accepted(question, reply, deadline));
    return true;
  }

  /** Whether the session's run of {@code 252}s in the domain is to be ended now. */
  private boolean runDue(BackendSession session, String domain) {
    VrfyRun run = session.vrfyRun();
    return run.size(domain) >= MAX_RUN
        || run.oldestNanos(domain) >= MAX_RUN_AGE.toNanos()
        || !othersWaiting.getAsBoolean();
  }

  /**
   * Asks a random local part of the domain: refused, the run's {@code 252}s were about the
   * mailboxes; else (or the session failing) none is confirmed.
   */
  private boolean endRun(BackendSession session, String domain, Deadline deadline)
      throws IOException {
    boolean refused = false;
    try {
      refused = vrfyTrust.refusesRandomNow(session, domain, deadline);
      return refused;
    } finally {
      session.vrfyRun().settle(domain, refused);
    }
  }

  /**
   * Ends the runs due before the session goes back (one a caller left, no one else came): a session
   * never idles long with {@code 252}s waiting on it. A failure here only retires the session; the
   * callers waiting ask with RCPT.
   */
  private void endRunsDue(BackendSession session, Deadline deadline) {
    for (String domain : session.vrfyRun().domains()) {
      if (!runDue(session, domain)) {
        continue;
      }
      try {
        endRun(session, domain, deadline);
      } catch (IOException e) {
        session.retire();
        session.vrfyRun().settleNone();
        return;
      }
    }
  }

  /**
   * Whether VRFY takes a known-good address of the domain right after a refusal (a {@code 252} too:
   * the refusal just before shows the backend tells addresses apart); a refusal of it teaches the
   * session's limits.
   */
  private boolean vrfyControlTaken(BackendSession session, String domain, Deadline deadline)
      throws IOException {
    Optional<Mailbox> control = knownGood.control(domain);
    if (control.isEmpty()) {
      return false;
    }
    BackendReply reply = Probe.askOne(session, ProbeMethod.VRFY, control.get(), deadline);
    if (ReplyMeaning.of(reply) == ReplyMeaning.ACCEPTED) {
      return true;
    }
    session.teachLimits(); // a known-good address refused: the session is at a limit
    return false;
  }

  /**
   * Puts the questions in the session's transaction and turns each reply into a verdict; refusals
   * wait for the transaction's evidence ({@link #settleRefusals}).
   *
   * @throws IOException if the session failed; the questions not answered stay open
   */
  private void askRcpt(
      BackendSession session, List<Question> questions, Open open, Deadline deadline)
      throws IOException {
    // Whether the backend was known to slow after errors before this exchange: the exchange that
    // shows it (learnt as it is answered) may end on an Exim drop's 5.1.1 all the same.
    boolean slowedBefore = session.slowsAfterErrors();
    BackendSession.Answers answers =
        Probe.put(session, ProbeMethod.RCPT, mailboxes(questions), true, deadline);
    List<BackendReply> replies = answers.replies();
    // A reply followed by a hang-up is about the session, whatever it says.
    int trusted = answers.hungUp() ? replies.size() - 1 : replies.size();
    List<Refusal> refusals = new ArrayList<>();
    for (int i = 0; i < trusted; i++) {
      Question question = questions.get(i);
      BackendReply reply = replies.get(i);
      if (session.senderRefused(question.mailbox(), reply, false)) {
        throw SessionFailure.senderReplaced(reply);
      }
      switch (ReplyMeaning.of(reply)) {
        case NO_SUCH_MAILBOX, UNCLEAR_REFUSAL, POLICY_REFUSAL ->
            refusals.add(new Refusal(question, reply));
        case ACCEPTED -> {
          session.acceptedInTransaction();
          open.settle(question, accepted(question, reply, deadline));
        }
        case SESSION_OVER -> throw sessionOver(session, reply);
        default -> open.settle(question, verdict(session, reply, deadline));
      }
    }
    if (answers.hungUp()) {
      session.teachLimits();
      throw SessionFailure.closedByBackend();
    }
    settleRefusals(
        session, refusals, questions.get(replies.size() - 1), slowedBefore, open, deadline);
  }

  /**
   * Refusals with a mailbox code in a transaction where the backend accepted an address are about
   * the mailbox where a reply came after them. The others are settled by a control question per
   * domain, so is the exchange's last: an Exim {@code drop} on {@code $rcpt_fail_count} may answer
   * a mailbox's code and hang up, which would show only on the next command. Not where the backend
   * was seen slowing its replies after errors before the exchange ({@code slowedBefore}): the
   * control would wait out that sleep for every refusal, and Postfix, which slows so, ends a
   * session past its hard error limit with a {@code 421}. The exchange that first shows the slowing
   * is followed by the control all the same: an Exim that delays RCPTs after failures and drops on
   * {@code $rcpt_fail_count} saying {@code 5.1.1} may end that very exchange with the drop.
   */
  private void settleRefusals(
      BackendSession session,
      List<Refusal> refusals,
      Question lastAsked,
      boolean slowedBefore,
      Open open,
      Deadline deadline)
      throws IOException {
    Map<String, List<Refusal>> unsettled = new LinkedHashMap<>();
    for (Refusal refusal : refusals) {
      if (session.hasAcceptedInTransaction()
          && (refusal.question() != lastAsked || slowedBefore)
          && ReplyMeaning.of(refusal.reply()) == ReplyMeaning.NO_SUCH_MAILBOX) {
        open.settle(refusal.question(), new Verdict.Rejected(refusal.reply(), deadline.elapsed()));
      } else {
        unsettled.computeIfAbsent(refusal.question().domain(), d -> new ArrayList<>()).add(refusal);
      }
    }
    for (Map.Entry<String, List<Refusal>> domain : unsettled.entrySet()) {
      confirmMailboxRefusals(session, domain.getKey(), domain.getValue(), open, deadline);
    }
  }

  private Verdict accepted(Question question, BackendReply reply, Deadline deadline) {
    knownGood.accepted(question.domain(), question.mailbox());
    return new Verdict.Accepted(reply, deadline.elapsed());
  }

  /** The verdict for a reply about the sender, the system or the protocol, or a {@code 4xx}. */
  private Verdict verdict(BackendSession session, BackendReply reply, Deadline deadline) {
    return switch (ReplyMeaning.of(reply)) {
      case SENDER_REFUSED -> {
        session.retire();
        yield failures.refused(Verdict.Reason.SENDER_REJECTED, reply, deadline);
      }
      case REFUSED_FOR_OTHER_REASON -> {
        session.retire();
        yield failures.refused(Verdict.Reason.BACKEND_REFUSED, reply, deadline);
      }
      case TEMPORARY -> failures.deferred(reply, deadline);
      default -> throw new IllegalArgumentException(reply + " needs more than a verdict");
    };
  }

  /**
   * The backend ended the session: a {@code 421} teaches its limits; too many recipients or a bad
   * sequence only retires it.
   */
  private static SessionFailure sessionOver(BackendSession session, BackendReply reply) {
    if (reply.code() == 421) {
      session.teachLimits();
    } else {
      session.retire();
    }
    return SessionFailure.sessionEnded(reply);
  }

  /**
   * Asks a known-good address of the domain right after refusals that the transaction has not
   * settled: accepted, the refusals were about these addresses; refused too, they were not.
   */
  private void confirmMailboxRefusals(
      BackendSession session, String domain, List<Refusal> refusals, Open open, Deadline deadline)
      throws IOException {
    Optional<Mailbox> control =
        knownGood.control(
            domain,
            refusals.stream()
                .map(refusal -> refusal.question().mailbox().address())
                .collect(Collectors.toSet()));
    if (control.isEmpty()) {
      Refusal first = refusals.get(0);
      if (session.senderRefused(first.question().mailbox(), first.reply(), true)) {
        throw SessionFailure.senderReplaced(first.reply());
      }
      for (Refusal refusal : refusals) {
        open.settle(refusal.question(), failures.unconfirmed(refusal.reply(), deadline));
      }
      return;
    }
    BackendReply reply = Probe.askOne(session, ProbeMethod.RCPT, control.get(), deadline);
    switch (ReplyMeaning.of(reply)) {
      case ACCEPTED -> {
        session.acceptedInTransaction();
        for (Refusal refusal : refusals) {
          open.settle(
              refusal.question(), new Verdict.Rejected(refusal.reply(), deadline.elapsed()));
        }
      }
      case TEMPORARY -> {
        // The recipient's own reply, not the control's: a 4.2.2 is about the control's mailbox.
        for (Refusal refusal : refusals) {
          open.settle(
              refusal.question(),
              new Verdict.Unverified(
                  Verdict.Reason.TEMPORARY_FAILURE,
                  "backend answered a known-good address " + reply,
                  Optional.of(refusal.reply()),
                  deadline.elapsed()));
        }
      }
      default -> {
        Refusal first = refusals.get(0);
        if (session.senderRefused(first.question().mailbox(), first.reply(), true)) {
          throw SessionFailure.senderReplaced(first.reply());
        }
        session.teachLimits();
        throw controlRefused(control.get(), reply, refusals.get(0).reply());
      }
    }
  }

  private static SessionFailure controlRefused(
      Mailbox control, BackendReply reply, BackendReply firstRefusal) {
    return new SessionFailure(
        Verdict.Reason.BACKEND_REFUSED,
        true,
        "the backend refused the known-good address "
            + control
            + " too ("
            + reply
            + "): its refusals are about the probe sender, this client or the session, not the"
            + " recipient",
        firstRefusal);
  }

  private static List<Mailbox> mailboxes(List<Question> questions) {
    List<Mailbox> mailboxes = new ArrayList<>(questions.size());
    for (Question question : questions) {
      mailboxes.add(question.mailbox());
    }
    return mailboxes;
  }
}
