package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.Verdict;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The questions put to one session and what its answers mean: a pipelined RCPT batch as large as
 * the session's limits allow, or one question with VRFY where VRFY may answer ({@link VrfyTrust}).
 *
 * <p>A refusal becomes {@link Verdict.Rejected} only when it is about the mailbox: its enhanced
 * status code says so, or — where the backend sends none, as Exim and OpenSMTPD do — a known-good
 * address (the last one the backend accepted in the domain, else in any domain) is accepted in the
 * same session right after it: the control question. If that is refused too, the refusal is about
 * the probe sender, the client or the session: the session fails with {@link
 * Verdict.Reason#BACKEND_REFUSED} (the batch run asks once more on a fresh one); so is a refusal
 * before the backend ever accepted an address answered (nothing to tell it by).
 */
final class Dialogue implements BatchRun.Answerer<BackendSession> {
  private final KnownGood knownGood;
  private final VrfyTrust vrfyTrust;
  private final FailureVerdicts failures;

  /** A refusal that did not say what it is about, waiting for the control question. */
  private record Refusal(Question question, BackendReply reply) {}

  /** The questions one thread holds, and where their verdicts go. */
  private record Open(List<Question> questions, VerdictSlots verdicts) {
    void settle(Question question, Verdict verdict) {
      verdicts.settle(question.index(), verdict);
      questions.remove(question);
    }
  }

  Dialogue(KnownGood knownGood, VrfyTrust vrfyTrust, FailureVerdicts failures) {
    this.knownGood = knownGood;
    this.vrfyTrust = vrfyTrust;
    this.failures = failures;
  }

  /**
   * One question where VRFY may answer it (VRFY is not pipelined), else a pipelined RCPT batch as
   * large as the session's limits allow.
   */
  @Override
  public int roomFor(BackendSession session, Question first) {
    return vrfyTrust.mayServe(first.domain()) ? 1 : session.capacity();
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
    if (questions.isEmpty()) {
      return;
    }
    Open open = new Open(questions, verdicts);
    boolean tryVrfy = vrfyTrust.mayServe(questions.get(0).domain());
    List<Question> batch = batch(session, open, tryVrfy ? 1 : session.capacity(), deadline);
    if (batch.isEmpty()) {
      return;
    }
    Question first = batch.get(0);
    if (tryVrfy
        && !first.mailbox().needsSmtputf8()
        && vrfyTrust.honest(session, first.domain(), deadline)
        && ask(session, ProbeMethod.VRFY, batch, open, deadline)) {
      return;
    }
    ask(session, ProbeMethod.RCPT, batch, open, deadline);
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
   * Puts the questions to the backend and turns each reply into a verdict, asking a known-good
   * address of the domain where a refusal does not say what it is about.
   *
   * @return false if the backend answered that it does not do VRFY (nothing was answered)
   * @throws IOException if the session failed; the questions not answered stay open
   */
  private boolean ask(
      BackendSession session,
      ProbeMethod method,
      List<Question> questions,
      Open open,
      Deadline deadline)
      throws IOException {
    BackendSession.Answers answers =
        Probe.put(session, method, mailboxes(questions), true, deadline);
    List<BackendReply> replies = answers.replies();
    if (method == ProbeMethod.VRFY
        && !replies.isEmpty()
        && ReplyMeaning.vrfyNotSupported(replies.get(0))) {
      vrfyTrust.refused(replies.get(0));
      return false;
    }
    // A reply followed by a hang-up is about the session, whatever it says.
    int trusted = answers.hungUp() ? replies.size() - 1 : replies.size();
    Map<String, List<Refusal>> unclear = new LinkedHashMap<>();
    for (int i = 0; i < trusted; i++) {
      Question question = questions.get(i);
      BackendReply reply = replies.get(i);
      if (method == ProbeMethod.RCPT && session.senderRefused(question.mailbox(), reply, false)) {
        throw SessionFailure.senderReplaced(reply);
      }
      switch (ReplyMeaning.of(reply)) {
        case UNCLEAR_REFUSAL ->
            unclear
                .computeIfAbsent(question.domain(), d -> new ArrayList<>())
                .add(new Refusal(question, reply));
        case SESSION_OVER -> throw sessionOver(session, reply);
        default -> open.settle(question, verdict(session, question, reply, deadline));
      }
    }
    if (answers.hungUp()) {
      session.teachLimits();
      throw SessionFailure.closedByBackend();
    }
    for (Map.Entry<String, List<Refusal>> domain : unclear.entrySet()) {
      confirmMailboxRefusals(session, method, domain.getKey(), domain.getValue(), open, deadline);
    }
    return true;
  }

  /** The verdict for a reply that says what it is about (not an unclear refusal, not the end). */
  private Verdict verdict(
      BackendSession session, Question question, BackendReply reply, Deadline deadline) {
    return switch (ReplyMeaning.of(reply)) {
      case ACCEPTED -> {
        knownGood.accepted(question.domain(), question.mailbox());
        yield new Verdict.Accepted(reply, deadline.elapsed());
      }
      case NO_SUCH_MAILBOX -> new Verdict.Rejected(reply, deadline.elapsed());
      case SENDER_REFUSED -> {
        session.retire();
        yield failures.refused(Verdict.Reason.SENDER_REJECTED, reply, deadline);
      }
      case REFUSED_FOR_OTHER_REASON -> {
        session.retire();
        yield failures.refused(Verdict.Reason.BACKEND_REFUSED, reply, deadline);
      }
      case TEMPORARY -> failures.deferred(reply, deadline);
      case UNCLEAR_REFUSAL, SESSION_OVER ->
          throw new IllegalArgumentException(reply + " needs more than a verdict");
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
   * Asks a known-good address of the domain right after refusals that did not say what they are
   * about: accepted, the refusals were about the mailboxes; refused too, they were not.
   */
  private void confirmMailboxRefusals(
      BackendSession session,
      ProbeMethod method,
      String domain,
      List<Refusal> refusals,
      Open open,
      Deadline deadline)
      throws IOException {
    Optional<Mailbox> control = knownGood.control(domain);
    if (control.isEmpty()) {
      Refusal first = refusals.get(0);
      if (method == ProbeMethod.RCPT
          && session.senderRefused(first.question().mailbox(), first.reply(), true)) {
        throw SessionFailure.senderReplaced(first.reply());
      }
      for (Refusal refusal : refusals) {
        open.settle(refusal.question(), cannotTell(refusal.reply(), deadline));
      }
      return;
    }
    BackendReply reply = Probe.askOne(session, method, control.get(), deadline);
    switch (ReplyMeaning.of(reply)) {
      case ACCEPTED -> {
        for (Refusal refusal : refusals) {
          open.settle(
              refusal.question(), new Verdict.Rejected(refusal.reply(), deadline.elapsed()));
        }
      }
      case TEMPORARY -> {
        for (Refusal refusal : refusals) {
          open.settle(
              refusal.question(),
              new Verdict.Unverified(
                  Verdict.Reason.TEMPORARY_FAILURE,
                  "backend answered a known-good address " + reply,
                  Optional.of(reply),
                  deadline.elapsed()));
        }
      }
      default -> {
        Refusal first = refusals.get(0);
        if (method == ProbeMethod.RCPT
            && session.senderRefused(first.question().mailbox(), first.reply(), true)) {
          throw SessionFailure.senderReplaced(first.reply());
        }
        session.teachLimits();
        throw controlRefused(control.get(), reply, refusals.get(0).reply());
      }
    }
  }

  /** A refusal before the backend ever accepted an address: nothing to tell it by. */
  private static Verdict cannotTell(BackendReply refusal, Deadline deadline) {
    return new Verdict.Unverified(
        Verdict.Reason.BACKEND_REFUSED,
        "the backend has accepted no address yet, so its refusal ("
            + refusal
            + ") cannot be told from one of the probe sender, this client or the session",
        Optional.of(refusal),
        deadline.elapsed());
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
