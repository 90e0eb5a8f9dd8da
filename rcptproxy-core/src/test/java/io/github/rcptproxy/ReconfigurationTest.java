package io.github.rcptproxy;

import static io.github.rcptproxy.testing.ScriptedSmtpServer.dialogue;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.MutableClock;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.subethamail.wiser.Wiser;

/**
 * {@code reconfigure()} and {@code close()}, also while verifications are under way: a verification
 * in flight finishes on its session, which is closed after; one waiting for a session, or whose
 * questions were not yet put, moves to the new configuration's backend; closing ends it with
 * verdicts, never an exception; cached answers and sessions of the old configuration are dropped.
 */
class ReconfigurationTest {
  private static final String OK = "250 2.1.5 Ok\r\n";

  @AutoClose private final Closer closer = new Closer();

  /** An in-process SubEthaSMTP backend that knows these mailboxes, stopped after the test. */
  private Wiser wiser(String... mailboxes) {
    Wiser wiser = RecipientVerificationTest.startWiser(Set.of(mailboxes));
    closer.later(wiser::stop);
    return wiser;
  }

  private static VerifierConfig.Builder config(Wiser wiser) {
    return VerifierConfig.builder()
        .backend("127.0.0.1", wiser.getServer().getPortAllocated())
        .clock(new MutableClock());
  }

