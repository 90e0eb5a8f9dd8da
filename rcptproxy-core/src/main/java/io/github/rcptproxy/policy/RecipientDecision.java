package io.github.rcptproxy.policy;

/**
 * What to tell the client about one recipient, as {@link ReplyPolicy#decide} made it from a
 * verdict. Each SMTP front renders it in its own protocol: the SubEthaSMTP adapter as an SMTP
 * reply, the Postfix policy server as an {@code action=}. Texts are as the policy and the backend
 * gave them: a front sends only printable ASCII of them.
 */
public sealed interface RecipientDecision {

  /** Let the recipient through (verified, catch-all, or unverified and the policy fails open). */
  RecipientDecision ACCEPT = new Accept();

  /** A refusal with a reply code, an enhanced status code and a text. */
  sealed interface Reply extends RecipientDecision {
    int code();

    /** {@code X.Y.Z}, without the code. */
    String enhancedStatus();

    String text();
  }

  /** The recipient is let through. */
  record Accept() implements RecipientDecision {}

  /**
   * The backend says the recipient does not exist: the policy's code and text. The adapter counts
   * these (tarpit, disconnect after so many); Postfix counts them as its own errors.
   */
  record Reject(int code, String enhancedStatus, String text) implements Reply {}

  /**
   * A reply to pass on as it is: the address is malformed ({@code 501 5.1.3}), or the backend
   * answered {@code 4xx} and the policy passes that on.
   */
  record Refuse(int code, String enhancedStatus, String text) implements Reply {}

  /**
   * The recipient could not be verified and the policy fails closed: {@code 451 4.4.3}, which the
   * Postfix policy server sends as {@code DEFER_IF_PERMIT}.
   */
  record Defer(int code, String enhancedStatus, String text) implements Reply {}
}
