package io.github.rcptproxy.subethasmtp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.policy.FailureMode;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.subethamail.smtp.internal.proxy.ProxyProtocolV1Handler;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;

/**
 * A real SubEthaSMTP front with the wrapper, a real backend behind it, a real client over sockets.
 * Every client here comes from loopback, which the default policy bypasses: tests that want
 * verification say {@link #verifyEveryone()}.
 */
@RealServers
class RecipientVerifyingHandlerFactoryTest {
  private static final Set<String> MAILBOXES =
      Set.of("alice@example.com", "bob@example.com", "carol@sub.example.org");

  private final List<AutoCloseable> resources = new ArrayList<>();
  private final RecordingHandlerFactory user = new RecordingHandlerFactory();
  private Wiser backend;
  private RecipientVerifier verifier;

  /** The verification each test's default verifier starts with (see {@link #startBackend}). */
  private static final int WARM_UP = 1;

  @BeforeEach
  void startBackend() {
    backend = wiser(MAILBOXES);
    verifier = verifierFor(backend.getServer().getPortAllocated(), Duration.ofSeconds(3));
    // Wiser sends no enhanced status codes: its refusals are taken as about the mailbox only once
    // it has accepted an address to ask as the control (until then they are unverified).
    assertThat(verifier.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP);
  }

  @AfterEach
  void stopAll() throws Exception {
    for (AutoCloseable resource : resources) {
      resource.close();
    }
  }

  private Wiser wiser(Set<String> mailboxes) {
    Wiser wiser =
        Wiser.accepter(
                (from, to) ->
                    mailboxes.contains(to.toLowerCase(Locale.ROOT)) || to.startsWith("postmaster@"))
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    wiser.start();
    resources.add(wiser::stop);
    return wiser;
  }

  private RecipientVerifier verifierFor(int port, Duration deadline) {
    RecipientVerifier created =
        RecipientVerifier.create(
            VerifierConfig.builder().backend("127.0.0.1", port).deadline(deadline).build());
    resources.add(created);
    return created;
  }

  private static RecipientPolicy.Builder verifyEveryone() {
    return RecipientPolicy.builder().bypass().bypassBackend(false);
  }

  private FrontServer front(RecipientPolicy policy) {
    return front(RecipientVerifyingHandlerFactory.wrap(user, verifier, policy));
  }

  private FrontServer front(RecipientVerifyingHandlerFactory factory) {
    FrontServer front = new FrontServer(factory);
    resources.add(front);
    return front;
  }

