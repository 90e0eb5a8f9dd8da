package io.github.rcptproxy;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Asks a backend SMTP server whether a recipient exists, over a pool of cached SMTP sessions
 * ({@code VRFY} where the backend proved to answer it honestly; otherwise {@code MAIL FROM:<>} once
 * per session, then one {@code RCPT TO} per verification; never {@code DATA}). Only a refusal about
 * the mailbox becomes {@link Verdict.Rejected}; see {@link Verdict.Reason#BACKEND_REFUSED}.
 *
 * <pre>{@code
 * try (RecipientVerifier verifier = RecipientVerifier.create(
 *     VerifierConfig.builder().backend("10.0.0.5", 25).build())) {
 *   if (verifier.verify("alice@example.com") instanceof Verdict.Rejected rejected) {
 *     // answer the client 550 and do not accept the recipient
 *   }
 * }
 * }</pre>
 *
 * <p><b>Thread safety:</b> all methods may be called from any number of threads at once.
 *
 * <p><b>Timing:</b> {@link #verify} blocks for at most the configured {@linkplain
 * VerifierConfig#deadline() deadline} plus a few milliseconds, waiting for a free session included,
 * and never throws for anything the backend does: trouble becomes {@link Verdict.Unverified} with a
 * reason. Only programming errors throw ({@code NullPointerException} for a null address, {@code
 * IllegalStateException} after {@link #close()}).
 *
 * <p><b>Lifecycle:</b> sessions are opened lazily on first use, kept for reuse, closed after the
 * idle timeout or the maximum age, and replaced after a few rejections to stay under the backend's
 * error limits (lowered to what the backend shows). {@link #close()} closes idle sessions at once
 * and busy ones when their verification ends; verifications waiting for a session are woken, not
 * interrupted, and answer what they had not asked {@link Verdict.Reason#BACKEND_UNAVAILABLE}.
 */
public interface RecipientVerifier extends AutoCloseable {

  /** A verifier for the configured backend; it opens no connection until first used. */
  static RecipientVerifier create(VerifierConfig config) {
    return new PooledRecipientVerifier(config);
  }

  /**
   * Verifies one recipient address ({@code local@domain}, with or without angle brackets). An
   * address that is not a valid RFC 5321 mailbox is answered {@link Verdict.Reason#INVALID_ADDRESS}
   * without being sent.
   */
  Verdict verify(String address);

  /**
   * {@link #verify} on the verifier's own threads; the future completes within the deadline plus a
   * few milliseconds and never completes exceptionally for backend trouble. A verdict found in the
   * verifier's {@linkplain VerifierConfig.Builder#cache in-memory cache} comes back already
   * completed, looked up on the calling thread without blocking, unless catch-all detection must
   * ask the backend about its domain first; a {@linkplain VerifierConfig.Builder#sharedCache shared
   * cache} is asked on the verifier's threads.
   */
  CompletableFuture<Verdict> verifyAsync(String address);

  /**
   * Verifies several recipients (typically those of one message) within one deadline, and returns
   * their verdicts in the same order. With {@code RCPT} probes the recipients are pipelined to the
   * backend in as few round trips as its error limits allow (a batch never holds more recipients
   * than a session may still have rejected); {@code VRFY} takes one round trip per recipient. More
   * recipients than one session takes at a time are answered on several pooled sessions at once (up
   * to {@code maxSessions}), each taking the next recipients as soon as it is free. Same guarantees
   * as {@link #verify}; verdicts not reached by the deadline are {@link Verdict.Reason#TIMEOUT}.
   */
  List<Verdict> verifyAll(List<String> addresses);

  /** {@link #verifyAll} on the verifier's own threads. */
  CompletableFuture<List<Verdict>> verifyAllAsync(List<String> addresses);

  /**
   * Replaces the configuration at once. Every cached session is discarded (idle ones closed now,
   * busy ones when their verification ends) and the verdict cache is emptied; verifications under
   * way finish with the old configuration.
   */
  void reconfigure(VerifierConfig config);

  /** Forgets what the verdict cache holds for the address (if caching is on). */
  void invalidate(String address);

  /** Empties the verdict cache (if caching is on). */
  void invalidateAll();

  /** Whether the backend answered lately, from what verifications saw; sends nothing. */
  Health health();

  /** The configuration in force. */
  VerifierConfig config();

  /** Counters since creation, and the sessions open now. */
  VerifierStats stats();

  /** Closes every session; later calls to {@link #verify} throw {@link IllegalStateException}. */
  @Override
  void close();
}
