package io.github.rcptproxy;

import static io.github.rcptproxy.testing.ScriptedSmtpServer.dialogue;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Backends that misbehave, played by a scripted fake server. Each case checks the verdict, that the
 * deadline held, and that no session leaked.
 */
class BackendFaultsTest {
  private static final Duration DEADLINE = Duration.ofMillis(500);
  private static final Duration MARGIN = Duration.ofMillis(100);
  private static final String OK = "250 2.1.5 Ok\r\n";

  private ScriptedSmtpServer server;
  private RecipientVerifier verifier;

  @AfterEach
  void tearDown() throws IOException {
    if (verifier != null) {
      assertThat(verifier.stats().sessionsActive()).as("sessions leaked").isZero();
      verifier.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private RecipientVerifier verifierFor(ScriptedSmtpServer.Script script) {
    return verifierFor(script, rcptProbes());
  }

  /** These backends are played for RCPT probes; VRFY is covered by VrfyProbeTest. */
  private static VerifierConfig.Builder rcptProbes() {
    return VerifierConfig.builder().probeMethod(ProbeMethod.RCPT);
  }

  private RecipientVerifier verifierFor(
      ScriptedSmtpServer.Script script, VerifierConfig.Builder config) {
    server = ScriptedSmtpServer.start(script);
    verifier =
        RecipientVerifier.create(
            config.backend("127.0.0.1", server.port()).deadline(DEADLINE).build());
    return verifier;
  }

  private static Verdict.Unverified unverified(Verdict verdict, Verdict.Reason reason) {
    assertThat(verdict).isInstanceOf(Verdict.Unverified.class);
    Verdict.Unverified unverified = (Verdict.Unverified) verdict;
    assertThat(unverified.reason()).as(unverified.detail()).isEqualTo(reason);
    return unverified;
  }

  private static void answeredWithinDeadline(Verdict verdict) {
    assertThat(verdict.latency()).isLessThanOrEqualTo(DEADLINE.plus(MARGIN));
  }

  @Test
  void closedPortIsBackendUnavailable() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    verifier =
        RecipientVerifier.create(
            rcptProbes().backend("127.0.0.1", port).deadline(DEADLINE).build());

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.BACKEND_UNAVAILABLE);
    answeredWithinDeadline(verdict);
  }

