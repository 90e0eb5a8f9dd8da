package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.VerdictCache;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Addresses the backend accepts: the control question for a refusal the transaction has not
 * settled. One learnt per domain (bounded), the last one of any domain for a domain without its
 * own, and those the operator named ({@code knownGood}) before any is learnt. The first address
 * learnt in a domain is written to the verdict cache under {@value #STORE_PREFIX}{@code domain} and
 * read back where none is known, so that a restarted verifier, or another gateway sharing the
 * cache, has it before the backend accepts any address; with a state directory, likewise in its
 * {@link KnownGoodFile}, for a lone verifier without a shared cache. Kept across reconfiguration:
 * an address the new backend refuses makes its refusals unverified (never rejected), and every
 * address it accepts replaces it. Never {@code postmaster}: sites exempt it from the very checks
 * (sender verification, ratio rules) whose refusals the control must tell apart.
 */
public final class KnownGood {
  /** Where the verdict cache keeps a domain's known-good address: not an address key. */
  static final String STORE_PREFIX = "known-good:";

  private static final Duration STORED_FOR = Duration.ofDays(30);

  private final DomainMemory<Mailbox> byDomain = new DomainMemory<>();
  private volatile Mailbox last;
  private volatile List<Mailbox> named = List.of();
  private volatile Optional<VerdictCache> store = Optional.empty();
  private volatile Optional<KnownGoodFile> file = Optional.empty();
  private volatile Optional<Path> stateDirectory = Optional.empty();
  private volatile Clock clock = Clock.systemUTC();

  /**
   * The addresses the operator named (validated by the configuration), and the cache where learnt
   * ones are kept, in a verdict cache and in a state directory's file (read when the directory is
   * first given); replaced on reconfiguration.
   */
  public void use(
      List<String> namedAddresses,
      Optional<VerdictCache> store,
      Optional<Path> stateDirectory,
      Clock clock) {
    List<Mailbox> parsed = new ArrayList<>(namedAddresses.size());
    for (String address : namedAddresses) {
      try {
        parsed.add(Mailbox.parse(address));
      } catch (InvalidAddressException e) {
        throw new IllegalArgumentException("known-good address " + address + ": " + e.getMessage());
      }
    }
    this.named = List.copyOf(parsed);
    this.store = store;
    this.clock = clock;
    if (!stateDirectory.equals(this.stateDirectory)) {
      this.file = stateDirectory.map(KnownGoodFile::open);
      this.stateDirectory = stateDirectory;
    }
  }

  /** Where findings about domains are kept (the shared store or cache, if any), as last given. */
  Optional<VerdictCache> store() {
    return store;
  }

  /** The backend accepted this address; an address that needs SMTPUTF8 cannot serve as control. */
  void accepted(String domain, Mailbox mailbox) {
    if (mailbox.needsSmtputf8()) {
      return;
    }
    boolean first = byDomain.get(domain) == null;
    byDomain.put(domain, mailbox);
    last = mailbox;
    file.ifPresent(kept -> kept.accepted(domain, mailbox));
    if (first) {
      Instant now = clock.instant();
      store.ifPresent(
          cache ->
              cache.put(
                  STORE_PREFIX + domain,
                  new VerdictCache.CachedVerdict(
                      new BackendReply(250, "", mailbox.address()), now, now.plus(STORED_FOR))));
    }
  }

  /**
   * The control for a refusal in the domain: learnt there, named there, kept in the state file or
   * the cache for it, learnt in any domain, or named in any domain; empty if there is none.
   */
  Optional<Mailbox> control(String domain) {
    return control(domain, Set.of());
  }

  /**
   * The same, but none of the addresses {@code refused} (by their address): a known-good address
   * the backend now refuses cannot tell whether its own refusal was about it.
   */
  Optional<Mailbox> control(String domain, Set<String> refused) {
    Predicate<Mailbox> usable = mailbox -> !refused.contains(mailbox.address());
    Mailbox mailbox = Optional.ofNullable(byDomain.get(domain)).filter(usable).orElse(null);
    if (mailbox == null) {
      mailbox =
          named(domain)
              .filter(usable)
              .or(() -> file.flatMap(kept -> kept.get(domain)).filter(usable))
              .or(() -> stored(domain).filter(usable))
              .orElse(null);
    }
    if (mailbox == null) {
      mailbox = Optional.ofNullable(last).filter(usable).orElse(null);
    }
    if (mailbox == null) {
      mailbox = named.stream().filter(usable).findFirst().orElse(null);
    }
    return Optional.ofNullable(mailbox);
  }

  private Optional<Mailbox> named(String domain) {
    return named.stream()
        .filter(mailbox -> mailbox.domain().toLowerCase(Locale.ROOT).equals(domain))
        .findFirst();
  }

  /** The domain's address kept in the cache, remembered here once read. */
  private Optional<Mailbox> stored(String domain) {
    Optional<Mailbox> stored =
        store.flatMap(cache -> cache.get(STORE_PREFIX + domain)).flatMap(KnownGood::mailbox);
    stored.ifPresent(mailbox -> byDomain.put(domain, mailbox));
    return stored;
  }

  private static Optional<Mailbox> mailbox(VerdictCache.CachedVerdict stored) {
    try {
      return Optional.of(Mailbox.parse(stored.reply().text()));
    } catch (InvalidAddressException e) {
      return Optional.empty();
    }
  }
}
