package io.github.rcptproxy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
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

  /**
   * Resolves the backend's host now; one that does not resolve leaves the verifier unconfigured.
   */
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
      LOG.error(
          "backend host {} does not resolve; every address is answered NOT_CONFIGURED", host.get());
      return new Backend(config, null, "backend host " + host.get() + " does not resolve");
    }
  }

  VerifierConfig config() {
    return config;
  }

  boolean configured() {
    return pool != null;
  }

  int activeSessions() {
    return pool == null ? 0 : pool.active();
  }

  int idleSessions() {
    return pool == null ? 0 : pool.idle();
  }

  /**
   * Verifies the addresses within one deadline and returns their verdicts in order; empty if this
   * backend was closed by a reconfiguration before a session could be had (the caller then asks the
   * new one). Recipients go to the backend in pipelined batches that stay within its error limits;
   * a session that turns out dead on first use is retried once on a fresh one.
   */
  Optional<List<Verdict>> verifyAll(List<String> addresses, Deadline deadline) {
    Verdict[] verdicts = new Verdict[addresses.size()];
    if (pool == null) {
      Arrays.fill(
          verdicts,
          unverified(Verdict.Reason.NOT_CONFIGURED, notConfiguredBecause, null, deadline));
      return Optional.of(Arrays.asList(verdicts));
    }
    Mailbox[] mailboxes = new Mailbox[verdicts.length];
    List<Integer> pending = new ArrayList<>(verdicts.length);
    for (int i = 0; i < verdicts.length; i++) {
      try {
        mailboxes[i] = Mailbox.parse(addresses.get(i));
        pending.add(i);
      } catch (InvalidAddressException e) {
        verdicts[i] = unverified(Verdict.Reason.INVALID_ADDRESS, e.getMessage(), null, deadline);
      }
    }
    boolean retried = false;
    boolean anyBorrowed = false;
    while (!pending.isEmpty()) {
      if (deadline.expired()) {
        fill(verdicts, pending, timeout(deadline));
        break;
      }
      BackendSession session;
      try {
        session = pool.borrow(deadline);
      } catch (NoSuchElementException e) {
        fill(
            verdicts,
            pending,
            unverified(
                Verdict.Reason.BUSY,
                "no backend session free within the deadline",
                null,
                deadline));
        break;
      } catch (IllegalStateException e) {
        if (!anyBorrowed) {
          return Optional.empty();
        }
        fill(
            verdicts,
            pending,
            unverified(
                Verdict.Reason.BACKEND_UNAVAILABLE, "verifier reconfigured", null, deadline));
        break;
      } catch (Exception e) {
        fill(verdicts, pending, failure(e, deadline));
        break;
      }
      anyBorrowed = true;
      boolean stale = session.used();
      try {
        answer(session, mailboxes, pending, verdicts, deadline);
        pool.release(session);
      } catch (IOException e) {
        pool.release(session);
        if (!retried && stale && retryable(e) && !deadline.expired()) {
          retried = true;
          LOG.debug("{} failed ({}); retrying once on a fresh session", session, e.getMessage());
          if (connectionLost(e)) {
            pool.discardIdle();
          }
          continue;
        }
        fill(verdicts, pending, failure(e, deadline));
        break;
      }
    }
    return Optional.of(Arrays.asList(verdicts));
  }

  /**
   * Answers what it can of the pending addresses on one session, removing the answered ones: a
   * pipelined RCPT batch as large as the session's limits allow, or VRFY one by one.
   */
  private void answer(
      BackendSession session,
      Mailbox[] mailboxes,
      List<Integer> pending,
      Verdict[] verdicts,
      Deadline deadline)
      throws IOException {
    if (config.probeMethod() == ProbeMethod.VRFY) {
      do {
        int index = pending.get(0);
        try {
          verdicts[index] = verdictFor(ask(session, mailboxes[index], deadline), deadline);
        } catch (InvalidAddressException e) {
          verdicts[index] =
              unverified(Verdict.Reason.INVALID_ADDRESS, e.getMessage(), null, deadline);
        }
        pending.remove(0);
      } while (!pending.isEmpty() && session.withinLimits(config.clock().instant()));
      return;
    }
    List<Integer> batch = new ArrayList<>();
    List<Mailbox> batchMailboxes = new ArrayList<>();
    boolean smtputf8 = session.offers("SMTPUTF8");
    for (Iterator<Integer> it = pending.iterator();
        it.hasNext() && batch.size() < session.capacity(); ) {
      int index = it.next();
      if (mailboxes[index].needsSmtputf8() && !smtputf8) {
        verdicts[index] =
            unverified(
                Verdict.Reason.INVALID_ADDRESS,
                "non-ASCII local part needs SMTPUTF8, which the backend does not offer",
                null,
                deadline);
        it.remove();
      } else {
        batch.add(index);
        batchMailboxes.add(mailboxes[index]);
      }
    }
    if (batch.isEmpty()) {
      return;
    }
    BackendReply[] replies;
    try {
      replies = session.rcpt(batchMailboxes, deadline);
    } catch (InvalidAddressException e) {
      throw new IllegalStateException("a validated address could not be encoded", e);
    }
    for (int i = 0; i < replies.length; i++) {
      if (replies[i] != null) {
        verdicts[batch.get(i)] = verdictFor(replies[i], deadline);
        pending.remove(batch.get(i));
      }
    }
  }

  private static void fill(Verdict[] verdicts, List<Integer> pending, Verdict verdict) {
    for (int index : pending) {
      verdicts[index] = verdict;
    }
    pending.clear();
  }

  private BackendReply ask(BackendSession session, Mailbox mailbox, Deadline deadline)
      throws IOException, InvalidAddressException {
    if (!vrfyRefused && !mailbox.needsSmtputf8()) {
      String domain = mailbox.domain().toLowerCase(Locale.ROOT);
      Boolean trusted = vrfyTrusted.get(domain);
      if (trusted == null) {
        trusted = learnVrfyTrust(session, domain, deadline);
      }
      if (Boolean.TRUE.equals(trusted)) {
        return session.vrfy(mailbox, deadline);
      }
    }
    BackendReply reply = session.rcpt(List.of(mailbox), deadline)[0];
    if (reply == null) {
      throw new IllegalStateException("first reply of a batch is never left unanswered");
    }
    return reply;
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
        LOG.info(
            "backend rejects unknown users in {} on VRFY ({}); using VRFY there", domain, reply);
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
    return unverified(
        Verdict.Reason.TEMPORARY_FAILURE, "backend answered " + reply, reply, deadline);
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
      String detail = failure.getMessage() + failure.reply().map(reply -> ": " + reply).orElse("");
      return unverified(failure.reason(), detail, failure.reply().orElse(null), deadline);
    }
    if (e instanceof IOException) {
      return unverified(Verdict.Reason.BACKEND_UNAVAILABLE, String.valueOf(e), null, deadline);
    }
    LOG.warn("unexpected failure verifying against {}", config.backendHost().orElse("?"), e);
    return unverified(Verdict.Reason.BACKEND_UNAVAILABLE, String.valueOf(e), null, deadline);
  }

  private static Verdict timeout(Deadline deadline) {
    return unverified(
        Verdict.Reason.TIMEOUT, "backend did not answer within the deadline", null, deadline);
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