  private static List<String> addresses(int count) {
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      addresses.add("user" + i + "@example.com");
    }
    return addresses;
  }

  @Test
  void reconfigureSwitchesBackendAndClosesCachedSessions() {
    Wiser other = wiser("carol@example.org");
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                config(wiser("alice@example.com", "bob@example.com")).build()));
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("carol@example.org")).isInstanceOf(Verdict.Rejected.class);
    assertThat(verifier.stats().sessionsIdle()).isEqualTo(1);

    VerifierConfig next =
        verifier.config().toBuilder()
            .backend("127.0.0.1", other.getServer().getPortAllocated())
            .build();
    verifier.reconfigure(next);

    assertThat(verifier.stats().sessionsClosed()).isEqualTo(1);
    assertThat(verifier.config()).isSameAs(next);
    assertThat(verifier.verify("carol@example.org")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Rejected.class);
  }

  @Test
  void reconfigureDuringAVerificationLetsItFinishAndClosesItsSession() throws Exception {
    CountDownLatch inRcpt = new CountDownLatch(1);
    ScriptedSmtpServer server =
        closer.later(
            ScriptedSmtpServer.start(
                dialogue(
                    address -> {
                      inRcpt.countDown();
                      Thread.sleep(200); // the backend's own slowness, not a wait in the test
                      return OK;
                    })));
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .probeMethod(ProbeMethod.RCPT)
                    .backend("127.0.0.1", server.port())
                    .deadline(Duration.ofMillis(500))
                    .build()));
    CompletableFuture<Verdict> inFlight = verifier.verifyAsync("alice@example.com");
    assertThat(inRcpt.await(5, TimeUnit.SECONDS)).isTrue();

    verifier.reconfigure(verifier.config().toBuilder().heloName("changed.test").build());

    assertThat(inFlight.get()).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.stats().sessionsClosed()).isEqualTo(1);
    assertThat(verifier.verify("bob@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(server.received()).contains("EHLO changed.test");
    assertThat(verifier.stats().sessionsActive()).as("sessions leaked").isZero();
  }

  @Test
  void reconfigurationMovesWaitersToTheNewBackendInsteadOfInterruptingThem() throws Exception {
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ScriptedSmtpServer slow =
        closer.later(
            ScriptedSmtpServer.start(
                dialogue(
                    address -> {
                      holding.countDown();
                      release.await(10, TimeUnit.SECONDS);
                      return OK;
                    })));
    ScriptedSmtpServer next = closer.later(ScriptedSmtpServer.start(dialogue(address -> OK)));
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", slow.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .maxSessions(1)
                    .deadline(Duration.ofSeconds(5))
                    .build()));
    CompletableFuture<Verdict> holder = verifier.verifyAsync("alice@example.com");
    assertThat(holding.await(5, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<Verdict> waiter = verifier.verifyAsync("bob@example.com");
    await().atMost(Duration.ofSeconds(5)).until(() -> verifier.stats().sessionsActive() == 1);

    verifier.reconfigure(verifier.config().toBuilder().backend("127.0.0.1", next.port()).build());

    assertThat(waiter.get(5, TimeUnit.SECONDS)).isInstanceOf(Verdict.Accepted.class);
    release.countDown();
    assertThat(holder.get(5, TimeUnit.SECONDS)).isInstanceOf(Verdict.Accepted.class);
    assertThat(next.count("RCPT TO:<bob@example.com>")).isEqualTo(1);
  }

  @Test
  void questionsNotYetPutWhenReconfiguredAreAnsweredByTheNewBackend() throws Exception {
    CountDownLatch eighthAsked = new CountDownLatch(1);
    CountDownLatch reconfigured = new CountDownLatch(1);
    try (ScriptedSmtpServer server = holdingTheEighthRcpt(eighthAsked, reconfigured);
        RecipientVerifier verifier = oneSession(server)) {
      CompletableFuture<List<Verdict>> verdicts = verifier.verifyAllAsync(addresses(16));
      assertThat(eighthAsked.await(5, TimeUnit.SECONDS)).isTrue();

      verifier.reconfigure(verifier.config().toBuilder().heloName("changed.test").build());
      reconfigured.countDown();

      assertThat(verdicts.get(10, TimeUnit.SECONDS)).allMatch(v -> v instanceof Verdict.Accepted);
      assertThat(server.received()).contains("EHLO changed.test");
    }
  }

  @Test
  void invalidateAndReconfigureForgetCachedAnswers() {
    ScriptedSmtpServer backend =
        closer.later(
            ScriptedSmtpServer.start(
                dialogue(
                    address ->
                        address.equals("alice@example.com") ? OK : "550 5.1.1 unknown\r\n")));
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", backend.port())
                    .clock(new MutableClock())
                    .cache(Duration.ofMinutes(60), Duration.ofMinutes(5), 1000)
                    .build()));
    verifier.verify("alice@example.com");
    verifier.verify("nobody@example.com");

    verifier.invalidate("alice@example.com");
    verifier.verify("alice@example.com");
    verifier.verify("nobody@example.com");
    // asked twice, and once as the control after nobody's refusal
    assertThat(backend.count("RCPT TO:<alice")).isEqualTo(3);
    assertThat(backend.count("RCPT TO:<nobody")).isEqualTo(1);

    verifier.invalidateAll();
    verifier.verify("nobody@example.com");
    assertThat(backend.count("RCPT TO:<nobody")).isEqualTo(2);

    verifier.reconfigure(verifier.config().toBuilder().heloName("again.test").build());
    verifier.verify("nobody@example.com");
    assertThat(backend.count("RCPT TO:<nobody")).isEqualTo(3);
  }

  @Test
  void closingUnderABatchEndsItWithVerdictsNotAnException() throws Exception {
    CountDownLatch eighthAsked = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    try (ScriptedSmtpServer server = holdingTheEighthRcpt(eighthAsked, closed);
        RecipientVerifier verifier = oneSession(server)) {
      CompletableFuture<List<Verdict>> verdicts = verifier.verifyAllAsync(addresses(16));
      assertThat(eighthAsked.await(5, TimeUnit.SECONDS)).isTrue();

      verifier.close();
      closed.countDown();

      List<Verdict> answered = verdicts.get(10, TimeUnit.SECONDS);
      assertThat(answered.subList(0, 8)).allMatch(v -> v instanceof Verdict.Accepted);
      assertThat(answered.subList(8, 16))
          .allSatisfy(
              v ->
                  assertThat(v)
                      .isInstanceOfSatisfying(
                          Verdict.Unverified.class,
                          u ->
                              assertThat(u.reason())
                                  .isEqualTo(Verdict.Reason.BACKEND_UNAVAILABLE)));
    }
  }

  @Test
  void closedVerifierRefusesWork() {
    RecipientVerifier verifier =
        RecipientVerifier.create(config(wiser("alice@example.com", "bob@example.com")).build());
    verifier.verify("alice@example.com");
    verifier.close();

    assertThat(verifier.stats().sessionsClosed()).isEqualTo(1);
    assertThatThrownBy(() -> verifier.verify("alice@example.com"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> verifier.verifyAsync("alice@example.com"))
        .isInstanceOf(IllegalStateException.class);
  }

  /**
   * A backend whose eighth RCPT is answered only once the test let it: the batch of 16 holds the
   * only session (maxSessions 1) with the second round of 8 not yet put.
   */
  private static ScriptedSmtpServer holdingTheEighthRcpt(
      CountDownLatch eighthAsked, CountDownLatch release) {
    AtomicInteger rcpts = new AtomicInteger();
    return ScriptedSmtpServer.start(
        ScriptedSmtpServer.dialogue(
            address -> {
              if (rcpts.incrementAndGet() == 8) {
                eighthAsked.countDown();
                release.await(5, TimeUnit.SECONDS);
              }
              return "250 2.1.5 Ok\r\n";
            }));
  }

  private static RecipientVerifier oneSession(ScriptedSmtpServer server) {
    return RecipientVerifier.create(
        VerifierConfig.builder()
            .backend("127.0.0.1", server.port())
            .probeMethod(ProbeMethod.RCPT)
            .maxSessions(1)
            .deadline(Duration.ofSeconds(5))
            .build());
  }
}
