package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.ProbeMethod;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.VerifierConfig;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where VRFY may answer: only with probe method VRFY over SMTP (LMTP servers, Dovecot: {@code 501},
 * are asked with RCPT only), not while the backend refuses VRFY, and only in a domain where it
 * answers VRFY honestly in both directions: a random local part refused, and a known-good address
 * right after it not refused. A backend that says yes to a random local part (Exchange, or Exim
 * past a VRFY rate limit: {@code 252} to everything) is asked with RCPT there. Each is held for
 * {@value #TTL_MINUTES} minutes, and so is a refusal of VRFY itself. A domain's finding is also
 * kept where known-good addresses are ({@value #STORE_PREFIX}{@code domain}, until it expires), so
 * that another gateway sharing that store uses it without asking a random local part itself.
 *
 * <p>A {@code 252} says the server cannot tell (RFC 5321 3.5.3). It is taken to mean "would take"
 * only where a random local part is refused right after it in the same session ({@link
 * #refusesRandomNow}): the backend tells addresses apart now, as Postfix does (252 for a mailbox it
 * would take, 550 for an unknown one).
 */
final class VrfyTrust {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  /** How long a domain's VRFY trust (or the backend's refusal of VRFY) holds before a re-check. */
  static final int TTL_MINUTES = 10;

  private static final Duration TTL = Duration.ofMinutes(TTL_MINUTES);

  /**
   * Where a verdict cache or shared findings store keeps a domain's finding: not an address key.
   */
  static final String STORE_PREFIX = "vrfy-trust:";

  /** What asking a random local part with VRFY showed about a domain. */
  enum Honesty {
    /** Refused as a mailbox: VRFY tells mailboxes apart there. */
    HONEST,
    /** VRFY says yes to anyone there, or answers that it cannot say: RCPT is asked. */
    NOT_TELLING,
    /** Nothing to go by now (the question goes by RCPT, and honesty is asked again next time). */
    CANNOT_TELL
  }

  private record Known(Honesty honesty, Instant until) {}

  /** What a question showed, and the reply that showed it. */
  private record Finding(Honesty honesty, BackendReply reply) {}

  private final boolean configured;
  private final Clock clock;
  private final KnownGood knownGood;

  /** Whether the backend ends each session right after its first refusal, as a VRFY's would be. */
  private final BooleanSupplier endsSessionsOnRefusal;

  private final DomainMemory<Known> byDomain = new DomainMemory<>();
  private volatile Instant unsupportedUntil = Instant.MIN;

  VrfyTrust(VerifierConfig config, KnownGood knownGood, BooleanSupplier endsSessionsOnRefusal) {
    this.configured =
        config.probeMethod() == ProbeMethod.VRFY && config.protocol() == BackendProtocol.SMTP;
    this.clock = config.clock();
    this.knownGood = knownGood;
    this.endsSessionsOnRefusal = endsSessionsOnRefusal;
  }

  /**
   * Whether VRFY may answer for the domain: configured, not refused lately, not known dishonest,
   * and not against a backend that ends each session on its first refusal (the random local part
   * that confirms VRFY would end the session: RCPT answers the known addresses there, {@code 250}).
   */
  boolean mayServe(String domain) {
    if (!configured || endsSessionsOnRefusal.getAsBoolean()) {
      return false;
    }
    Instant now = clock.instant();
    if (unsupportedUntil.isAfter(now)) {
      return false;
    }
    Known known = byDomain.get(domain);
    return known == null || !known.until().isAfter(now) || known.honesty() == Honesty.HONEST;
  }

  /**
   * Whether VRFY answers are honest in the domain, asking the session where that is not known now.
   * False where it cannot be told now.
   */
  boolean honest(BackendSession session, String domain, Deadline deadline) throws IOException {
    Instant now = clock.instant();
    if (unsupportedUntil.isAfter(now)) {
      return false;
    }
    Known known = byDomain.get(domain);
    if (known == null || !known.until().isAfter(now)) {
      known = stored(domain, now);
    }
    if (known != null) {
      return known.honesty() == Honesty.HONEST;
    }
    Optional<Mailbox> random = randomMailbox(domain);
    if (random.isEmpty()) {
      return false;
    }
    BackendReply reply = Probe.askOne(session, ProbeMethod.VRFY, random.get(), deadline);
    if (ReplyMeaning.vrfyNotSupported(reply)) {
      refused(reply);
      return false;
    }
    Finding finding = honesty(session, domain, reply, deadline);
    if (finding.honesty() != Honesty.CANNOT_TELL) {
      remember(domain, finding.honesty(), finding.reply(), now);
    }
    return finding.honesty() == Honesty.HONEST;
  }

  /** The backend answered VRFY that it does not do VRFY: RCPT for a while, in every domain. */
  void refused(BackendReply reply) {
    Instant now = clock.instant();
    if (!unsupportedUntil.isAfter(now)) {
      LOG.info("backend refuses VRFY ({}); verifying with RCPT instead", reply);
    }
    unsupportedUntil = now.plus(TTL);
  }

  /**
   * Whether the session refuses a random local part of the domain now, as it would an unknown
   * address: asked right after a {@code 252} (or a run of them, {@link VrfyRun}). Accepted, VRFY
   * does not tell addresses apart there (RCPT is asked there for a while).
   */
  boolean refusesRandomNow(BackendSession session, String domain, Deadline deadline)
      throws IOException {
    Optional<Mailbox> random = randomMailbox(domain);
    if (random.isEmpty()) {
      return false;
    }
    BackendReply reply = Probe.askOne(session, ProbeMethod.VRFY, random.get(), deadline);
    switch (ReplyMeaning.of(reply)) {
      case NO_SUCH_MAILBOX -> {
        return true;
      }
      case UNCLEAR_REFUSAL -> {
        // Only a mailbox's reply code (RFC 5321 4.2.3): Exim answers the VRFY past its
        // smtp_accept_max_nonmail 554 Too many nonmail commands, about the session, then closes.
        return reply.code() == 550 || reply.code() == 551 || reply.code() == 553;
      }
      case ACCEPTED -> remember(domain, Honesty.NOT_TELLING, reply, clock.instant());
      case SESSION_OVER -> {
        session.teachLimits();
        throw SessionFailure.sessionEnded(reply);
      }
      default -> {}
    }
    return false;
  }

  /**
   * What the reply to a random local part says; a refusal is honest only if a known-good address of
   * the domain is answered {@code 250} or {@code 251} right after it.
   */
  private Finding honesty(
      BackendSession session, String domain, BackendReply reply, Deadline deadline)
      throws IOException {
    return switch (ReplyMeaning.of(reply)) {
      case ACCEPTED -> new Finding(Honesty.NOT_TELLING, reply);
      case NO_SUCH_MAILBOX, UNCLEAR_REFUSAL -> {
        Optional<Mailbox> control = knownGood.control(domain);
        if (control.isEmpty()) {
          yield new Finding(Honesty.CANNOT_TELL, reply);
        }
        BackendReply controlReply =
            Probe.askOne(session, ProbeMethod.VRFY, control.get(), deadline);
        yield ReplyMeaning.of(controlReply) == ReplyMeaning.ACCEPTED
            ? new Finding(Honesty.HONEST, reply)
            : new Finding(Honesty.CANNOT_TELL, controlReply);
      }
      case SESSION_OVER -> {
        session.teachLimits();
        throw SessionFailure.sessionEnded(reply);
      }
      default -> new Finding(Honesty.CANNOT_TELL, reply);
    };
  }

  /** The domain's finding kept in the store by another verifier, remembered here; or null. */
  private Known stored(String domain, Instant now) {
    Optional<VerdictCache.CachedVerdict> stored =
        knownGood.store().flatMap(cache -> cache.get(STORE_PREFIX + domain));
    if (stored.isEmpty() || !stored.get().expiresAt().isAfter(now)) {
      return null;
    }
    Known known =
        new Known(
            stored.get().accepted() ? Honesty.HONEST : Honesty.NOT_TELLING,
            stored.get().expiresAt());
    byDomain.put(domain, known);
    return known;
  }

  private void remember(String domain, Honesty honesty, BackendReply reply, Instant now) {
    Known before = byDomain.get(domain);
    Instant until = now.plus(TTL);
    byDomain.put(domain, new Known(honesty, until));
    // A positive reply for "VRFY honest here": not the backend's reply, which refused a random one.
    BackendReply finding =
        new BackendReply(honesty == Honesty.HONEST ? 250 : 550, "", "VRFY " + honesty);
    knownGood
        .store()
        .ifPresent(
            cache ->
                cache.put(
                    STORE_PREFIX + domain, new VerdictCache.CachedVerdict(finding, now, until)));
    if (before != null && before.honesty() == honesty) {
      return;
    }
    if (honesty == Honesty.HONEST) {
      LOG.info("backend refuses unknown users in {} on VRFY ({}); using VRFY there", domain, reply);
    } else {
      LOG.info(
          "backend's VRFY does not tell mailboxes apart in {} ({}); using RCPT there",
          domain,
          reply);
    }
  }

  private static Optional<Mailbox> randomMailbox(String domain) {
    String localPart =
        "rcptproxy-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    try {
      return Optional.of(Mailbox.parse(localPart + "@" + domain));
    } catch (InvalidAddressException e) {
      return Optional.empty();
    }
  }
}
