package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import java.util.List;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One configuration's view of the backend: its session pool and what was learnt about it (its
 * limits in {@link SessionLimits}, which domains answer {@code VRFY} honestly in {@link VrfyTrust},
 * a known-good address per domain in {@link KnownGood}). Replaced whole on reconfiguration, but for
 * the known-good addresses where the backend hosts stay the same.
 *
 * <p>A batch is verified by a {@link BatchRun}, which puts its questions to sessions through the
 * {@link Dialogue}; what cannot be answered becomes a {@link FailureVerdicts failure verdict}, with
 * {@link MisconfigurationWarnings one warning} per kind of misconfiguration.
 */
public final class Backend implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  private final VerifierConfig config;
  private final KnownGood knownGood;

  /** Null without a backend host: every address is then answered NOT_CONFIGURED. */
  private final SessionPool<BackendSession> pool;

  private final BatchRun<BackendSession> batchRun;

  /** The pool's sessions; null without a backend host. */
  private final BackendSessions sessions;

  public Backend(
      VerifierConfig config, Counters counters, KnownGood knownGood, ExecutorService batchThreads) {
    this.config = config;
    this.knownGood = knownGood;
    if (config.backends().isEmpty()) {
      this.pool = null;
      this.batchRun = null;
      this.sessions = null;
      return;
    }
    LOG.info("verifying recipients against {}", config);
    SessionLimits limits = new SessionLimits(config);
    FailureVerdicts failures =
        new FailureVerdicts(config, new MisconfigurationWarnings(config.probeSender()));
    Connector connector = new Connector(config);
    if (config.sharedCache().isPresent() || config.sharedFindings().isPresent()) {
      knownGood.store().ifPresent(connector::shareWith); // the shared one, guarded
      knownGood.store().ifPresent(limits::shareWith);
    }
    this.sessions =
        new BackendSessions(connector, config, limits, new ProbeSender(config), counters);
    this.pool = new SessionPool<>(sessions, config, counters);
    this.batchRun =
        new BatchRun<>(
            config.maxSessions(),
            limits,
            pool,
            new Dialogue(
                knownGood,
                new VrfyTrust(config, knownGood, limits::endsSessionsOnFirstRefusal),
                failures,
                pool::othersWaiting),
            failures,
            batchThreads);
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
   * Verifies the addresses within one deadline ({@link BatchRun}) and returns their verdicts in
   * order. A slot stays pending where the question was still unanswered when this backend was
   * closed by a reconfiguration: the caller asks the new one.
   */
  public VerdictSlots verifyAll(List<String> addresses, Deadline deadline) {
    if (pool == null) {
      VerdictSlots verdicts = new VerdictSlots(addresses.size());
      verdicts.settlePending(
          FailureVerdicts.unverified(
              Verdict.Reason.NOT_CONFIGURED, "no backend configured", deadline));
      return verdicts;
    }
    return batchRun.verify(addresses, deadline);
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.close();
      batchRun.close();
      sessions.closeServableAgain();
    }
  }
}
