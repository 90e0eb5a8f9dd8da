package io.github.rcptproxy;

import io.github.rcptproxy.internal.Backend;
import io.github.rcptproxy.internal.Counters;
import io.github.rcptproxy.internal.Deadline;
import io.github.rcptproxy.internal.DomainMemory;
import io.github.rcptproxy.internal.GuardedCache;
import io.github.rcptproxy.internal.KnownGood;
import io.github.rcptproxy.internal.ListenerDispatch;
import io.github.rcptproxy.internal.LocalVerdictCache;
import io.github.rcptproxy.internal.VerdictSlots;
import io.github.rcptproxy.internal.smtp.SmtpText;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link RecipientVerifier}: a {@link Backend} per configuration, swapped atomically, with the
 * verdict cache and catch-all detection in front of it.
 */
final class PooledRecipientVerifier implements RecipientVerifier {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();

  /** Threads and queue of verifyAsync: bounded, so a flood answers BUSY instead of piling up. */
  private static final int ASYNC_THREADS = 64;

  private static final int ASYNC_QUEUE = 1024;

  private final Counters counters = new Counters();
  private final ListenerDispatch listeners = new ListenerDispatch();
  private final ThreadPoolExecutor asyncExecutor;

  /** Where the shares of a large verifyAll run; when every one is busy, the caller answers. */
  private final ThreadPoolExecutor batchThreads =
      new ThreadPoolExecutor(
          0,
          ASYNC_THREADS,
          60,
          TimeUnit.SECONDS,
          new SynchronousQueue<>(),
          task -> {
            Thread thread = new Thread(task, "rcptproxy-batch-" + THREAD_NUMBER.incrementAndGet());
            thread.setDaemon(true);
            return thread;
          });

  private final Object lifecycle = new Object();

  /** Cached addresses being checked again in the background right now. */
  private final Set<String> refreshing = ConcurrentHashMap.newKeySet();

  private volatile State state;
  private volatile boolean closed;

  /**
   * What one configuration brings: the backend, the cache, where findings about domains are shared
   * (the shared cache, or the shared findings store; empty if neither), the catch-all knowledge.
   */
  private record State(
      Backend backend,
      Optional<VerdictCache> cache,
      Optional<VerdictCache> findings,
      DomainMemory<CatchAll> catchAll) {
    VerifierConfig config() {
      return backend.config();
    }
  }

  /** Whether a domain accepts anything, and until when that holds. */
  private record CatchAll(boolean acceptsAnything, Instant until) {}

  /** Where a shared verdict cache keeps a domain's catch-all finding: not an address key. */
  static final String CATCH_ALL_PREFIX = "catch-all:";

