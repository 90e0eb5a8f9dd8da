package io.github.rcptproxy.postfix;

import static io.github.rcptproxy.postfix.PolicyClient.rcpt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.policy.FailureMode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The policy protocol and the verdict-to-action mapping, with a scripted verifier. */
class PolicyServerTest {
  static final Duration MS = Duration.ofMillis(3);

  static Verdict script(String address) {
    if (address.startsWith("user")) {
      return new Verdict.Accepted(new BackendReply(250, "2.1.5", "Ok"), MS);
    }
    if (address.startsWith("nobody")) {
      return new Verdict.Rejected(
          new BackendReply(550, "5.1.1", "<" + address + ">: User unknown in mx7.internal"), MS);
    }
    if (address.startsWith("busy")) {
      return new Verdict.Unverified(
          Verdict.Reason.TEMPORARY_FAILURE,
          "451",
          Optional.of(new BackendReply(451, "4.3.0", "Temporary local problem at mx7.internal")),
          MS);
    }
    if (address.startsWith("full")) {
      return new Verdict.Unverified(
          Verdict.Reason.TEMPORARY_FAILURE,
          "452",
          Optional.of(new BackendReply(452, "4.2.2", "Mailbox full at mx7.internal")),
          MS);
    }
    if (address.startsWith("catchall")) {
      return new Verdict.Unverified(Verdict.Reason.CATCH_ALL, "any", Optional.empty(), MS);
    }
    if (address.startsWith("bad")) {
      return new Verdict.Unverified(Verdict.Reason.INVALID_ADDRESS, "bad", Optional.empty(), MS);
    }
    return new Verdict.Unverified(
        Verdict.Reason.BACKEND_UNAVAILABLE, "refused", Optional.empty(), MS);
  }

  final ScriptedVerifier verifier = new ScriptedVerifier(PolicyServerTest::script);
  PolicyServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  PolicyServer start(PolicyAnswers answers) throws IOException {
    server =
        PolicyServer.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .route("example.test", verifier, answers)
            .start();
    return server;
  }

  String ask(String request) throws IOException {
    try (PolicyClient client = new PolicyClient(server.address())) {
      return client.ask(request);
    }
  }

  @Test
  void knownRecipientIsDunno() throws IOException {
    start(PolicyAnswers.defaults());
    assertThat(ask(rcpt("user1@example.test", "192.0.2.1"))).isEqualTo("action=DUNNO");
    assertThat(verifier.asked).containsExactly("user1@example.test");
  }

  @Test
  void unknownRecipientIsRejectedWithTheConfiguredTextNotTheBackends() throws IOException {
    start(PolicyAnswers.builder().rejectCode(554).rejectMessage("No such user: @").build());
    assertThat(ask(rcpt("nobody@example.test", "192.0.2.1")))
        .isEqualTo("action=554 5.1.1 No such user: nobody@example.test");
  }

  @Test
  void backendTextOnlyWhenAsked() throws IOException {
    start(PolicyAnswers.builder().exposeBackendReply(true).build());
    assertThat(ask(rcpt("nobody@example.test", "192.0.2.1")))
        .isEqualTo("action=550 5.1.1 <nobody@example.test>: User unknown in mx7.internal");
  }

  @Test
  void unverifiedIsDunnoByDefault() throws IOException {
    start(PolicyAnswers.defaults());
    assertThat(ask(rcpt("down@example.test", "192.0.2.1"))).isEqualTo("action=DUNNO");
  }

  @Test
  void unverifiedIsDeferIfPermitWhenTempfail() throws IOException {
    start(PolicyAnswers.builder().onUnverified(FailureMode.TEMPFAIL).build());
    assertThat(ask(rcpt("down@example.test", "192.0.2.1")))
        .isEqualTo(
            "action=DEFER_IF_PERMIT 4.4.3 Recipient verification unavailable, try again later");
  }

  @Test
  void backendTempfailPassedOnOnlyWhenAsked() throws IOException {
    start(PolicyAnswers.builder().onBackendTemporaryFailure(FailureMode.TEMPFAIL).build());
    assertThat(ask(rcpt("busy@example.test", "192.0.2.1")))
        .isEqualTo("action=451 4.3.0 Recipient cannot be verified now, try again later");
    server.close();
    start(PolicyAnswers.defaults());
    assertThat(ask(rcpt("busy@example.test", "192.0.2.1"))).isEqualTo("action=DUNNO");
  }

  @Test
  void aTemporarilyFullMailboxIsPassedOnWithItsMeaningByDefault() throws IOException {
    start(PolicyAnswers.defaults());
    assertThat(ask(rcpt("full@example.test", "192.0.2.1")))
        .isEqualTo("action=452 4.2.2 Mailbox full: full@example.test");
  }

  @Test
  void catchAllIsDunnoAndInvalidAddressIs501() throws IOException {
    start(PolicyAnswers.builder().onUnverified(FailureMode.TEMPFAIL).build());
    assertThat(ask(rcpt("catchall@example.test", "192.0.2.1"))).isEqualTo("action=DUNNO");
    assertThat(ask(rcpt("bad@example.test", "192.0.2.1")))
        .isEqualTo("action=501 5.1.3 Bad recipient address syntax");
  }

  @Test
  void otherProtocolStatesAreDunnoWithoutAskingTheBackend() throws IOException {
    start(PolicyAnswers.defaults());
    for (String state :
        new String[] {"CONNECT", "EHLO", "MAIL", "DATA", "END-OF-MESSAGE", "VRFY"}) {
      assertThat(ask(rcpt("nobody@example.test", "192.0.2.1").replace("=RCPT", "=" + state)))
          .isEqualTo("action=DUNNO");
    }
    assertThat(verifier.asked).isEmpty();
  }

