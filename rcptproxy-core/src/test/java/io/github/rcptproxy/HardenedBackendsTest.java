package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.internal.LocalVerdictCache;
import io.github.rcptproxy.testing.DovecotBackend;
import io.github.rcptproxy.testing.EximBackend;
import io.github.rcptproxy.testing.OpenSmtpdBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.SmtpClient;
import io.github.rcptproxy.testing.VerdictTally;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a refusal is classified against the hardened backend configurations of {@code EXIM.md}, each
 * started by the test: 400 verifications at 50 % unknown where the backend can tell, never a wrong
 * {@code Rejected}, and never an unknown address accepted because an answer did not say.
 */
@RealServers
class HardenedBackendsTest {
  private static final int VERIFICATIONS = 400;

  private static VerdictTally run(
      String label, VerifierConfig config, IntFunction<String> known, IntFunction<String> unknown) {
    VerdictTally tally = new VerdictTally();
    try (RecipientVerifier verifier = RecipientVerifier.create(config)) {
      for (int i = 0; i < VERIFICATIONS; i++) {
        boolean real = VerdictTally.isKnown(i);
        Verdict verdict = verifier.verify(real ? known.apply(i / 2 % 1000) : unknown.apply(i));
        tally.add(real, RealBackendsTest.outcome(verdict));
      }
    }
    System.out.printf("%s: %s%n", label, tally);
    return tally;
  }

  /** No valid mailbox refused, none unknown accepted, at least 95 % of the unknown refused. */
  private static void rightAtLeast95Percent(VerdictTally tally) {
    assertThat(tally.wrongRejections()).as(tally.toString()).isZero();
    assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
    assertThat(tally.unknownRejected()).as(tally.toString()).isGreaterThanOrEqualTo(190);
  }

  @Test
  void vrfyAnswered252PastARateLimitGoesToRcpt() throws IOException {
    try (EximBackend exim =
        EximBackend.start(EximBackend.Options.builder().vrfyRateLimit(30).build())) {
      rightAtLeast95Percent(
          run(
              "Exim, acl_smtp_vrfy ratelimit 30/1m (252 past it), defaults",
              RealBackendsTest.config(exim.port()).build(),
              EximBackend::known,
              EximBackend::unknown));
      try (SmtpClient client = new SmtpClient("127.0.0.1", exim.port())) {
        client.readReply();
        client.send("EHLO client.test");
        assertThat(client.send("VRFY <" + EximBackend.known(1) + ">"))
            .isEqualTo("252 Administrative prohibition"); // past the limit in the run
      }
    }
  }

  @Test
  void aMailboxCodeGivenToEveryAddressIsNotAboutTheMailbox() {
    try (EximBackend exim =
        EximBackend.start(
            EximBackend.Options.builder().nullSenderBlockedWithMailboxCode().build())) {
      VerdictTally cold =
          run(
              "Exim, null sender refused 550 5.1.1 policy: blocked, defaults",
              RealBackendsTest.config(exim.port()).build(),
              EximBackend::known,
              EximBackend::unknown);
      VerdictTally named =
          run(
              "Exim, null sender refused 550 5.1.1 policy: blocked, known-good named",
              RealBackendsTest.config(exim.port()).knownGood(EximBackend.known(999)).build(),
              EximBackend::known,
              EximBackend::unknown);

      // On a fresh verifier the probe sender's fallback (postmaster@, not the null sender) is
      // taken: the refusals are then about the mailboxes.
      assertThat(cold.wrongRejections()).as(cold.toString()).isZero();
      assertThat(cold.knownAccepted()).as(cold.toString()).isEqualTo(VERIFICATIONS / 2);
      assertThat(cold.unknownAccepted()).as(cold.toString()).isZero();
      // With a known-good address named, its refusal too sends the probe to the fallback sender.
      assertThat(named.wrongRejections()).as(named.toString()).isZero();
      assertThat(named.knownAccepted()).as(named.toString()).isEqualTo(VERIFICATIONS / 2);
      assertThat(named.unknownAccepted()).as(named.toString()).isZero();
    }
  }

  @Test
  void aPolicyCodeGivenToThisAddressOnlyIsAboutTheAddress() {
    try (EximBackend exim =
        EximBackend.start(EximBackend.Options.builder().unknownUserWithPolicyCode().build())) {
      rightAtLeast95Percent(
          run(
              "Exim, unknown users 550 5.7.1 <...>: user unknown, defaults",
              RealBackendsTest.config(exim.port()).build(),
              EximBackend::known,
              EximBackend::unknown));
    }
  }