  @Test
  void rejectsUnknownRecipientWithTheOriginalsReplyAndKeepsTheValidCoRecipientsByDefault()
      throws Exception {
    FrontServer front = front(verifyEveryone().build());
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.com>"))
          .isEqualTo("550 5.1.1 Unable to relay to nobody@example.com");
      assertThat(client.send("RCPT TO:<bob@example.com>"))
          .as("one typo is no reason to hang up on the message's valid recipients")
          .startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: hi\r\n\r\nhi\r\n.")).startsWith("250");
    }
    assertThat(user.recipients).containsExactly("alice@example.com", "bob@example.com");
    assertThat(user.messages).hasSize(1);
  }

  @Test
  void theOriginalsSinkAnswersTheNextRcptWith421ThenHangsUp() throws Exception {
    FrontServer front = front(verifyEveryone().disconnectAfterRejections(1).build());
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.com>"))
          .as("the rejected recipient gets its own reply, not the hang-up")
          .isEqualTo("550 5.1.1 Unable to relay to nobody@example.com");
      assertThat(client.send("RCPT TO:<bob@example.com>"))
          .isEqualTo("421 4.7.0 Too many rejected recipients, closing connection");
      assertThat(client.readReply()).as("connection closed after the 421").isNull();
    }
    assertThat(user.recipients).containsExactly("alice@example.com");
  }

  @Test
  void pastTheLimitTheTransactionsDataStillGoesThroughAndTheNextMailGets421() throws Exception {
    FrontServer front = front(verifyEveryone().disconnectAfterRejections(1).build());
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send("Subject: hi\r\n\r\nhi\r\n.")).startsWith("250");
      assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("421 4.7.0");
      assertThat(client.readReply()).isNull();
    }
    assertThat(user.messages).as("alice's message delivered").hasSize(1);
  }

  @Test
  void userHandlerSeesOnlyAcceptedRecipientsAndTheMessageUnchanged() throws Exception {
    FrontServer front = front(verifyEveryone().disconnectAfterRejections(0).build());
    String message =
        "Subject: hello\r\nX-Test: 1\r\n\r\nline one\r\n..dot-stuffed line\r\nlast\r\n";
    try (SmtpClient client = front.client()) {
      assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550");
      assertThat(client.send("RCPT TO:<bob@example.com>")).startsWith("250");
      assertThat(client.send("DATA")).startsWith("354");
      assertThat(client.send(message + ".")).startsWith("250");
    }
    assertThat(user.senders).containsExactly("sender@client.test");
    assertThat(user.recipients).containsExactly("alice@example.com", "bob@example.com");
    assertThat(new String(user.messages.get(0), StandardCharsets.US_ASCII))
        .isEqualTo(message.replace("\r\n..", "\r\n."));
  }

  @Test
  void postmasterWithoutDomainGoesToTheUserHandlerUnverified() throws Exception {
    FrontServer front = front(verifyEveryone().build());
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<Postmaster>")).startsWith("250"); // RFC 5321 4.5.1
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP);
    assertThat(user.recipients).containsExactly("Postmaster");
  }

  @Test
  void bypassedClientSkipsVerification() throws Exception {
    FrontServer front =
        front(
            RecipientPolicy.builder()
                .bypassBackend(false)
                .build()); // default: 127.0.0.1/32, ::1/128
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("250");
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP);
    assertThat(user.recipients).containsExactly("nobody@example.com");
  }

  @Test
  void ipv6LoopbackIsBypassedByDefaultAndMatchedByIpv6Ranges() throws Exception {
    FrontServer front =
        front(RecipientPolicy.builder().bypass("::1/128").bypassBackend(false).build());
    try (SmtpClient v6 = front.client("::1");
        SmtpClient v4 = front.client("127.0.0.1")) {
      v6.send("MAIL FROM:<sender@client.test>");
      v4.send("MAIL FROM:<sender@client.test>");
      assertThat(v6.send("RCPT TO:<nobody@example.com>")).startsWith("250");
      assertThat(v4.send("RCPT TO:<nobody@example.com>")).startsWith("550");
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP + 1);
  }

  @Test
  void ipv4RangeInCidrNotationIsBypassed() throws Exception {
    FrontServer front =
        front(RecipientPolicy.builder().bypass("127.0.0.0/8").bypassBackend(false).build());
    try (SmtpClient client = front.client("127.0.0.1")) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("250");
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP);
  }

  @Test
  void mailFromTheBackendItselfIsBypassed() throws Exception {
    FrontServer front =
        front(RecipientPolicy.builder().bypass().build()); // bypassBackend defaults to true
    try (SmtpClient client = front.client()) { // 127.0.0.1, the backend's address
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("250");
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP);
  }

  @Test
  void proxyProtocolClientAddressIsTheOneChecked() throws Exception {
    FrontServer front =
        new FrontServer(
            RecipientVerifyingHandlerFactory.wrap(
                user, verifier, RecipientPolicy.builder().bypassBackend(false).build()),
            builder -> builder.proxyHandler(ProxyProtocolV1Handler.INSTANCE));
    resources.add(front);
    try (SmtpClient client = new SmtpClient("127.0.0.1", front.port())) {
      // The real peer is 127.0.0.1 (bypassed by default); the proxied client is not.
      client.sendRaw("PROXY TCP4 203.0.113.7 127.0.0.1 40000 25\r\n");
      assertThat(client.readReply()).startsWith("220");
      client.send("EHLO client.test");
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550");
    }
  }

  @Test
  void customCodeAndTemplate() throws Exception {
    FrontServer front =
        front(
            verifyEveryone()
                .rejectCode(554)
                .rejectMessage("No mailbox @")
                .disconnectAfterRejections(0)
                .build());
    FrontServer noAt =
        front(
            RecipientVerifyingHandlerFactory.wrap(
                user,
                verifier,
                verifyEveryone().rejectCode(450).rejectMessage("Try another address").build()));
    try (SmtpClient client = front.client();
        SmtpClient other = noAt.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      other.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<nobody@example.com>"))
          .isEqualTo("554 5.1.1 No mailbox nobody@example.com");
      assertThat(other.send("RCPT TO:<nobody@example.com>"))
          .isEqualTo("450 4.1.1 Try another address");
    }
  }

  @Test
  void backendReplyTextIsShownOnlyWhenAsked() throws Exception {
    FrontServer hidden = front(verifyEveryone().build());
    FrontServer shown =
        front(
            RecipientVerifyingHandlerFactory.wrap(
                user, verifier, verifyEveryone().exposeBackendReply(true).build()));
    try (SmtpClient a = hidden.client();
        SmtpClient b = shown.client()) {
      a.send("MAIL FROM:<sender@client.test>");
      b.send("MAIL FROM:<sender@client.test>");
      String backendText =
          verifier.verify("nobody@example.com") instanceof io.github.rcptproxy.Verdict.Rejected r
              ? r.reply().text()
              : "?";
      assertThat(a.send("RCPT TO:<nobody@example.com>")).doesNotContain(backendText);
      assertThat(b.send("RCPT TO:<nobody@example.com>")).isEqualTo("550 5.1.1 " + backendText);
    }
  }

  @Test
  void disconnectsAfterTheConfiguredNumberOfRejectionsAcrossTransactions() throws Exception {
    FrontServer front = front(verifyEveryone().disconnectAfterRejections(3).build());
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<nobody1@example.com>")).startsWith("550");
      assertThat(client.send("RCPT TO:<nobody2@example.com>")).startsWith("550");
      assertThat(client.send("RSET")).startsWith("250");
      assertThat(client.send("MAIL FROM:<sender@client.test>")).startsWith("250");
      assertThat(client.send("RCPT TO:<nobody3@example.com>")).startsWith("550");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("421 4.7.0");
      assertThat(client.readReply()).isNull();
    }
  }

  /**
   * Postfix counts every refused RCPT toward its hard error limit: another domain's and a malformed
   * address's refusals count as the backend's.
   */
  @Test
  void relayingDeniedAndMalformedAddressesCountTowardTheHangUp() throws Exception {
    DomainRoutes routes =
        DomainRoutes.builder()
            .route("example.com", verifier, verifyEveryone().disconnectAfterRejections(3).build())
            .build();
    FrontServer front = front(RecipientVerifyingHandlerFactory.wrap(user, routes));
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<someone@elsewhere.test>"))
          .isEqualTo("550 5.7.1 Relaying denied");
      assertThat(client.send("RCPT TO:<nodomain>")).startsWith("501 5.1.3");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550 5.1.1");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("421 4.7.0");
      assertThat(client.readReply()).isNull();
    }
  }

  @Test
  void newSessionStartsCountingRejectionsAfresh() throws Exception {
    FrontServer front = front(verifyEveryone().disconnectAfterRejections(2).build());
    for (int session = 0; session < 2; session++) {
      try (SmtpClient client = front.client()) {
        client.send("MAIL FROM:<sender@client.test>");
        assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550");
        assertThat(client.send("NOOP")).as("still connected after one rejection").startsWith("250");
      }
    }
  }

  @Test
  void silentBackendFailsOpenByDefaultWithinTheDeadline() throws Exception {
    ScriptedSmtpServer silent =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(
                address -> {
                  Thread.sleep(10_000);
                  return "250 Ok\r\n";
                }));
    resources.add(silent);
    RecipientVerifier slow = verifierFor(silent.port(), Duration.ofMillis(500));
    FrontServer open =
        front(RecipientVerifyingHandlerFactory.wrap(user, slow, verifyEveryone().build()));
    FrontServer closed =
        front(
            RecipientVerifyingHandlerFactory.wrap(
                user, slow, verifyEveryone().onUnverified(FailureMode.TEMPFAIL).build()));
    try (SmtpClient a = open.client();
        SmtpClient b = closed.client()) {
      a.send("MAIL FROM:<sender@client.test>");
      b.send("MAIL FROM:<sender@client.test>");

      long start = System.nanoTime();
      assertThat(a.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(700));

      start = System.nanoTime();
      assertThat(b.send("RCPT TO:<alice@example.com>"))
          .isEqualTo("451 4.4.3 Recipient verification unavailable, try again later");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(700));
    }
  }

  @Test
  void backendTemporaryFailureIsAcceptedOrPassedOn() throws Exception {
    ScriptedSmtpServer busy =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(
                address -> "451 4.3.0 <" + address + ">: lookup failed at mx7.internal\r\n"));
    resources.add(busy);
    RecipientVerifier tempfailing = verifierFor(busy.port(), Duration.ofSeconds(2));
    FrontServer accept =
        front(RecipientVerifyingHandlerFactory.wrap(user, tempfailing, verifyEveryone().build()));
    FrontServer pass =
        front(
            RecipientVerifyingHandlerFactory.wrap(
                user,
                tempfailing,
                verifyEveryone().onBackendTemporaryFailure(FailureMode.TEMPFAIL).build()));
    try (SmtpClient a = accept.client();
        SmtpClient b = pass.client()) {
      a.send("MAIL FROM:<sender@client.test>");
      b.send("MAIL FROM:<sender@client.test>");
      assertThat(a.send("RCPT TO:<alice@example.com>")).startsWith("250");
      assertThat(b.send("RCPT TO:<alice@example.com>"))
          .isEqualTo("451 4.3.0 Recipient cannot be verified now, try again later");
    }
  }

  @Test
  void backendBadSequenceNeverReachesTheClientAsA5xx() throws Exception {
    ScriptedSmtpServer confused =
        ScriptedSmtpServer.start(
            ScriptedSmtpServer.dialogue(address -> "503 5.5.1 Error: need MAIL command\r\n"));
    resources.add(confused);
    RecipientVerifier verifier = verifierFor(confused.port(), Duration.ofSeconds(2));
    FrontServer front =
        front(
            RecipientVerifyingHandlerFactory.wrap(
                user,
                verifier,
                verifyEveryone()
                    .onBackendTemporaryFailure(FailureMode.TEMPFAIL)
                    .onUnverified(FailureMode.TEMPFAIL)
                    .build()));
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<alice@example.com>"))
          .isEqualTo("451 4.4.3 Recipient verification unavailable, try again later");
    }
  }

  @Test
  void catchAllDomainIsAcceptedEvenWhenUnverifiedRecipientsAreTempfailed() throws Exception {
    Wiser acceptsAnyone =
        Wiser.accepter((from, to) -> true)
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    acceptsAnyone.start();
    resources.add(acceptsAnyone::stop);
    RecipientVerifier detecting =
        RecipientVerifier.create(
            VerifierConfig.builder()
                .backend("127.0.0.1", acceptsAnyone.getServer().getPortAllocated())
                .catchAllDetection(Duration.ofMinutes(5))
                .build());
    resources.add(detecting);
    FrontServer front =
        front(
            RecipientVerifyingHandlerFactory.wrap(
                user, detecting, verifyEveryone().onUnverified(FailureMode.TEMPFAIL).build()));
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<anyone@example.com>")).startsWith("250");
    }
  }

  @Test
  void invalidAddressesAreRefusedAndNeverReachTheBackend() throws Exception {
    ScriptedSmtpServer recording =
        ScriptedSmtpServer.start(ScriptedSmtpServer.dialogue(address -> "250 Ok\r\n"));
    resources.add(recording);
    FrontServer front =
        front(
            RecipientVerifyingHandlerFactory.wrap(
                user,
                verifierFor(recording.port(), Duration.ofSeconds(2)),
                verifyEveryone().disconnectAfterRejections(0).build()));
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<evil\u0000x@example.com>")).startsWith("501 5.1.3");
      assertThat(client.send("RCPT TO:<evil<x>@example.com>")).startsWith("5");
      // RFC 5321 §4.1.1.3: a source route is ignored (as Postfix does), never passed on.
      assertThat(client.send("RCPT TO:<@relay.example:route@example.com>")).startsWith("250");
      assertThat(client.send("RCPT TO:<evil\u760d\u760a@example.com>")).startsWith("501 5.1.3");
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
    }
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      // SubEthaSMTP itself refuses a bare CR in a command line, by hanging up.
      assertThat(client.send("RCPT TO:<evil@example.com> NOTIFY=NEVER\rDATA"))
          .satisfiesAnyOf(
              reply -> assertThat(reply).isNull(), reply -> assertThat(reply).startsWith("5"));
    }
    assertThat(recording.received())
        .doesNotContain("evil", "@relay.example")
        .contains("RCPT TO:<route@example.com>", "RCPT TO:<alice@example.com>");
    assertThat(user.recipients).containsExactly("route@example.com", "alice@example.com");
  }

  @Test
  void tarpitDelaysEachRejection() throws Exception {
    FrontServer front =
        front(verifyEveryone().tarpit(Duration.ofMillis(300)).disconnectAfterRejections(0).build());
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      long start = System.nanoTime();
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550");
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isGreaterThanOrEqualTo(Duration.ofMillis(300));
    }
  }

  @Test
  void routesEachDomainToItsOwnBackendAndPolicy() throws Exception {
    Wiser orgBackend = wiser(Set.of("carol@sub.example.org"));
    RecipientVerifier orgVerifier =
        verifierFor(orgBackend.getServer().getPortAllocated(), Duration.ofSeconds(2));
    DomainRoutes routes =
        DomainRoutes.builder()
            .route("example.com", verifier, verifyEveryone().disconnectAfterRejections(0).build())
            .route(
                "*.example.org",
                orgVerifier,
                verifyEveryone()
                    .rejectCode(554)
                    .rejectMessage("Not here")
                    .disconnectAfterRejections(0)
                    .build())
            .build();
    FrontServer front = front(RecipientVerifyingHandlerFactory.wrap(user, routes));
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<alice@Example.COM>")).startsWith("250");
      assertThat(client.send("RCPT TO:<carol@sub.example.org>")).startsWith("250");
      assertThat(client.send("RCPT TO:<alice@sub.example.org>")).isEqualTo("554 5.1.1 Not here");
      assertThat(client.send("RCPT TO:<carol@example.org>")).isEqualTo("550 5.7.1 Relaying denied");
      assertThat(client.send("RCPT TO:<someone@elsewhere.test>"))
          .isEqualTo("550 5.7.1 Relaying denied");
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP + 1);
    assertThat(orgVerifier.stats().verifications()).isEqualTo(2);
    // in the one form they were routed and verified in
    assertThat(user.recipients).containsExactly("alice@example.com", "carol@sub.example.org");
  }

  @Test
  void otherDomainsCanBeAccepted() throws Exception {
    DomainRoutes routes =
        DomainRoutes.builder()
            .route("example.com", verifier, verifyEveryone().build())
            .acceptOtherDomains(true)
            .build();
    FrontServer front = front(RecipientVerifyingHandlerFactory.wrap(user, routes));
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<someone@elsewhere.test>")).startsWith("250");
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP);
  }

  @Test
  void wrappersComposeOuterFirst() throws Exception {
    Wiser narrow = wiser(Set.of("alice@example.com"));
    RecipientVerifier inner =
        verifierFor(narrow.getServer().getPortAllocated(), Duration.ofSeconds(2));
    assertThat(inner.verify("alice@example.com")).isInstanceOf(Verdict.Accepted.class);
    RecipientPolicy policy = verifyEveryone().disconnectAfterRejections(0).build();
    RecipientVerifyingHandlerFactory chain =
        RecipientVerifyingHandlerFactory.wrap(
            RecipientVerifyingHandlerFactory.wrap(user, inner, policy), verifier, policy);
    FrontServer front = front(chain);
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550"); // outer says no
      assertThat(client.send("RCPT TO:<bob@example.com>")).startsWith("550"); // outer yes, inner no
      assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250"); // both yes
    }
    assertThat(verifier.stats().verifications()).isEqualTo(WARM_UP + 3);
    assertThat(inner.stats().verifications()).isEqualTo(WARM_UP + 2);
    assertThat(user.recipients).containsExactly("alice@example.com");
  }

  @Test
  void worksInFrontOfRealPostfix() throws Exception {
    PostfixBackend postfix = PostfixBackend.shared();
    RecipientVerifier toPostfix = verifierFor(postfix.port(), Duration.ofSeconds(3));
    FrontServer front =
        front(RecipientVerifyingHandlerFactory.wrap(user, toPostfix, verifyEveryone().build()));
    try (SmtpClient client = front.client()) {
      client.send("MAIL FROM:<sender@client.test>");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.known(9) + ">")).startsWith("250");
      assertThat(client.send("RCPT TO:<" + PostfixBackend.unknown(9) + ">"))
          .isEqualTo("550 5.1.1 Unable to relay to " + PostfixBackend.unknown(9));
    }
    assertThat(user.recipients).containsExactly(PostfixBackend.known(9));
  }
}
