package io.github.rcptproxy;

import static io.github.rcptproxy.testing.ScriptedSmtpServer.dialogue;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.rcptproxy.testing.BackendFault;
import io.github.rcptproxy.testing.BlackHole;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.StderrCapture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * Several backend hosts, the circuit breaker, too many asynchronous callers, and a user's cache or
 * listener that misbehaves: none of it may throw out of {@code verify()} or hold it past its
 * deadline. (Waiting for sessions across reconfiguration: {@code ReconfigurationTest}.)
 */
class ResilienceTest {
  private static final String OK = "250 2.1.5 Ok\r\n";
  @AutoClose private final Closer closer = new Closer();

  private ScriptedSmtpServer backend() {
    return closer.later(ScriptedSmtpServer.start(dialogue(address -> OK)));
  }

  private static InetSocketAddress at(ScriptedSmtpServer server) {
    return InetSocketAddress.createUnresolved("127.0.0.1", server.port());
  }

  @Test
  void secondHostAnswersWhenTheFirstIsBlackHoled() {
    BlackHole hole = closer.later(BlackHole.open());
    ScriptedSmtpServer second = backend();
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backends(List.of(hole.address(), at(second)))
                    .connectTimeout(Duration.ofMillis(300))
                    .deadline(Duration.ofSeconds(2))
                    .build()));

    for (int i = 0; i < 5; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }
    assertThat(second.connections()).isEqualTo(1);
  }

  @Test
  void withEveryHostBlackHoledOnlyTheFirstVerificationWaits() {
    BlackHole first = closer.later(BlackHole.open());
    BlackHole second = closer.later(BlackHole.open());
    Duration deadline = Duration.ofSeconds(1);
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backends(List.of(first.address(), second.address()))
                    .connectTimeout(Duration.ofMillis(400))
                    .deadline(deadline)
                    .backendCoolDown(Duration.ofMinutes(1))
                    .build()));

    Verdict firstVerdict = verifier.verify("alice@example.com");
    assertThat(firstVerdict).isInstanceOf(Verdict.Unverified.class);
    assertThat(firstVerdict.latency()).isGreaterThanOrEqualTo(Duration.ofMillis(700));

    eachAnsweredUnavailableAtOnce(verifier);
  }

  /** Twenty verifications, each answered BACKEND_UNAVAILABLE in less than 50 ms. */
  private static void eachAnsweredUnavailableAtOnce(RecipientVerifier verifier) {
    for (int i = 0; i < 20; i++) {
      Verdict verdict = verifier.verify("bob" + i + "@example.com");
      assertThat(verdict)
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.BACKEND_UNAVAILABLE));
      assertThat(verdict.latency()).isLessThan(Duration.ofMillis(50));
    }
  }

  private ScriptedSmtpServer neverGreets() {
    return closer.later(ScriptedSmtpServer.start(BackendFault.NEVER_GREETS.script()));
  }

  @Test
  void withEveryHostNeverGreetingOnlyTheFirstVerificationWaits() {
    ScriptedSmtpServer first = neverGreets();
    ScriptedSmtpServer second = neverGreets();
    // The defaults: a 3 s deadline, a 2 s connect timeout. The second host is reached with 1 s
    // left; not having greeted by the deadline, it is skipped as well.
    VerifierConfig config =
        VerifierConfig.builder()
            .backends(List.of(at(first), at(second)))
            .backendCoolDown(Duration.ofMinutes(1))
            .build();
    RecipientVerifier verifier = closer.later(RecipientVerifier.create(config));

    Verdict firstVerdict = verifier.verify("alice@example.com");
    assertThat(firstVerdict).isInstanceOf(Verdict.Unverified.class);
    assertThat(firstVerdict.latency())
        .isGreaterThanOrEqualTo(config.deadline().minus(Duration.ofMillis(100)));

    eachAnsweredUnavailableAtOnce(verifier);
    assertThat(first.connections()).isEqualTo(1);
    assertThat(second.connections()).isEqualTo(1);
  }

  /**
   * The first host accepts the connection and never greets: the verification waits the connect
   * timeout for it before the second host answers at once. That second host is not throttling, and
   * no warning says a backend was slow to answer.
   */
  @Test
  void timeLostOnAHungFirstHostIsNotReportedAsTheAnsweringHostThrottling() {
    ScriptedSmtpServer hung = neverGreets();
    ScriptedSmtpServer good = closer.later(ScriptedSmtpServer.start(dialogue(address -> OK)));
    try (StderrCapture log = new StderrCapture()) {
      RecipientVerifier verifier =
          closer.later(
              RecipientVerifier.create(
                  VerifierConfig.builder()
                      .backends(List.of(at(hung), at(good)))
                      .connectTimeout(Duration.ofSeconds(1))
                      .build()));
      Verdict verdict = verifier.verify("alice@example.com");
      assertThat(verdict).isInstanceOf(Verdict.Accepted.class);
      assertThat(verdict.latency()).isGreaterThanOrEqualTo(Duration.ofMillis(900));
      assertThat(log.text()).doesNotContain("throttling probes");
    }
  }

  @Test
  void aHostThatGreetsAfterTheDeadlineButWithinTheConnectTimeoutIsAskedAgain() {
    ScriptedSmtpServer slow =
        closer.later(
            ScriptedSmtpServer.start(
                c -> {
                  Thread.sleep(700); // the backend's own slowness, not a wait in the test
                  dialogue(address -> OK).play(c);
                }));
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", slow.port())
                    .deadline(Duration.ofMillis(400))
                    .connectTimeout(Duration.ofMillis(2000))
                    .build()));

    assertThat(verifier.verify("alice@example.com"))
        .isInstanceOfSatisfying(
            Verdict.Unverified.class,
            u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.TIMEOUT));
    // Its greeting came within the connect timeout after all: it is asked again, on that
    // connection.
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> verifier.verify("bob@example.com") instanceof Verdict.Accepted);
    assertThat(slow.connections()).isEqualTo(1);
  }

  @Test
  void aHostThatGreetsWith421IsNotSkipped() {
    ScriptedSmtpServer busy =
        closer.later(ScriptedSmtpServer.start(BackendFault.SERVICE_UNAVAILABLE_GREETING.script()));
    ScriptedSmtpServer second = backend();
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backends(List.of(at(busy), at(second)))
                    .connectTimeout(Duration.ofMillis(400))
                    .build()));

    for (int i = 0; i < 3; i++) {
      assertThat(verifier.verify("alice" + i + "@example.com"))
          .isInstanceOfSatisfying(
              Verdict.Unverified.class,
              u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.BACKEND_UNAVAILABLE));
    }
    assertThat(busy.connections()).isGreaterThanOrEqualTo(3); // asked each time, as before
    assertThat(second.connections()).isZero();
  }

  @Test
  void unusedSessionThatHearsTheBackendsIdle421IsReplacedQuietly() throws IOException {
    AtomicInteger connections = new AtomicInteger();
    ScriptedSmtpServer server =
        closer.later(
            ScriptedSmtpServer.start(
                c -> {
                  if (connections.incrementAndGet() == 1) {
                    c.write("220 idle.test\r\n");
                    c.readLine(); // EHLO
                    c.write("250 idle.test\r\n");
                    c.write("421 4.4.2 idle.test Error: timeout exceeded\r\n");
                    return;
                  }
                  dialogue(address -> OK).play(c);
                }));
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .maxSessions(1)
                    .build()));
    // A non-ASCII local part on a backend without SMTPUTF8: the session goes back unused.
    assertThat(verifier.verify("jörg@example.com"))
        .isInstanceOfSatisfying(
            Verdict.Unverified.class,
            u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.INVALID_ADDRESS));

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
  }

  @Test
  void throwingSharedCacheIsAMissNotAnException() {
    ScriptedSmtpServer server = backend();
    VerdictCache broken = new FailingCache(Duration.ZERO);
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .sharedCache(broken, Duration.ofMinutes(1), Duration.ofMinutes(1))
                    .build()));

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
  }

  @Test
  void slowSharedCacheDoesNotHoldTheVerificationPastItsDeadline() {
    ScriptedSmtpServer server = backend();
    Duration deadline = Duration.ofMillis(500);
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .deadline(deadline)
                    .sharedCache(
                        new FailingCache(Duration.ofSeconds(5)),
                        Duration.ofMinutes(1),
                        Duration.ofMinutes(1))
                    .build()));

    Verdict verdict = verifier.verify("alice@example.com");
    assertThat(verdict).isInstanceOf(Verdict.Accepted.class);
    assertThat(verdict.latency()).isLessThan(deadline);
  }

  @Test
  void throwingOrSlowListenerNeitherBreaksNorDelaysVerification() {
    ScriptedSmtpServer server = backend();
    AtomicInteger heard = new AtomicInteger();
    CountDownLatch never = new CountDownLatch(1);
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .deadline(Duration.ofMillis(500))
                    .listener(
                        (address, verdict, cached) -> {
                          if (heard.incrementAndGet() == 1) {
                            throw new IllegalStateException("listener bug");
                          }
                          try {
                            never.await(5, TimeUnit.SECONDS);
                          } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                          }
                        })
                    .build()));

    long started = System.nanoTime();
    for (int i = 0; i < 3; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(1));
    await().atMost(Duration.ofSeconds(5)).until(() -> heard.get() == 2);
    never.countDown();
  }

  @Test
  void asynchronousVerificationsAreBoundedAndAnswerBusyBeyondIt() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    ScriptedSmtpServer server =
        closer.later(
            ScriptedSmtpServer.start(
                dialogue(
                    address -> {
                      release.await(10, TimeUnit.SECONDS);
                      return OK;
                    })));
    RecipientVerifier verifier =
        closer.later(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backend("127.0.0.1", server.port())
                    .probeMethod(ProbeMethod.RCPT)
                    .deadline(Duration.ofSeconds(2))
                    .build()));

    List<CompletableFuture<Verdict>> futures = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      futures.add(verifier.verifyAsync("alice@example.com"));
    }
    long threads =
        Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().startsWith("rcptproxy-verify-"))
            .count();
    assertThat(threads).isLessThanOrEqualTo(64);
    long busyAtOnce =
        futures.stream()
            .filter(CompletableFuture::isDone)
            .map(CompletableFuture::join)
            .filter(v -> v instanceof Verdict.Unverified u && u.reason() == Verdict.Reason.BUSY)
            .count();
    assertThat(busyAtOnce).isGreaterThan(0);
    release.countDown();
  }

  /** A shared cache that takes its time, then throws. */
  private static final class FailingCache implements VerdictCache {
    private final Duration delay;

    FailingCache(Duration delay) {
      this.delay = delay;
    }

    private void fail() {
      try {
        Thread.sleep(delay.toMillis()); // the cache's own slowness, not a wait in the test
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("cache cluster unreachable");
    }

    @Override
    public Optional<CachedVerdict> get(String key) {
      fail();
      return Optional.empty();
    }

    @Override
    public void put(String key, CachedVerdict verdict) {
      fail();
    }

    @Override
    public void invalidate(String key) {
      fail();
    }

    @Override
    public void invalidateAll() {
      fail();
    }
  }
}
