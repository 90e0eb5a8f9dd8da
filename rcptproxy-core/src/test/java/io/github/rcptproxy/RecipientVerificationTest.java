package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.MutableClock;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;

/**
 * Verifying recipients, the basics: known ones accepted, unknown ones rejected, sessions reused and
 * replaced when idle or old, concurrent callers, catch-all detection, no backend or one that does
 * not resolve. Against an in-process SubEthaSMTP backend (Wiser) that knows a few mailboxes.
 */
class RecipientVerificationTest {
  private static final Set<String> MAILBOXES = Set.of("alice@example.com", "bob@example.com");

  private Wiser wiser;
  private final MutableClock clock = new MutableClock();

  @BeforeEach
  void startWiser() {
    wiser = startWiser(MAILBOXES);
  }

  @AfterEach
  void stopWiser() {
    wiser.stop();
  }

  static Wiser startWiser(Set<String> mailboxes) {
    Wiser server =
        Wiser.accepter(
                (from, recipient) ->
                    mailboxes.contains(recipient) || recipient.startsWith("postmaster@"))
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    server.start();
    return server;
  }

  private VerifierConfig.Builder config() {
    return VerifierConfig.builder()
        .backend("127.0.0.1", wiser.getServer().getPortAllocated())
        .clock(clock);
  }

  @Test
  void acceptsKnownAndRejectsUnknownRecipients() {
    try (RecipientVerifier verifier = RecipientVerifier.create(config().build())) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify("<bob@example.com>")).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify("mallory@example.com"))
          .isInstanceOfSatisfying(
              Verdict.Rejected.class, r -> assertThat(r.reply().code()).isBetween(500, 599));
      VerifierStats stats = verifier.stats();
      assertThat(stats.accepted()).isEqualTo(2);
      assertThat(stats.rejected()).isEqualTo(1);
      assertThat(stats.verifications()).isEqualTo(3);
    }
  }

  @Test
  void reusesOneSessionForManyVerifications() {
    try (RecipientVerifier verifier = RecipientVerifier.create(config().build())) {
      for (int i = 0; i < 50; i++) {
        assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
      }
      assertThat(verifier.stats().sessionsOpened()).isEqualTo(1);
      assertThat(verifier.stats().transactionsOpened()).isEqualTo(1);
      assertThat(verifier.stats().sessionsIdle()).isEqualTo(1);
    }
  }

  @Test
  void sessionIdleLongerThanIdleTimeoutIsReplacedAtBorrow() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(config().idleTimeout(Duration.ofSeconds(300)).build())) {
      verifier.verify("alice@example.com");
      clock.advance(Duration.ofSeconds(299));
      verifier.verify("alice@example.com");
      assertThat(verifier.stats().sessionsOpened()).isEqualTo(1);

      clock.advance(Duration.ofSeconds(300));
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);

      assertThat(verifier.stats().sessionsOpened()).isEqualTo(2);
      assertThat(verifier.stats().sessionsClosed()).isEqualTo(1);
    }
  }

  @Test
  void sessionOlderThanMaxAgeIsReplacedEvenWhenInConstantUse() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(config().maxSessionAge(Duration.ofSeconds(1800)).build())) {
      for (int minute = 0; minute < 30; minute++) {
        verifier.verify("alice@example.com");
        clock.advance(Duration.ofSeconds(59));
      }
      assertThat(verifier.stats().sessionsOpened()).isEqualTo(1);
      clock.advance(Duration.ofSeconds(31));
      verifier.verify("alice@example.com");
      assertThat(verifier.stats().sessionsOpened()).isEqualTo(2);
    }
  }

  @Test
  void evictorClosesIdleSessionsWithoutAnyVerification() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            config()
                .clock(java.time.Clock.systemUTC())
                .idleTimeout(Duration.ofMillis(200))
                .build())) {
      verifier.verify("alice@example.com");
      assertThat(verifier.stats().sessionsIdle()).isEqualTo(1);

      await()
          .atMost(Duration.ofSeconds(5))
          .until(
              () -> verifier.stats().sessionsIdle() == 0 && verifier.stats().sessionsClosed() == 1);
    }
  }

  @Test
  void concurrentCallersShareAtMostMaxSessions() throws Exception {
    try (RecipientVerifier verifier = RecipientVerifier.create(config().maxSessions(3).build())) {
      // Wiser sends no enhanced codes: its refusals need an accepted address as the control.
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
      List<CompletableFuture<Verdict>> verdicts = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        verdicts.add(
            verifier.verifyAsync(i % 2 == 0 ? "alice@example.com" : "nobody" + i + "@example.com"));
      }
      for (int i = 0; i < verdicts.size(); i++) {
        assertThat(verdicts.get(i).get())
            .isInstanceOf(i % 2 == 0 ? Verdict.Accepted.class : Verdict.Rejected.class);
      }
      VerifierStats stats = verifier.stats();
      assertThat(stats.sessionsActive()).isZero();
      assertThat(stats.sessionsIdle()).isLessThanOrEqualTo(3);
      assertThat(stats.sessionsOpened() - stats.sessionsClosed()).isLessThanOrEqualTo(3);
    }
  }

  @Test
  void catchAllWiserIsDetectedAndItsAcceptancesReportedAsCatchAll() {
    Wiser acceptsAll =
        Wiser.accepter((from, recipient) -> true)
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    acceptsAll.start();
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", acceptsAll.getServer().getPortAllocated())
                .catchAllDetection(Duration.ofHours(1))
                .build())) {
      assertThat(verifier.verify("anyone@example.com"))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> {
                assertThat(u.reason()).isEqualTo(Verdict.Reason.CATCH_ALL);
                assertThat(u.reply()).isPresent();
              });
      assertThat(verifier.stats().unverified()).containsEntry(Verdict.Reason.CATCH_ALL, 1L);
    } finally {
      acceptsAll.stop();
    }
    try (RecipientVerifier honest =
        RecipientVerifier.create(config().catchAllDetection(Duration.ofHours(1)).build())) {
      assertThat(honest.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }
  }

  @Test
  void withoutBackendEveryAddressIsNotConfigured() {
    try (RecipientVerifier verifier = RecipientVerifier.create(VerifierConfig.builder().build())) {
      assertThat(verifier.verify("alice@example.com"))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.NOT_CONFIGURED));
    }
  }

  @Test
  void unresolvableBackendIsUnavailableNamingTheHost() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(VerifierConfig.builder().backend("backend.invalid").build())) {
      assertThat(verifier.verify("alice@example.com"))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> {
                assertThat(u.reason()).isEqualTo(Verdict.Reason.BACKEND_UNAVAILABLE);
                assertThat(u.detail()).contains("backend.invalid does not resolve");
              });
      assertThat(verifier.health().status()).isEqualTo(Health.Status.DOWN);
    }
  }

  @Test
  void aHostThatDoesNotResolveIsPassedOverForTheNext() {
    try (RecipientVerifier verifier =
        RecipientVerifier.create(
            config()
                .backends(
                    List.of(
                        InetSocketAddress.createUnresolved("backend.invalid", 25),
                        InetSocketAddress.createUnresolved(
                            "localhost", wiser.getServer().getPortAllocated())))
                .build())) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify("mallory@example.com")).isInstanceOf(Verdict.Rejected.class);
    }
  }
}