  @Test
  void aFullMailboxIsRejectedAsFullNotUnknown() {
    try (DovecotBackend dovecot = DovecotBackend.startCheckingQuotaAtRcpt();
        RecipientVerifier verifier =
            RecipientVerifier.create(
                RealBackendsTest.config(dovecot.lmtpPort())
                    .protocol(BackendProtocol.LMTP)
                    .build())) {
      VerdictTally tally = new VerdictTally();
      for (int i = 0; i < VERIFICATIONS; i++) {
        boolean real = VerdictTally.isKnown(i);
        String address =
            real
                ? i % 4 == 0 ? DovecotBackend.user(i / 4 % 10) : DovecotBackend.FULL
                : "nobody" + i + "@" + DovecotBackend.DOMAIN;
        Verdict verdict = verifier.verify(address);
        if (address.equals(DovecotBackend.FULL)) {
          assertThat(verdict)
              .isInstanceOfSatisfying(
                  Verdict.Rejected.class,
                  r -> assertThat(r.reply().enhancedStatus()).isEqualTo("5.2.2"));
        } else {
          tally.add(real, RealBackendsTest.outcome(verdict));
        }
      }
      System.out.printf("Dovecot LMTP, lmtp_rcpt_check_quota = yes: %s%n", tally);
      assertThat(tally.wrongRejections()).isZero();
      assertThat(tally.unknownRejected()).isEqualTo(VERIFICATIONS / 2);
    }
  }

  /** 40 unknown addresses in a row on a fresh verifier, as a dictionary attack after a restart. */
  private static VerdictTally coldStart(VerifierConfig config, IntFunction<String> unknown) {
    VerdictTally tally = new VerdictTally();
    try (RecipientVerifier verifier = RecipientVerifier.create(config)) {
      for (int i = 0; i < 40; i++) {
        tally.add(false, RealBackendsTest.outcome(verifier.verify(unknown.apply(i))));
      }
    }
    return tally;
  }

  @Test
  void coldStartWithoutEnhancedCodesNeverAcceptsAnUnknownAddress() {
    try (EximBackend exim = EximBackend.start();
        OpenSmtpdBackend smtpd = OpenSmtpdBackend.start()) {
      for (int port : new int[] {exim.port(), smtpd.port()}) {
        VerdictTally fresh = coldStart(RealBackendsTest.config(port).build(), EximBackend::unknown);
        VerdictTally named =
            coldStart(
                RealBackendsTest.config(port).knownGood(EximBackend.known(7)).build(),
                EximBackend::unknown);
        System.out.printf("cold start on port %d: fresh %s; named %s%n", port, fresh, named);

        assertThat(fresh.unknownAccepted()).isZero();
        assertThat(fresh.other()).containsEntry("unknown REFUSAL_UNCONFIRMED", 40);
        assertThat(named.unknownRejected()).isEqualTo(40);
      }
    }
  }

  @Test
  void aKnownGoodAddressLearntIsKeptInASharedCacheAcrossRestarts() {
    // One store outside both verifiers, as a JCache shared by gateways is.
    VerdictCache cache = new LocalVerdictCache(1000, Clock.systemUTC());
    try (EximBackend exim = EximBackend.start()) {
      VerifierConfig config =
          RealBackendsTest.config(exim.port())
              .sharedCache(cache, Duration.ofHours(1), Duration.ofMinutes(5))
              .build();
      try (RecipientVerifier first = RecipientVerifier.create(config)) {
        assertThat(first.verify(EximBackend.known(3))).isInstanceOf(Verdict.Accepted.class);
        await()
            .atMost(Duration.ofSeconds(5))
            .until(() -> cache.get("known-good:" + EximBackend.DOMAIN).isPresent());
      }

      VerdictTally restarted = coldStart(config, EximBackend::unknown);

      assertThat(restarted.unknownRejected()).as(restarted.toString()).isEqualTo(40);
    }
  }

  @Test
  void aKnownGoodAddressLearntIsKeptInTheStateDirectoryAcrossRestarts(@TempDir Path state)
      throws IOException {
    try (EximBackend exim = EximBackend.start()) {
      VerifierConfig config = RealBackendsTest.config(exim.port()).stateDirectory(state).build();
      Path file = state.resolve("known-good");
      try (RecipientVerifier first = RecipientVerifier.create(config)) {
        assertThat(first.verify(EximBackend.known(3))).isInstanceOf(Verdict.Accepted.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> Files.exists(file));
      }

      VerdictTally restarted = coldStart(config, EximBackend::unknown);

      assertThat(restarted.unknownRejected()).as(restarted.toString()).isEqualTo(40);
      assertThat(Files.getPosixFilePermissions(file))
          .containsExactlyInAnyOrder(
              PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    }
  }

  @Test
  void aStateFileIsACacheNeverConfiguration(@TempDir Path state) throws IOException {
    Path file = state.resolve("known-good");
    try (EximBackend exim = EximBackend.start()) {
      VerifierConfig config = RealBackendsTest.config(exim.port()).stateDirectory(state).build();
      Files.writeString(file, "\u0000garbage\n");
      VerdictTally corrupt = coldStart(config, EximBackend::unknown);
      // An address the backend refuses now, stored as known-good: asked, refused, proves nothing.
      Files.writeString(file, EximBackend.DOMAIN + " " + EximBackend.unknown(999) + "\n");
      VerdictTally stale = coldStart(config, EximBackend::unknown);
      System.out.printf("state file corrupt: %s; stale: %s%n", corrupt, stale);

      for (VerdictTally tally : List.of(corrupt, stale)) {
        assertThat(tally.unknownAccepted()).as(tally.toString()).isZero();
        assertThat(tally.unknownRejected()).as(tally.toString()).isZero();
      }
      assertThat(corrupt.other()).containsEntry("unknown REFUSAL_UNCONFIRMED", 40);
    }
  }
}
