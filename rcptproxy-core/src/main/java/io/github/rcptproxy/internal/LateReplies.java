package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.internal.smtp.SmtpConnection;
import io.github.rcptproxy.internal.smtp.SmtpReply;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replies a session still owed when a verification's deadline ran out, waited for outside it on
 * a thread of its own (at most {@link #WAIT}): a backend that delays its refusals on purpose
 * (Exim's {@code delay} in its RCPT ACL, a tarpit) is then measured, and one warning says how long
 * it takes and what to change, instead of every unknown recipient timing out in silence; the
 * session, once it has them, may serve the next verifications ({@link BackendSession}).
 */
final class LateReplies {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();

  /** How long owed replies are waited for: past any tarpit a verifier could wait for. */
  static final Duration WAIT = Duration.ofSeconds(30);

  private LateReplies() {}

  /**
   * Reads the {@code owed} replies on a thread of its own, warns once where the last is a refusal,
   * and hands them to {@code then}; closes the connection where they do not come.
   */
  static void await(
      SmtpConnection connection,
      int owed,
      long owedSince,
      SessionLimits limits,
      Duration deadline,
      Consumer<List<SmtpReply>> then) {
    Thread thread =
        new Thread(
            () -> {
              List<SmtpReply> replies = new ArrayList<>(owed);
              try {
                SmtpReply last = null;
                for (int i = 0; i < owed; i++) {
                  last = connection.read();
                  replies.add(last);
                }
                long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - owedSince);
                if (last != null && last.code() >= 400 && limits.lateRefusal()) {
                  LOG.warn(
                      "the backend refused a recipient after {} ms ({}), later than the deadline of"
                          + " {} ms (a tarpit: Exim's delay in its RCPT ACL): such recipients are"
                          + " answered UNVERIFIED TIMEOUT; set the deadline above {} ms"
                          + " (rcptproxy probe measures it), or exempt this host from the delay",
                      took,
                      BackendSession.backendReply(last),
                      deadline.toMillis(),
                      took);
                }
              } catch (IOException | RuntimeException e) {
                connection.close(); // gone, or later still: nothing to learn
                return;
              }
              then.accept(replies);
            },
            "rcptproxy-late-replies-" + THREAD_NUMBER.incrementAndGet());
    thread.setDaemon(true);
    thread.start();
  }
}
