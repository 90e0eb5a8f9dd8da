package io.github.rcptproxy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One configuration's view of the backend: its resolved address, its session pool, and what was
 * learnt about it (which domains answer {@code VRFY} honestly). Replaced whole on reconfiguration.
 */
final class Backend implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  private final VerifierConfig config;
  private final SessionPool pool;
  private final String notConfiguredBecause;
  /** Domain → whether VRFY answers are trusted there; absent until learnt. */
  private final ConcurrentMap<String, Boolean> vrfyTrusted = new ConcurrentHashMap<>();
  private volatile boolean vrfyRefused;
  private final AtomicBoolean senderRejectionLogged = new AtomicBoolean();

  private Backend(VerifierConfig config, SessionPool pool, String notConfiguredBecause) {
    this.config = config;
    this.pool = pool;
    this.notConfiguredBecause = notConfiguredBecause;
  }

  /** Resolves the backend's host now; one that does not resolve leaves the verifier unconfigured. */
  static Backend start(VerifierConfig config, Counters counters) {
    Optional<String> host = config.backendHost();
    if (host.isEmpty()) {
      return new Backend(config, null, "no backend configured");
    }
    try {
      InetSocketAddress address =
          new InetSocketAddress(InetAddress.getByName(host.get()), config.backendPort());
      LOG.info("verifying recipients against {} ({})", address, config);
      return new Backend(config, new SessionPool(address, config, counters), null);
    } catch (UnknownHostException e) {
      LOG.error("backend host {} does not resolve; every address is answered NOT_CONFIGURED", host.get());
      return new Backend(config, null, "backend host " + host.get() + " does not resolve");
    }
  }

  VerifierConfig config() {
    return config;
  }

  int activeSessions() {
    return pool == null ? 0 : pool.active();
  }

  int idleSessions() {
    return pool == null ? 0 : pool.idle();
  }

  /**
   * Verifies within the deadline; returns empty if this backend was closed by a reconfiguration
   * before a session could be had (the caller then asks the new one).
   */
  Optional<Verdict> verify(String address, Deadline deadline) {
    if (pool == null) {
      return Optional.of(unverified(Verdict.Reason.NOT_CONFIGURED, notConfiguredBecause, null, deadline));
    }
    Mailbox mailbox;
    try {
      mailbox = Mailbox.parse(address);
    } catch (InvalidAddressException e) {
      return Optional.of(unverified(Verdict.Reason.INVALID_ADDRESS, e.getMessage(), null, deadline));
    }
    for (int attempt = 0; ; attempt++) {
      if (deadline.expired()) {
        return Optional.of(timeout(deadline));
      }
      BackendSession session;
      try {
        session = pool.borrow(deadline);
      } catch (NoSuchElementException e) {
        return Optional.of(
            unverified(Verdict.Reason.BUSY, "no backend session free within the deadline", null, deadline));
      } catch (IllegalStateException e) {
        return Optional.empty();
      } catch (Exception e) {
        return Optional.of(failure(e, deadline));
      }
      boolean stale = session.used();
      try {
        BackendReply reply = ask(session, mailbox, deadline);
        pool.release(session);
        return Optional.of(verdictFor(reply, deadline));
      } catch (InvalidAddressException e) {
        pool.release(session);
        return Optional.of(unverified(Verdict.Reason.INVALID_ADDRESS, e.getMessage(), null, deadline));
      } catch (IOException e) {
        pool.release(session);
        if (attempt == 0 && stale && retryable(e) && !deadline.expired()) {
          LOG.debug("{} failed ({}); retrying once on a fresh session", session, e.getMessage());
          if (connectionLost(e)) {
            pool.discardIdle();
          }
          continue;
        }
        return Optional.of(failure(e, deadline));
      }
    }
  }

  private BackendReply ask(BackendSession session, Mailbox mailbox, Deadline deadline)
      throws IOException, InvalidAddressException {
    if (config.probeMethod() == ProbeMethod.VRFY && !vrfyRefused && !mailbox.needsSmtputf8()) {
      String domain = mailbox.domain().toLowerCase(Locale.ROOT);
      Boolean trusted = vrfyTrusted.get(domain);
      if (trusted == null) {
        trusted = learnVrfyTrust(session, domain, deadline);
      }
      if (Boolean.TRUE.equals(trusted)) {
        return session.vrfy(mailbox, deadline);
      }
    }
    return session.rcpt(mailbox, deadline);
  }

  /** Returns whether VRFY is honest for the domain, or null if the backend could not say now. */
  private Boolean learnVrfyTrust(BackendSession session, String domain, Deadline deadline)
      throws IOException {
    BackendReply reply = session.vrfyRandomLocalPart(domain, deadline);
    int code = reply.code();
    if (code == 500 || code == 502 || code == 504) {
      if (!vrfyRefused) {
        vrfyRefused = true;
        LOG.info("backend refuses VRFY ({}); verifying with RCPT instead", reply);
      }
      return false;
    }
    if (reply.isTransientNegative()) {
      return null;
    }
    boolean honest = reply.isPermanentNegative();
    if (vrfyTrusted.putIfAbsent(domain, honest) == null) {
      if (honest) {
        LOG.info("backend rejects unknown users in {} on VRFY ({}); using VRFY there", domain, reply);
      } else {
        LOG.info("backend accepts any user in {} on VRFY ({}); using RCPT there", domain, reply);
      }
    }
    return honest;
  }

  private Verdict verdictFor(BackendReply reply, Deadline deadline) {
    if (reply.isPositive()) {
      return new Verdict.Accepted(reply, deadline.elapsed());
    }
    if (reply.isPermanentNegative()) {
      return new Verdict.Rejected(reply, deadline.elapsed());
    }
    return unverified(Verdict.Reason.TEMPORARY_FAILURE, "backend answered " + reply, reply, deadline);
  }

  private static boolean retryable(IOException e) {
    if (e instanceof SessionFailure failure) {
      return failure.retryable();
    }
    return !(e instanceof SocketTimeoutException);
  }

  private static boolean connectionLost(IOException e) {
    return !(e instanceof SessionFailure failure)
        || failure.reason() == Verdict.Reason.BACKEND_UNAVAILABLE;
  }

  private Verdict failure(Exception e, Deadline deadline) {
    if (e instanceof SocketTimeoutException) {
      return deadline.expired()
          ? timeout(deadline)
          : unverified(Verdict.Reason.BACKEND_UNAVAILABLE, "connect timed out", null, deadline);
    }
    if (e instanceof SessionFailure failure) {
      if (failure.reason() == Verdict.Reason.SENDER_REJECTED
          && senderRejectionLogged.compareAndSet(false, true)) {
        LOG.warn(
            "backend refuses the probe sender <{}>: {}; fix the probe sender, no recipient can be verified",
            config.probeSender(),
            failure.reply().map(BackendReply::toString).orElse("?"));
      }
      String detail =
          failure.getMessage() + failure.reply().map(reply -> ": " + reply).orElse("");
      return unverified(failure.reason(), detail, failure.reply().orElse(null), deadline);
    }
    if (e instanceof IOException) {
      return unverified(Verdict.Reason.BACKEND_UNAVAILABLE, String.valueOf(e), null, deadline);
    }
    LOG.warn("unexpected failure verifying against {}", config.backendHost().orElse("?"), e);
    return unverified(Verdict.Reason.BACKEND_UNAVAILABLE, String.valueOf(e), null, deadline);
  }

  private static Verdict timeout(Deadline deadline) {
    return unverified(Verdict.Reason.TIMEOUT, "backend did not answer within the deadline", null, deadline);
  }

  private static Verdict unverified(
      Verdict.Reason reason, String detail, BackendReply reply, Deadline deadline) {
    return new Verdict.Unverified(reason, detail, Optional.ofNullable(reply), deadline.elapsed());
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.close();
    }
  }
}
