package io.github.rcptproxy.postfix;

import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.internal.smtp.SmtpText;
import io.github.rcptproxy.policy.RecipientDecision;
import io.github.rcptproxy.policy.ReplyPolicy;

/**
 * What Postfix is told about a recipient: the shared {@link ReplyPolicy} (the SubEthaSMTP adapter's
 * too: rejection code and template, the backend's text only on request, accept or tempfail what
 * cannot be verified, bypass ranges), its decisions rendered as policy {@code action=} values.
 * Immutable; {@link Builder#build()} validates.
 *
 * <table>
 *   <caption>verdict to action</caption>
 *   <tr><th>verdict</th><th>action</th></tr>
 *   <tr><td>accepted, catch-all, client bypassed, domain not routed, other protocol states</td>
 *       <td>{@code DUNNO}</td></tr>
 *   <tr><td>rejected</td><td>{@code 550 5.1.1 Unable to relay to ADDRESS}: Postfix's {@code NNN
 *       text} action, which it sends as {@code 550 5.1.1 <ADDRESS>: Recipient address rejected:
 *       Unable to relay to ADDRESS}</td></tr>
 *   <tr><td>invalid address</td><td>{@code 501 5.1.3 Bad recipient address syntax}</td></tr>
 *   <tr><td>unverified, {@code onUnverified(TEMPFAIL)}</td><td>{@code DEFER_IF_PERMIT 4.4.3
 *       Recipient verification unavailable, try again later} (Postfix answers {@code 450})</td></tr>
 *   <tr><td>backend {@code 4xx}, {@code onBackendTemporaryFailure(TEMPFAIL)}</td><td>the backend's
 *       code and enhanced code, generic text</td></tr>
 * </table>
 *
 * <p>The adapter's disconnect-after-rejections and tarpit have no counterpart: Postfix applies its
 * own {@code smtpd_hard_error_limit} and {@code smtpd_error_sleep_time} to these rejections.
 */
public final class PolicyAnswers {
  static final String DUNNO = "DUNNO";

  private final ReplyPolicy replies;

  private PolicyAnswers(ReplyPolicy replies) {
    this.replies = replies;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Reject with {@code 550 5.1.1 Unable to relay to ADDRESS}, accept what cannot be verified. */
  public static PolicyAnswers defaults() {
    return builder().build();
  }

  /** The replies, bypass ranges and failure modes, as the SubEthaSMTP adapter has them too. */
  public ReplyPolicy replies() {
    return replies;
  }

  /** Whether a client address (as Postfix sends it) skips verification. */
  boolean bypasses(String clientAddress) {
    return replies.bypasses(clientAddress);
  }

  /** The action for a verdict about {@code recipient}: printable ASCII, one line. */
  String action(Verdict verdict, String recipient) {
    return action(replies.decide(verdict, recipient));
  }

  /** The action when the backend could not be asked. */
  String whenUnverified() {
    return action(replies.unverified());
  }

  private static String action(RecipientDecision decision) {
    if (decision instanceof RecipientDecision.Defer defer) {
      return "DEFER_IF_PERMIT " + defer.enhancedStatus() + " " + printable(defer.text());
    }
    if (decision instanceof RecipientDecision.Reply reply) {
      return reply.code() + " " + reply.enhancedStatus() + " " + printable(reply.text());
    }
    return DUNNO;
  }

  /**
   * Only printable ASCII may go into an action ({@link SmtpText#forReply}), and at most 512
   * characters of it.
   */
  private static String printable(String text) {
    String clean = SmtpText.forReply(text);
    return clean.length() > 512 ? clean.substring(0, 512) : clean;
  }

  @Override
  public String toString() {
    return "PolicyAnswers{" + replies + "}";
  }

  /**
   * Collects the values of {@link ReplyPolicy.Settings}. The bypass list is empty by default: in
   * front of Postfix, put {@code permit_mynetworks} before {@code check_policy_service} instead;
   * {@code onUnverified(TEMPFAIL)} answers {@code DEFER_IF_PERMIT}. {@link #build()} validates them
   * all. Not thread-safe.
   */
  public static final class Builder extends ReplyPolicy.Settings<Builder> {
    private Builder() {}

    /**
     * @throws IllegalArgumentException naming the first value out of range
     */
    public PolicyAnswers build() {
      return new PolicyAnswers(replyPolicy());
    }
  }
}