  @Test
  void backendThatNeverGreetsTimesOutWithinDeadline() {
    verifierFor(ScriptedSmtpServer.Connection::readUntilClosed);

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.TIMEOUT);
    answeredWithinDeadline(verdict);
    assertThat(verifier.stats().sessionsIdle()).isZero();
  }

  @Test
  void silenceAfterRcptTimesOutAndDiscardsTheSession() {
    verifierFor(
        dialogue(
            address -> {
              Thread.sleep(5_000);
              return OK;
            }));

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.TIMEOUT);
    answeredWithinDeadline(verdict);
    assertThat(verifier.stats().sessionsIdle()).isZero();
    assertThat(verifier.stats().sessionsClosed()).isEqualTo(1);
  }

  @Test
  void slowDripReplyTimesOutAtTheDeadlineNotPerByte() {
    verifierFor(
        connection -> {
          connection.write("220 drip.test\r\n");
          connection.readLine();
          connection.write("250 drip.test\r\n");
          connection.readLine();
          connection.write("250 Ok\r\n"); // MAIL
          connection.readLine();
          for (byte b : OK.getBytes()) { // RCPT: one byte every 100 ms
            connection.write(new byte[] {b});
            Thread.sleep(100);
          }
          connection.readUntilClosed();
        });

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.TIMEOUT);
    answeredWithinDeadline(verdict);
  }

  @Test
  void connectionResetMidReplyIsBackendUnavailable() {
    verifierFor(
        connection -> {
          connection.write("220 reset.test\r\n");
          connection.readLine();
          connection.write("250-reset.test\r\n250-PIPE");
          connection.reset();
        });

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.BACKEND_UNAVAILABLE);
    answeredWithinDeadline(verdict);
  }

  @Test
  void serviceNotAvailableAtGreetingIsBackendUnavailableWithTheReply() {
    verifierFor(connection -> connection.write("421 4.3.2 busy, try later\r\n"));

    Verdict.Unverified verdict =
        unverified(verifier.verify("alice@example.com"), Verdict.Reason.BACKEND_UNAVAILABLE);

    assertThat(verdict.reply())
        .hasValueSatisfying(
            reply -> {
              assertThat(reply.code()).isEqualTo(421);
              assertThat(reply.enhancedStatus()).isEqualTo("4.3.2");
            });
  }

  @Test
  void serviceClosingMidSessionIsRetriedOnceOnAFreshSession() {
    AtomicInteger rcpts = new AtomicInteger();
    verifierFor(
        dialogue(
            address -> rcpts.incrementAndGet() == 2 ? "421 4.7.0 Error: too many errors\r\n" : OK));

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.verify("bob@example.com")).isInstanceOf(Verdict.Accepted.class);

    assertThat(server.connections()).isEqualTo(2);
    assertThat(verifier.stats().sessionsOpened()).isEqualTo(2);
  }

  @Test
  void stalePooledSessionsAfterBackendRestartAreRetriedOnce() throws IOException {
    verifierFor(dialogue(address -> OK), rcptProbes().maxSessions(4));
    CompletableFuture<?>[] warmUp = new CompletableFuture<?>[4];
    for (int i = 0; i < warmUp.length; i++) {
      warmUp[i] = verifier.verifyAsync("alice@example.com");
    }
    CompletableFuture.allOf(warmUp).join();
    int idleBefore = verifier.stats().sessionsIdle();

    server.dropConnections(); // the backend restarted: every pooled session is dead

    for (int i = 0; i < 4; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }
    assertThat(idleBefore).isPositive();
    assertThat(verifier.stats().sessionsClosed()).isEqualTo(idleBefore);
  }

  @Test
  void garbageReplyIsProtocolError() {
    verifierFor(
        connection -> {
          connection.write("HTTP/1.1 400 Bad Request\r\n\r\n");
          connection.readUntilClosed();
        });

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.PROTOCOL_ERROR);
  }

  @Test
  void replyWithoutCrLfTimesOutAtTheDeadline() {
    verifierFor(
        connection -> {
          connection.write("220 no line end");
          connection.readUntilClosed();
        });

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.TIMEOUT);
    answeredWithinDeadline(verdict);
  }

  @Test
  void bareLfReplyIsProtocolError() {
    verifierFor(dialogue(address -> "250 2.1.5 Ok\n"));

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.PROTOCOL_ERROR);
    assertThat(verifier.stats().sessionsIdle()).isZero();
  }

  @Test
  void multiLineReplyWithMismatchedCodesIsProtocolError() {
    verifierFor(dialogue(address -> "250-looks fine\r\n550 but is not\r\n"));

    unverified(verifier.verify("alice@example.com"), Verdict.Reason.PROTOCOL_ERROR);
  }

  @Test
  void endlessMultiLineReplyIsCutOffAfterHundredLines() {
    AtomicInteger linesSent = new AtomicInteger();
    verifierFor(
        dialogue(
            address -> {
              return null; // replaced below
            }));
    server.play(
        connection -> {
          connection.write("220 endless.test\r\n");
          connection.readLine();
          for (int i = 0; i < 100_000; i++) {
            connection.write("250-and more\r\n");
            linesSent.incrementAndGet();
          }
        });

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.PROTOCOL_ERROR);
    answeredWithinDeadline(verdict);
  }

  @Test
  void tenMegabyteLineIsProtocolErrorWithoutReadingIt() {
    verifierFor(
        connection -> {
          connection.write("220 ");
          byte[] chunk = new byte[64 * 1024];
          java.util.Arrays.fill(chunk, (byte) 'x');
          for (int i = 0; i < 160; i++) {
            connection.write(chunk);
          }
          connection.write("\r\n");
        });

    Verdict verdict = verifier.verify("alice@example.com");

    unverified(verdict, Verdict.Reason.PROTOCOL_ERROR);
    answeredWithinDeadline(verdict);
  }

  @Test
  void rejectedProbeSenderIsSenderRejectedNotARecipientVerdict() {
    verifierFor(
        connection -> {
          connection.write("220 strict.test\r\n");
          String line;
          while ((line = connection.readLine()) != null) {
            if (line.startsWith("EHLO")) {
              connection.write("250-strict.test\r\n250 PIPELINING\r\n");
            } else if (line.startsWith("MAIL")) {
              connection.write("553 5.7.1 <rcptproxy@localhost>: Sender address rejected\r\n");
            } else if (line.startsWith("RCPT")) {
              connection.write("503 5.5.1 Error: need MAIL command\r\n");
            }
          }
        });

    Verdict.Unverified verdict =
        unverified(verifier.verify("alice@example.com"), Verdict.Reason.SENDER_REJECTED);

    assertThat(verdict.reply())
        .hasValueSatisfying(reply -> assertThat(reply.code()).isEqualTo(553));
    assertThat(verifier.stats().rejected()).isZero();
  }

  @Test
  void temporaryFailureCarriesTheBackendReply() {
    verifierFor(dialogue(address -> "450 4.2.0 <" + address + ">: mailbox busy\r\n"));

    Verdict.Unverified verdict =
        unverified(verifier.verify("alice@example.com"), Verdict.Reason.TEMPORARY_FAILURE);

    assertThat(verdict.reply())
        .hasValueSatisfying(
            reply -> {
              assertThat(reply.code()).isEqualTo(450);
              assertThat(reply.text()).contains("mailbox busy");
            });
  }

  @Test
  void transactionPerVerificationSendsRsetAndMailBeforeEachRcpt() {
    verifierFor(dialogue(address -> OK), rcptProbes().transactionPerVerification(true));

    for (int i = 0; i < 3; i++) {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    }

    assertThat(server.count("MAIL FROM")).isEqualTo(3);
    assertThat(server.count("RSET")).isEqualTo(2);
    assertThat(verifier.stats().transactionsOpened()).isEqualTo(3);
  }

  @Test
  void fallsBackToHeloWhenEhloIsRefused() throws Exception {
    verifierFor(
        connection -> {
          connection.write("220 old.test\r\n");
          String line;
          while ((line = connection.readLine()) != null) {
            connection.write(
                line.startsWith("EHLO") ? "502 5.5.2 command not recognized\r\n" : "250 Ok\r\n");
          }
        });

    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(server.received())
        .containsAnyOf(
            "HELO [127.0.0.1]\r\n", // this host's address, where its name is not fully qualified
            "HELO " + InetAddress.getLocalHost().getCanonicalHostName() + "\r\n")
        .contains("MAIL FROM:<>\r\n");
  }

  @Test
  void callersThatFindNoFreeSessionAnswerBusyAtTheDeadline() throws Exception {
    CountDownLatch stuck = new CountDownLatch(1);
    verifierFor(
        dialogue(
            address -> {
              stuck.countDown();
              Thread.sleep(5_000);
              return OK;
            }),
        rcptProbes().maxSessions(1));
    CompletableFuture<Verdict> holder = verifier.verifyAsync("alice@example.com");
    assertThat(stuck.await(5, TimeUnit.SECONDS)).isTrue();
    List<CompletableFuture<Verdict>> waiters = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      waiters.add(verifier.verifyAsync("alice@example.com"));
    }

    unverified(holder.get(), Verdict.Reason.TIMEOUT);
    int busy = 0;
    for (CompletableFuture<Verdict> future : waiters) {
      // One waiter may take the place the holder frees, and time out in it; the rest wait in vain.
      Verdict.Unverified verdict = (Verdict.Unverified) future.get();
      assertThat(verdict.reason()).isIn(Verdict.Reason.BUSY, Verdict.Reason.TIMEOUT);
      answeredWithinDeadline(verdict);
      busy += verdict.reason() == Verdict.Reason.BUSY ? 1 : 0;
    }
    assertThat(busy).isPositive();
    assertThat(verifier.stats().unverified()).containsEntry(Verdict.Reason.BUSY, (long) busy);
  }

  @Test
  void replacementForADestroyedSessionIsOpenedByTheWaiterNotTheReleaser() throws Exception {
    CountDownLatch firstInRcpt = new CountDownLatch(1);
    AtomicInteger rcpts = new AtomicInteger();
    verifierFor(
        dialogue(
            address -> {
              if (rcpts.incrementAndGet() == 1) {
                firstInRcpt.countDown();
                Thread.sleep(200);
                return "550 5.1.1 unknown\r\n"; // reaches maxRejectionsPerSession: session
                // destroyed
              }
              return OK;
            }),
        rcptProbes()
            .maxSessions(1)
            .maxRejectionsPerSession(1)
            .deadline(Duration.ofSeconds(2))
            .knownGood("alice@example.com"));
    CompletableFuture<Verdict> first = verifier.verifyAsync("nobody@example.com");
    assertThat(firstInRcpt.await(5, TimeUnit.SECONDS)).isTrue();

    Verdict second = verifier.verify("alice@example.com");

    assertThat(first.get()).isInstanceOf(Verdict.Rejected.class);
    assertThat(first.get().latency()).isLessThan(Duration.ofMillis(400));
    assertThat(second).isInstanceOf(Verdict.Accepted.class);
    assertThat(server.connections()).isEqualTo(2);
  }

  @Test
  void definiteAnswersThatTakeASecondAreReportedAsThrottlingOnce() throws Exception {
    server =
        ScriptedSmtpServer.start(
            dialogue(
                address -> {
                  Thread.sleep(950); // what Postfix's inflow control or error delay looks like
                  return OK;
                }));
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", server.port())
                .deadline(Duration.ofSeconds(3))
                .build());
    PrintStream stderr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify("bob@example.com")).isInstanceOf(Verdict.Accepted.class);
    } finally {
      System.setErr(stderr);
    }
    String log = captured.toString(StandardCharsets.UTF_8);
    assertThat(countOf(log, "throttling probes")).isEqualTo(1);
    assertThat(log).as("names the slow backend").contains("127.0.0.1:" + server.port() + " took 9");
  }

  private static int countOf(String text, String word) {
    int count = 0;
    for (int at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
      count++;
    }
    return count;
  }
}