  @Test
  void domainsAreRoutedAndOthersAreDunno() throws IOException {
    ScriptedVerifier other = new ScriptedVerifier(PolicyServerTest::script);
    server =
        PolicyServer.builder()
            .listen(new InetSocketAddress("127.0.0.1", 0))
            .route("example.test", verifier, PolicyAnswers.defaults())
            .route("*.example.org", other, PolicyAnswers.builder().rejectMessage("Gone").build())
            .start();
    assertThat(ask(rcpt("nobody@mx.Example.ORG", "192.0.2.1"))).isEqualTo("action=550 5.1.1 Gone");
    assertThat(ask(rcpt("nobody@example.net", "192.0.2.1"))).isEqualTo("action=DUNNO");
    assertThat(ask(rcpt("postmaster", "192.0.2.1"))).isEqualTo("action=DUNNO");
    assertThat(other.asked).containsExactly("nobody@mx.example.org"); // in its one form
    assertThat(verifier.asked).isEmpty();
  }

  @Test
  void bypassedClientsAreNotVerified() throws IOException {
    start(PolicyAnswers.builder().bypass("10.0.0.0/8", "2001:db8::/32").build());
    assertThat(ask(rcpt("nobody@example.test", "10.1.2.3"))).isEqualTo("action=DUNNO");
    assertThat(ask(rcpt("nobody@example.test", "2001:db8::25"))).isEqualTo("action=DUNNO");
    assertThat(ask(rcpt("nobody@example.test", "11.1.2.3"))).startsWith("action=550");
    assertThat(ask(rcpt("nobody@example.test", "10.1.2.3.example.net"))).startsWith("action=550");
    assertThat(verifier.asked).hasSize(2);
  }

  @Test
  void manyRequestsOnOneConnectionAnsweredInOrderEvenWhenSentAtOnce() throws IOException {
    start(PolicyAnswers.defaults());
    try (PolicyClient client = new PolicyClient(server.address())) {
      for (int i = 0; i < 50; i++) {
        assertThat(client.ask(rcpt((i % 2 == 0 ? "user" : "nobody") + i + "@example.test", "")))
            .isEqualTo(
                i % 2 == 0
                    ? "action=DUNNO"
                    : "action=550 5.1.1 Unable to relay to nobody" + i + "@example.test");
      }
      StringBuilder burst = new StringBuilder();
      for (int i = 0; i < 200; i++) {
        burst.append(rcpt((i % 2 == 0 ? "user" : "nobody") + i + "@example.test", ""));
      }
      client.write(burst.toString());
      for (int i = 0; i < 200; i++) {
        assertThat(client.answer()).startsWith(i % 2 == 0 ? "action=DUNNO" : "action=550");
      }
    }
  }

  @Test
  void malformedRequestsAreDunnoAndTheConnectionGoesOn() throws IOException {
    start(PolicyAnswers.defaults());
    try (PolicyClient client = new PolicyClient(server.address())) {
      assertThat(client.ask("this is not a policy request\n\n")).isEqualTo("action=DUNNO");
      assertThat(client.ask("\n")).isEqualTo("action=DUNNO");
      assertThat(client.ask("request=smtpd_access_policy\nprotocol_state=RCPT\n\n"))
          .isEqualTo("action=DUNNO");
      assertThat(
              client.ask(
                  "request=something_else\nprotocol_state=RCPT\nrecipient=nobody@example.test\n\n"))
          .isEqualTo("action=DUNNO");
      // two recipients, or a control character in one: never guess which is meant
      assertThat(
              client.ask(
                  rcpt("nobody@example.test", "")
                      .replace("\n\n", "\nrecipient=x@example.test\n\n")))
          .isEqualTo("action=DUNNO");
      assertThat(client.ask(rcpt("nobody\u0001@example.test", ""))).isEqualTo("action=DUNNO");
      assertThat(client.ask(rcpt("nobody@example.test", "").replace("recipient=", "Recipient=")))
          .isEqualTo("action=DUNNO");
      byte[] notUtf8 =
          rcpt("nobodyXX@example.test", "").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
      int x = new String(notUtf8, java.nio.charset.StandardCharsets.ISO_8859_1).indexOf("XX");
      notUtf8[x] = (byte) 0xff;
      client.write(notUtf8);
      assertThat(client.answer()).isEqualTo("action=DUNNO");
      // unknown attributes (newer Postfix versions add some) are ignored, CRLF is tolerated
      assertThat(
              client.ask(
                  rcpt("nobody@example.test", "")
                      .replace("\n\n", "\nfuture_attribute=1\n\n")
                      .replace("\n", "\r\n")))
          .startsWith("action=550");
      assertThat(client.ask(rcpt("user1@example.test", ""))).isEqualTo("action=DUNNO");
    }
    assertThat(verifier.asked).containsExactly("nobody@example.test", "user1@example.test");
  }

  @Test
  void settingsAreChecked() {
    assertThatThrownBy(() -> PolicyServer.builder().maxConnections(0))
        .hasMessage("max connections cannot be less than 1, was 0");
    assertThatThrownBy(() -> PolicyServer.builder().start())
        .hasMessage("at least one route is needed");
    assertThatThrownBy(() -> PolicyAnswers.builder().rejectCode(250).build())
        .hasMessage("reject code must be within 400..499 or 500..599, was 250");
    assertThatThrownBy(() -> PolicyAnswers.builder().bypass("mail.example.net").build())
        .hasMessage("bypass entry 'mail.example.net' is not an IP address or CIDR range");
    assertThatThrownBy(
            () -> PolicyServer.builder().route("exa mple", verifier, PolicyAnswers.defaults()))
        .hasMessage("domain pattern must be a domain, *.domain or *, was 'exa mple'");
  }
}
