package io.github.rcptproxy;

import java.io.Serializable;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a verifier keeps the backend's definite answers, so an address is not asked again for every
 * message. The verifier has its own in-memory cache when {@link VerifierConfig.Builder#cache} is
 * set; implement this (or use {@code JCacheVerdictCache} from {@code rcptproxy-jcache}) to share
 * answers between several gateways. Only {@link Verdict.Accepted} and {@link Verdict.Rejected} are
 * ever stored. Keys are normalised addresses (domain in lower case, local part as given), and
 * {@code known-good:DOMAIN}: the address the backend accepted first in the domain (the reply's
 * text), which a verifier asks as its control question before it has learnt one of its own; and, in
 * a shared cache with catch-all detection on, {@code catch-all:DOMAIN}: whether the backend
 * accepted a random local part there (a positive reply if it did), until the finding expires; and
 * {@code vrfy-trust:DOMAIN}: whether the backend's VRFY tells mailboxes apart there (a positive
 * reply if it does), until that finding expires; and {@code backend-down:ADDRESS:PORT}: a backend
 * address that did not answer, skipped until its cool-down ends; and {@code
 * session-limits:HOST:PORT,...} (the backend hosts as configured): the session limits learnt of
 * that backend (the reply's text, {@code slows=BOOLEAN} and those of {@code rejections=N vrfy=N
 * recipients=N} that were learnt), for an hour.
 *
 * <p><b>Contract:</b> implementations must be thread-safe. A shared cache given to {@link
 * VerifierConfig.Builder#sharedCache} is called off the caller's SMTP thread: a lookup is waited
 * for at most a tenth of the verification's deadline and counts as a miss if it takes longer or
 * throws; stores and removals run in the background and are dropped if thousands pile up. So a slow
 * or failing cache costs hits, never a verification's deadline, and never throws out of {@link
 * RecipientVerifier#verify}. Failures are logged once.
 */
public interface VerdictCache {

  /** The stored answer for the key, if there is one that has not expired. */
  Optional<CachedVerdict> get(String key);

  void put(String key, CachedVerdict verdict);

  void invalidate(String key);

  void invalidateAll();

  /** A definite answer of the backend, with the moment it was learnt and the moment it expires. */
  record CachedVerdict(BackendReply reply, Instant storedAt, Instant expiresAt)
      implements Serializable {
    public CachedVerdict {
      Objects.requireNonNull(reply, "reply");
      Objects.requireNonNull(storedAt, "storedAt");
      Objects.requireNonNull(expiresAt, "expiresAt");
    }

    public boolean accepted() {
      return reply.isPositive();
    }
  }
}
