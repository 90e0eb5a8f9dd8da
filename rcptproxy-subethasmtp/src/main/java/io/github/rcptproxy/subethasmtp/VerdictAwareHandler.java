package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.Verdict;
import java.util.Optional;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;

/**
 * A wrapped handler that is told how each recipient it gets was judged: the verifying wrapper calls
 * {@link #recipient(String, Optional)} in place of {@link #recipient(String)}. A handler that hands
 * the message on at once (a gateway without a queue) can then ask its next hop about the recipients
 * the backend did not settle, before answering the client.
 */
public interface VerdictAwareHandler extends MessageHandler {
  /**
   * An accepted recipient and the verdict it was accepted on: {@link Verdict.Accepted} when the
   * backend accepted it, {@link Verdict.Unverified} when the policy accepted it without an answer,
   * empty when it was not verified (a {@code <postmaster>} without a domain, a client that bypasses
   * verification, a domain with no route).
   *
   * @throws RejectException to refuse the recipient after all
   */
  void recipient(String recipient, Optional<Verdict> verdict) throws RejectException;

  /** A recipient that was not verified. */
  @Override
  default void recipient(String recipient) throws RejectException {
    recipient(recipient, Optional.empty());
  }
}
