package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.MutableClock;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The verdict cache, catch-all detection and health, against a recording backend. */
class VerdictCacheTest {
  private static final Set<String> MAILBOXES = Set.of("alice@example.com");

  private final MutableClock clock = new MutableClock();
  private ScriptedSmtpServer backend;
  private RecipientVerifier verifier;

  @BeforeEach
  void start() {
    backend =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(
                address ->
                    MAILBOXES.contains(address)
                        ? "250 2.1.5 Ok\r\n"
                        : address.startsWith("tmp")
                            ? "450 4.2.0 try later\r\n"
                            : "550 5.1.1 unknown\r\n"));
  }

  @AfterEach
  void stop() throws IOException {
    verifier.close();
    backend.close();
  }

  private VerifierConfig.Builder config() {
    return VerifierConfig.builder()
        .backend("127.0.0.1", backend.port())
        .clock(clock)
        .cache(Duration.ofMinutes(60), Duration.ofMinutes(5), 1000);
  }

  private int rcptsAtBackend() {
    return backend.count("RCPT TO");
  }

  @Test
  void cachedAnswerIsServedWithoutAskingTheBackend() {
    verifier = RecipientVerifier.create(config().build());

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("alice@EXAMPLE.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("<alice@example.com>")).isInstanceOf(Verdict.Accepted.class);

    assertThat(rcptsAtBackend()).isEqualTo(1);
    assertThat(verifier.stats().cacheHits()).isEqualTo(2);
    assertThat(verifier.stats().cacheMisses()).isEqualTo(1);
  }

  @Test
  void localPartIsNotFoldedToLowerCase() {
    verifier = RecipientVerifier.create(config().build());

    verifier.verify("alice@example.com");
    assertThat(verifier.verify("ALICE@example.com")).isInstanceOf(Verdict.Rejected.class);

    assertThat(rcptsAtBackend()).isEqualTo(3); // alice, ALICE, alice as the control after it
  }

  @Test
  void rejectionExpiresAfterTheNegativeTtl() {
    verifier = RecipientVerifier.create(config().knownGood("alice@example.com").build());

    verifier.verify("nobody@example.com");
    clock.advance(Duration.ofMinutes(4));
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
    assertThat(backend.count("RCPT TO:<nobody")).isEqualTo(1);

    clock.advance(Duration.ofMinutes(2));
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
    assertThat(backend.count("RCPT TO:<nobody")).isEqualTo(2);
  }

  @Test
  void temporaryAndUnverifiedAnswersAreNeverCached() {
    verifier = RecipientVerifier.create(config().build());

    verifier.verify("tmp@example.com");
    verifier.verify("tmp@example.com");
    verifier.verify("bad address");
    verifier.verify("bad address");

    assertThat(rcptsAtBackend()).isEqualTo(2);
    assertThat(verifier.stats().cacheHits()).isZero();
  }

  @Test
  void ageingPositiveEntryIsRefreshedInTheBackgroundWhileServedFromCache() {
    verifier = RecipientVerifier.create(config().build());
    verifier.verify("alice@example.com");

    clock.advance(Duration.ofMinutes(50)); // past 80% of 60 minutes
    Verdict served = verifier.verify("alice@example.com");

    assertThat(served).isInstanceOf(Verdict.Accepted.class);
    await().atMost(Duration.ofSeconds(5)).until(() -> rcptsAtBackend() == 2);
    clock.advance(Duration.ofMinutes(30)); // the original entry would have expired by now
    verifier.verify("alice@example.com");
    assertThat(rcptsAtBackend()).isEqualTo(2);
  }

  /** The test's clock, noting which threads read it (a cache lookup reads it to check expiry). */
  private final class ThreadNotingClock extends Clock {
    final Set<String> readers = ConcurrentHashMap.newKeySet();

    @Override
    public Instant instant() {
      readers.add(Thread.currentThread().getName());
      return clock.instant();
    }

    @Override
    public ZoneId getZone() {
      return clock.getZone();
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  @Test
  void verifyAsyncAnswersACachedVerdictAtOnceOnTheCallingThread() {
    ThreadNotingClock noting = new ThreadNotingClock();
    verifier = RecipientVerifier.create(config().clock(noting).build());
    verifier.verify("alice@example.com");
    verifier.verify("nobody@example.com");
    noting.readers.clear();

    CompletableFuture<Verdict> accepted = verifier.verifyAsync("alice@example.com");
    CompletableFuture<Verdict> rejected = verifier.verifyAsync("nobody@example.com");

    assertThat(accepted).isDone();
    assertThat(rejected).isDone();
    assertThat(accepted.join()).isInstanceOf(Verdict.Accepted.class);
    assertThat(rejected.join()).isInstanceOf(Verdict.Rejected.class);
    assertThat(noting.readers).noneMatch(thread -> thread.startsWith("rcptproxy-verify-"));
    assertThat(rcptsAtBackend()).isEqualTo(3); // alice, nobody and the control after it, once
    assertThat(verifier.stats().cacheHits()).isEqualTo(2);
    assertThat(verifier.stats().accepted()).isEqualTo(2);
  }

  @Test
  void verifyAsyncCountsAMissOnceAndAsksOnTheVerifiersThreads() {
    verifier = RecipientVerifier.create(config().build());

    CompletableFuture<Verdict> first = verifier.verifyAsync("alice@example.com");

    assertThat(first.join()).isInstanceOf(Verdict.Accepted.class);
    assertThat(rcptsAtBackend()).isEqualTo(1);
    assertThat(verifier.stats().cacheMisses()).isEqualTo(1);
    assertThat(verifier.stats().cacheHits()).isZero();
  }

  @Test
  void verifyAsyncAsksAboutACatchAllDomainAgainOnceItsAnswerIsStale() throws IOException {
    backend.close();
    backend = ScriptedSmtpServer.start(ScriptedSmtpServer.dialogue(address -> "250 2.1.5 Ok\r\n"));
    verifier = RecipientVerifier.create(config().catchAllDetection(Duration.ofMinutes(10)).build());
    verifier.verify("anyone@example.com");

    CompletableFuture<Verdict> known = verifier.verifyAsync("anyone@example.com");
    clock.advance(Duration.ofMinutes(20)); // the verdict is still cached, the domain's answer not
    Verdict stale = verifier.verifyAsync("anyone@example.com").join();

    assertThat(known).isDone();
    assertThat(List.of(known.join(), stale))
        .allSatisfy(
            verdict ->
                assertThat(verdict)
                    .isInstanceOfSatisfying(
                        Verdict.Unverified.class,
                        u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.CATCH_ALL)));
    assertThat(backend.count("RCPT TO:<anyone@")).isEqualTo(1);
    assertThat(backend.count("RCPT TO:<rcptproxy-")).isEqualTo(2);
  }

  @Test
  void withoutCacheEveryVerificationAsksTheBackend() {
    verifier = RecipientVerifier.create(config().noCache().build());

    verifier.verify("alice@example.com");
    verifier.verify("alice@example.com");

    assertThat(rcptsAtBackend()).isEqualTo(2);
    assertThat(verifier.stats().cacheMisses()).isZero();
  }

  @Test
  void catchAllDomainIsReportedInsteadOfTrusted() throws IOException {
    backend.close();
    backend = ScriptedSmtpServer.start(ScriptedSmtpServer.dialogue(address -> "250 2.1.5 Ok\r\n"));
    verifier =
        RecipientVerifier.create(config().noCache().catchAllDetection(Duration.ofHours(1)).build());

    Verdict verdict = verifier.verify("anyone@example.com");
    verifier.verify("someone@example.com");

    assertThat(verdict)
        .isInstanceOfSatisfying(
            Verdict.Unverified.class,
            u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.CATCH_ALL));
    assertThat(backend.count("RCPT TO:<rcptproxy-")).isEqualTo(1); // once per domain per TTL
    clock.advance(Duration.ofHours(2));
    verifier.verify("someone@example.com");
    assertThat(backend.count("RCPT TO:<rcptproxy-")).isEqualTo(2);
  }

  @Test
  void domainThatRejectsRandomLocalPartsIsTrusted() {
    verifier =
        RecipientVerifier.create(config().noCache().catchAllDetection(Duration.ofHours(1)).build());

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("nobody@example.com")).isInstanceOf(Verdict.Rejected.class);
  }

  @Test
  void healthFollowsTheBackend() throws IOException {
    verifier =
        RecipientVerifier.create(config().noCache().deadline(Duration.ofMillis(500)).build());
    assertThat(verifier.health().status()).isEqualTo(Health.Status.UNKNOWN);

    verifier.verify("alice@example.com");
    assertThat(verifier.health().status()).isEqualTo(Health.Status.UP);
    assertThat(verifier.health().lastAnswer()).hasValue(clock.instant());

    backend.close();
    clock.advance(Duration.ofSeconds(1));
    verifier.verify("bob@example.com");
    assertThat(verifier.health().status()).isEqualTo(Health.Status.DOWN);
    assertThat(verifier.health().lastError())
        .hasValueSatisfying(e -> assertThat(e).startsWith("BACKEND_UNAVAILABLE"));

    try (RecipientVerifier none = RecipientVerifier.create(VerifierConfig.builder().build())) {
      assertThat(none.health().status()).isEqualTo(Health.Status.NOT_CONFIGURED);
    }
  }
}
