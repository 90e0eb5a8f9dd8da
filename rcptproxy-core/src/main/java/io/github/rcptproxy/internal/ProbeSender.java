package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code MAIL FROM} of the probe transactions, shared by one backend's sessions: the configured
 * probe sender, replaced by {@code postmaster@} the domain being verified where the backend refuses
 * it. RFC 5321 (section 4.5.1) wants postmaster to exist in every domain a server receives mail
 * for, so the backend that knows the domain's mailboxes verifies that sender locally: it passes
 * Exim's {@code verify = sender}, Postfix's {@code reject_unknown_sender_domain} (a domain it
 * delivers is not looked up in DNS) and {@code reject_non_fqdn_sender}, and it is not the null
 * sender that bounce-refusing rules are written against.
 *
 * <p>The fallback is tried when the backend refuses {@code MAIL}; answers {@code RCPT} with a
 * refusal whose enhanced status code says it is not about the mailbox; or refuses the first
 * recipient of a transaction where nothing else explains it (no address accepted yet, or a
 * known-good address refused after it): the refused questions are asked again with it. Where the
 * backend takes it ({@code MAIL} accepted, or the refused recipient given another answer), it stays
 * and one warning says so; where it gets the same refusal, the refusal was not about the sender,
 * and the configured sender is used again (after {@value #MAX_TRIES} such tries the fallback is not
 * tried any more, and the fallback just found refused is not tried again for the next refusal: a
 * verification whose known-good address is refused too is not asked from it a second time).
 */
final class ProbeSender {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  /** How often the fallback is tried and found refused too before it is given up. */
  static final int MAX_TRIES = 3;

  private enum State {
    CONFIGURED,
    TRYING_FALLBACK,
    FALLBACK
  }

  /**
   * The sender in use and, while the fallback is tried, the refusal that made it tried and the
   * address it refused (null for a refused {@code MAIL}); how often it was tried, and the fallback
   * last found refused too (null if none).
   */
  private record Current(
      State state,
      String address,
      BackendReply refusal,
      String refusedRcpt,
      int tries,
      String refusedFallback) {}

  private final String configured;
  private final AtomicReference<Current> current;

  ProbeSender(VerifierConfig config) {
    this.configured = config.probeSender();
    this.current =
        new AtomicReference<>(new Current(State.CONFIGURED, configured, null, null, 0, null));
  }

  /** The address to send in {@code MAIL FROM}, empty for the null sender. */
  String address() {
    return current.get().address();
  }

  /**
   * The backend refused {@code MAIL FROM:<sender>}: whether to ask again, with the fallback.
   *
   * @param domain the domain of the first address to verify, whose postmaster is the fallback
   */
  boolean mailRefused(String sender, BackendReply refusal, String domain) {
    return refused(sender, refusal, null, domain);
  }

  /**
   * The backend answered {@code RCPT TO:<recipient>} in a transaction from {@code sender} with
   * {@code refusal}: whether to ask again, with the fallback. A refusal is, where its enhanced
   * status code says it is not about the mailbox (about the sender, syntax, policy, the system), or
   * where the mailbox does not explain it ({@code unexplained}: a known-good address refused, or a
   * refusal before the backend ever accepted an address).
   */
  boolean rcptRefused(String sender, BackendReply refusal, Mailbox recipient, boolean unexplained) {
    return (unexplained || codedNotAboutMailbox(refusal))
        && refused(sender, refusal, recipient.toString(), recipient.domain());
  }

  private boolean refused(String sender, BackendReply refusal, String recipient, String domain) {
    Current now = current.get();
    if (!now.address().equals(sender)) {
      // A transaction opened before the sender changed: ask again with the one in use, unless
      // this transaction's sender is the fallback just found refused too.
      return !sender.equals(now.refusedFallback());
    }
    if (now.state() == State.TRYING_FALLBACK) {
      fallbackRefused(now);
      return false;
    }
    String fallback = "postmaster@" + domain;
    return now.state() == State.CONFIGURED
        && now.tries() < MAX_TRIES
        && !fallback.equals(now.refusedFallback()) // just found refused the same way: not again
        && current.compareAndSet(
            now,
            new Current(
                State.TRYING_FALLBACK, fallback, refusal, recipient, now.tries() + 1, null));
  }

  /** The fallback got the refusal too: it was not about the sender. */
  private void fallbackRefused(Current now) {
    current.compareAndSet(
        now, new Current(State.CONFIGURED, configured, null, null, now.tries(), now.address()));
  }

  /** The backend accepted {@code MAIL FROM:<sender>}. */
  void mailAccepted(String sender) {
    Current now = current.get();
    if (now.refusedRcpt() == null) {
      confirm(now, sender);
    }
  }

  /**
   * The backend answered recipients in a transaction from {@code sender}: where the fallback is
   * tried and the recipient it was tried for is among them, its answer says whether the first
   * refusal was about the sender (another answer now) or not (the same refusal).
   */
  void answered(String sender, List<Mailbox> recipients, List<BackendReply> replies) {
    Current now = current.get();
    if (now.state() != State.TRYING_FALLBACK || !now.address().equals(sender)) {
      return;
    }
    for (int i = 0; i < replies.size() && i < recipients.size(); i++) {
      if (recipients.get(i).toString().equals(now.refusedRcpt())) {
        BackendReply reply = replies.get(i);
        if (reply.equals(now.refusal())) {
          fallbackRefused(now);
        } else {
          confirm(now, sender);
        }
        return;
      }
    }
  }

  private void confirm(Current now, String sender) {
    if (now.state() == State.TRYING_FALLBACK
        && now.address().equals(sender)
        && current.compareAndSet(
            now, new Current(State.FALLBACK, sender, now.refusal(), null, now.tries(), null))) {
      LOG.warn(
          "backend refuses the probe sender <{}> ({}); it takes <{}>, which probes from now on"
              + " (set probeSender to an address it accepts to choose another)",
          configured,
          now.refusal(),
          sender);
    }
  }

  /**
   * A refusal whose enhanced status code is about the sender ({@code X.1.7}, {@code X.1.8},
   * temporary or not: Postfix's {@code 450 4.1.8} for a sender domain without DNS), syntax ({@code
   * X.5.x}: Postfix's {@code 504 5.5.2} for a sender not fully qualified), the system ({@code
   * X.3.x}) or a policy ({@code X.7.x}: Postfix's access maps).
   */
  private static boolean codedNotAboutMailbox(BackendReply reply) {
    if (reply.code() < 400 || reply.code() == 421 || ReplyMeaning.tooManyRecipients(reply)) {
      return false;
    }
    String enhanced = reply.enhancedStatus();
    String subjectDetail = enhanced.isEmpty() ? "" : enhanced.substring(enhanced.indexOf('.') + 1);
    return subjectDetail.equals("1.7")
        || subjectDetail.equals("1.8")
        || subjectDetail.startsWith("3.")
        || subjectDetail.startsWith("5.")
        || subjectDetail.startsWith("7.");
  }
}