  PooledRecipientVerifier(VerifierConfig config) {
    Objects.requireNonNull(config, "config");
    state = start(config, new KnownGood());
    // A verification blocks on I/O, so it must not run in a shared pool; bounded, so that a flood
    // of asynchronous calls is answered BUSY rather than piling up threads.
    asyncExecutor =
        new ThreadPoolExecutor(
            ASYNC_THREADS,
            ASYNC_THREADS,
            60,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(ASYNC_QUEUE),
            task -> {
              Thread thread =
                  new Thread(task, "rcptproxy-verify-" + THREAD_NUMBER.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    asyncExecutor.allowCoreThreadTimeOut(true);
  }

  /**
   * What a configuration brings. The addresses the backend accepted are kept when the backend hosts
   * stay the same (they are a fact about that backend), and forgotten otherwise.
   */
  private State start(VerifierConfig config, KnownGood knownGood) {
    Optional<VerdictCache> cache;
    if (config.sharedCache().isPresent()) {
      cache = Optional.of(new GuardedCache(config.sharedCache().get(), config.deadline()));
    } else if (config.cacheEnabled()) {
      cache = Optional.of(new LocalVerdictCache(config.cacheMaxEntries(), config.clock()));
    } else {
      cache = Optional.empty();
    }
    Optional<VerdictCache> findings =
        config.sharedCache().isPresent()
            ? cache
            : config.sharedFindings().map(store -> new GuardedCache(store, config.deadline()));
    knownGood.use(
        config.knownGood(), findings.or(() -> cache), config.stateDirectory(), config.clock());
    return new State(
        new Backend(config, counters, knownGood, batchThreads),
        cache,
        findings,
        new DomainMemory<>());
  }

  @Override
  public Verdict verify(String address) {
    Objects.requireNonNull(address, "address");
    return verifyAll(List.of(address)).get(0);
  }

  @Override
  public CompletableFuture<Verdict> verifyAsync(String address) {
    Objects.requireNonNull(address, "address");
    Verdict cached = cachedAtOnce(open(), address);
    if (cached != null) {
      return CompletableFuture.completedFuture(cached);
    }
    return async(() -> verify(address), PooledRecipientVerifier::busy);
  }

  /**
   * The verdict the in-memory cache holds for the address, when answering it asks the backend
   * nothing (catch-all detection off, or the domain's answer known); null otherwise, and for a
   * shared cache, whose lookup may take up to its timeout. A hit takes microseconds: handing it to
   * another thread and back would cost more than the lookup (two thread wake-ups on a busy
   * machine).
   */
  private Verdict cachedAtOnce(State state, String address) {
    if (!(state.cache().orElse(null) instanceof LocalVerdictCache cache)) {
      return null;
    }
    Optional<VerdictCache.CachedVerdict> hit = cache.get(cacheKey(address));
    if (hit.isEmpty()) {
      return null; // verify() looks again, and counts the miss once
    }
    Deadline deadline = Deadline.after(state.config().deadline());
    Verdict verdict = fromCache(hit.get(), deadline);
    if (verdict instanceof Verdict.Accepted accepted && state.config().catchAllTtl().isPresent()) {
      CatchAll known = knownCatchAll(state, domainOf(address), state.config().clock().instant());
      if (known == null) {
        return null; // verify() asks about the domain
      }
      verdict = known.acceptsAnything() ? catchAll(address, accepted, deadline) : verdict;
    }
    counters.cacheHit();
    refreshIfAgeing(state, address, hit.get());
    return reported(state, address, verdict, true);
  }

  /** Runs the verification on the verifier's threads, or answers BUSY at once if too many wait. */
  private <T> CompletableFuture<T> async(Supplier<T> verification, Supplier<T> busy) {
    open();
    try {
      return CompletableFuture.supplyAsync(verification, asyncExecutor);
    } catch (RejectedExecutionException e) {
      if (closed) {
        throw new IllegalStateException("verifier is closed");
      }
      return CompletableFuture.completedFuture(busy.get());
    }
  }

  private static Verdict busy() {
    return new Verdict.Unverified(
        Verdict.Reason.BUSY,
        "too many asynchronous verifications waiting",
        Optional.empty(),
        Duration.ZERO);
  }

  @Override
  public List<Verdict> verifyAll(List<String> addresses) {
    List<String> copy = List.copyOf(addresses); // also refuses null elements
    State current = open();
    Deadline deadline = Deadline.after(current.config().deadline());
    Verdict[] verdicts = new Verdict[copy.size()];
    BitSet fromCache = new BitSet(copy.size());
    List<Integer> misses = new ArrayList<>(copy.size());
    for (int i = 0; i < copy.size(); i++) {
      Optional<VerdictCache.CachedVerdict> hit = cached(current, copy.get(i));
      if (hit.isPresent()) {
        verdicts[i] = fromCache(hit.get(), deadline);
        fromCache.set(i);
      } else {
        misses.add(i);
      }
    }
    if (!misses.isEmpty()) {
      List<String> asked = new ArrayList<>(misses.size());
      for (int i : misses) {
        asked.add(copy.get(i));
      }
      List<Verdict> answers = ask(current, asked, deadline);
      Instant now = current.config().clock().instant();
      for (int m = 0; m < answers.size(); m++) {
        counters.backendOutcome(answers.get(m), now);
        remember(current, asked.get(m), answers.get(m));
        verdicts[misses.get(m)] = answers.get(m);
      }
    }
    for (int i = 0; i < copy.size(); i++) {
      verdicts[i] =
          reported(
              current,
              copy.get(i),
              unlessCatchAll(current, copy.get(i), verdicts[i], deadline),
              fromCache.get(i));
    }
    return List.of(verdicts);
  }

  /** The final verdict, counted, given to the listener and logged. */
  private Verdict reported(State state, String address, Verdict verdict, boolean cached) {
    counters.count(verdict);
    listeners.verified(state.config().listener(), address, verdict, cached);
    if (LOG.isDebugEnabled()) {
      LOG.debug(
          "{} {}{} in {} ms",
          SmtpText.forLog(address),
          verdict,
          cached ? " (cached)" : "",
          verdict.latency().toMillis());
    }
    return verdict;
  }

  /** The cached verdict for the address, if caching is on and there is one (counted). */
  private Optional<VerdictCache.CachedVerdict> cached(State state, String address) {
    if (state.cache().isEmpty()) {
      return Optional.empty();
    }
    Optional<VerdictCache.CachedVerdict> hit = state.cache().get().get(cacheKey(address));
    if (hit.isPresent()) {
      counters.cacheHit();
      refreshIfAgeing(state, address, hit.get());
    } else {
      counters.cacheMiss();
    }
    return hit;
  }

  /**
   * Asks the backend; questions it left pending because a reconfiguration closed it meanwhile go to
   * the new configuration's backend, within the same deadline. Those left when the verifier was
   * closed meanwhile are answered {@link Verdict.Reason#BACKEND_UNAVAILABLE}: a verification under
   * way ends with verdicts, not an exception.
   */
  private List<Verdict> ask(State current, List<String> addresses, Deadline deadline) {
    VerdictSlots answers = current.backend().verifyAll(addresses, deadline);
    for (List<Integer> pending = answers.pending();
        !pending.isEmpty();
        pending = answers.pending()) {
      if (closed) {
        answers.settlePending(
            new Verdict.Unverified(
                Verdict.Reason.BACKEND_UNAVAILABLE,
                "verifier closed",
                Optional.empty(),
                deadline.elapsed()));
        break;
      }
      List<String> again = new ArrayList<>(pending.size());
      for (int i : pending) {
        again.add(addresses.get(i));
      }
      answers.settle(pending, state.backend().verifyAll(again, deadline));
    }
    return answers.verdicts();
  }

  @Override
  public CompletableFuture<List<Verdict>> verifyAllAsync(List<String> addresses) {
    List<String> copy = List.copyOf(addresses);
    return async(() -> verifyAll(copy), () -> Collections.nCopies(copy.size(), busy()));
  }

  @Override
  public void invalidate(String address) {
    open().cache().ifPresent(c -> c.invalidate(cacheKey(address)));
  }

  @Override
  public void invalidateAll() {
    open().cache().ifPresent(VerdictCache::invalidateAll);
  }

  @Override
  public void reconfigure(VerifierConfig config) {
    Objects.requireNonNull(config, "config");
    State old;
    synchronized (lifecycle) {
      old = open();
      state =
          start(
              config,
              config.backends().equals(old.config().backends())
                  ? old.backend().knownGood()
                  : new KnownGood());
    }
    old.cache().ifPresent(VerdictCache::invalidateAll);
    closeCache(old);
    old.backend().close();
  }

  @Override
  public VerifierConfig config() {
    return state.config();
  }

  @Override
  public VerifierStats stats() {
    Backend backend = state.backend();
    Counters.Snapshot counted = counters.snapshot();
    return new VerifierStats(
        counted.accepted(),
        counted.rejected(),
        counted.unverified(),
        backend.activeSessions(),
        backend.idleSessions(),
        counted.sessionsOpened(),
        counted.sessionsClosed(),
        counted.transactionsOpened(),
        counted.cacheHits(),
        counted.cacheMisses());
  }

  @Override
  public Health health() {
    Counters.Reading reading = counters.health(state.backend().configured());
    return new Health(
        reading.status(), reading.lastAnswer(), reading.lastError(), reading.lastErrorAt());
  }

  @Override
  public void close() {
    synchronized (lifecycle) {
      if (closed) {
        return;
      }
      closed = true;
    }
    state.backend().close();
    closeCache(state);
    asyncExecutor.shutdown();
    batchThreads.shutdown();
    listeners.close();
  }

  private static void closeCache(State state) {
    if (state.cache().orElse(null) instanceof GuardedCache guarded) {
      guarded.close();
    }
    if (state.findings().orElse(null) instanceof GuardedCache guarded) {
      guarded.close(); // the same one as the cache, or a store for findings only
    }
  }

  private State open() {
    if (closed) {
      throw new IllegalStateException("verifier is closed");
    }
    return state;
  }

  /** The cache key: domain in lower case, local part as given, no angle brackets. */
  static String cacheKey(String address) {
    String bare =
        address.length() >= 2 && address.startsWith("<") && address.endsWith(">")
            ? address.substring(1, address.length() - 1)
            : address;
    int at = bare.lastIndexOf('@');
    return at < 0
        ? bare
        : bare.substring(0, at + 1) + bare.substring(at + 1).toLowerCase(Locale.ROOT);
  }

  private static Verdict fromCache(VerdictCache.CachedVerdict hit, Deadline deadline) {
    return hit.accepted()
        ? new Verdict.Accepted(hit.reply(), deadline.elapsed())
        : new Verdict.Rejected(hit.reply(), deadline.elapsed());
  }

  /** Stores a definite answer; temporary and unverified ones are never cached. */
  private static void remember(State state, String address, Verdict verdict) {
    if (state.cache().isEmpty() || verdict instanceof Verdict.Unverified) {
      return;
    }
    VerifierConfig config = state.config();
    boolean accepted = verdict instanceof Verdict.Accepted;
    BackendReply reply =
        accepted ? ((Verdict.Accepted) verdict).reply() : ((Verdict.Rejected) verdict).reply();
    Duration ttl = (accepted ? config.positiveTtl() : config.negativeTtl()).orElseThrow();
    Instant now = config.clock().instant();
    state
        .cache()
        .get()
        .put(cacheKey(address), new VerdictCache.CachedVerdict(reply, now, now.plus(ttl)));
  }

  /** Milliseconds, bounded so that five times them cannot overflow. */
  private static long millis(Duration duration) {
    long bound = Long.MAX_VALUE / 8;
    long seconds = Math.max(-bound / 1000, Math.min(bound / 1000, duration.getSeconds()));
    return seconds * 1000 + duration.getNano() / 1_000_000;
  }

  /** Stale-while-revalidate: a hot accepted address is checked again before it expires. */
  private void refreshIfAgeing(State state, String address, VerdictCache.CachedVerdict hit) {
    if (!hit.accepted()) {
      return;
    }
    long lifetime = millis(Duration.between(hit.storedAt(), hit.expiresAt()));
    long age = millis(Duration.between(hit.storedAt(), state.config().clock().instant()));
    if (age * 5 < lifetime * 4) {
      return; // on every cache hit: no BigDecimal (as in Duration.dividedBy), no key built
    }
    String key = cacheKey(address);
    if (!refreshing.add(key)) {
      return;
    }
    try {
      asyncExecutor.execute(
          () -> {
            try {
              if (!closed && state == this.state) {
                Verdict fresh =
                    ask(state, List.of(address), Deadline.after(state.config().deadline())).get(0);
                counters.backendOutcome(fresh, state.config().clock().instant());
                remember(state, address, fresh);
              }
            } finally {
              refreshing.remove(key);
            }
          });
    } catch (RejectedExecutionException e) {
      refreshing.remove(key); // closing
    }
  }

  /** What is known about a domain accepting anything, or null (never asked, or too long ago). */
  private static CatchAll knownCatchAll(State state, String domain, Instant now) {
    CatchAll known = state.catchAll().get(domain);
    return known != null && known.until().isAfter(now) ? known : null;
  }

  private static String domainOf(String address) {
    String key = cacheKey(address);
    return key.substring(key.lastIndexOf('@') + 1);
  }

  /**
   * Where catch-all detection is on, an accepted recipient in a domain that accepts anything is
   * answered CATCH_ALL: its 250 means nothing.
   */
  private Verdict unlessCatchAll(State state, String address, Verdict verdict, Deadline deadline) {
    Optional<Duration> ttl = state.config().catchAllTtl();
    if (ttl.isEmpty() || !(verdict instanceof Verdict.Accepted accepted)) {
      return verdict;
    }
    String domain = domainOf(address);
    Instant now = state.config().clock().instant();
    CatchAll known = knownCatchAll(state, domain, now);
    if (known == null) {
      known = sharedCatchAll(state, domain, now);
    }
    if (known == null) {
      String random =
          "rcptproxy-"
              + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE)
              + "@"
              + domain;
      Verdict probe = ask(state, List.of(random), deadline).get(0);
      if (probe instanceof Verdict.Unverified) {
        return verdict; // cannot tell now; ask again next time
      }
      known = new CatchAll(probe instanceof Verdict.Accepted, now.plus(ttl.get()));
      state.catchAll().put(domain, known);
      shareCatchAll(state, domain, known, now);
      if (known.acceptsAnything()) {
        LOG.info(
            "backend accepts any address in {} (random local part accepted): its 250 is reported as CATCH_ALL",
            domain);
      }
    }
    return known.acceptsAnything() ? catchAll(address, accepted, deadline) : verdict;
  }

  /**
   * A shared cache's (or shared findings store's) finding about the domain, learnt by another
   * gateway (or before a restart), remembered here once read; null if there is none. Never the
   * local cache: it would only repeat what {@code state.catchAll()} holds.
   */
  private static CatchAll sharedCatchAll(State state, String domain, Instant now) {
    Optional<VerdictCache.CachedVerdict> stored =
        state.findings().flatMap(cache -> cache.get(CATCH_ALL_PREFIX + domain));
    if (stored.isEmpty() || !stored.get().expiresAt().isAfter(now)) {
      return null;
    }
    CatchAll known = new CatchAll(stored.get().accepted(), stored.get().expiresAt());
    state.catchAll().put(domain, known);
    return known;
  }

  /** Writes a finding where findings are shared, if anywhere, until it expires here too. */
  private static void shareCatchAll(State state, String domain, CatchAll known, Instant now) {
    BackendReply probe =
        new BackendReply(known.acceptsAnything() ? 250 : 550, "", "random local part");
    state
        .findings()
        .ifPresent(
            cache ->
                cache.put(
                    CATCH_ALL_PREFIX + domain,
                    new VerdictCache.CachedVerdict(probe, now, known.until())));
  }

  private static Verdict catchAll(String address, Verdict.Accepted accepted, Deadline deadline) {
    return new Verdict.Unverified(
        Verdict.Reason.CATCH_ALL,
        "the backend accepts any address in " + domainOf(address),
        Optional.of(accepted.reply()),
        deadline.elapsed());
  }
}
