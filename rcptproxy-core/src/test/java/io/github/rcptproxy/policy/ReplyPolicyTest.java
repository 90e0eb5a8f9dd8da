package io.github.rcptproxy.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.Verdict.Reason;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ReplyPolicyTest {
  private static final Duration MS = Duration.ofMillis(1);
  private static final Verdict ACCEPTED =
      new Verdict.Accepted(new BackendReply(250, "2.1.5", "Ok"), MS);
  private static final Verdict UNKNOWN =
      new Verdict.Rejected(new BackendReply(550, "5.1.1", "User unknown in mx7.internal"), MS);
  private static final Verdict MAILBOX_FULL =
      unverified(Reason.TEMPORARY_FAILURE, new BackendReply(452, "", "Full at mx7.internal"));
  private static final Verdict BACKEND_5XX_AFTER_RETRY =
      unverified(Reason.TEMPORARY_FAILURE, new BackendReply(554, "5.3.0", "Odd"));

  private final ReplyPolicy defaults = ReplyPolicy.builder().build();
  private final ReplyPolicy closed =
      ReplyPolicy.builder()
          .onUnverified(FailureMode.TEMPFAIL)
          .onBackendTemporaryFailure(FailureMode.TEMPFAIL)
          .build();

  private static Verdict unverified(Reason reason, BackendReply reply) {
    return new Verdict.Unverified(reason, "detail", Optional.ofNullable(reply), MS);
  }

  @Test
  void unknownRecipientsGetTheRejectCodeAndTemplate() {
    assertThat(defaults.decide(UNKNOWN, "x@example.com"))
        .isEqualTo(new RecipientDecision.Reject(550, "5.1.1", "Unable to relay to x@example.com"));
    assertThat(
            ReplyPolicy.builder()
                .rejectCode(450)
                .rejectMessage("mail @ example: no")
                .build()
                .decide(UNKNOWN, "x@y"))
        .isEqualTo(new RecipientDecision.Reject(450, "4.1.1", "mail @ example: no"));
    assertThat(ReplyPolicy.builder().exposeBackendReply(true).build().decide(UNKNOWN, "x@y"))
        .isEqualTo(new RecipientDecision.Reject(550, "5.1.1", "User unknown in mx7.internal"));
  }

  @ParameterizedTest(name = "{0} {1} -> {2} {3}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          552 | 5.2.2 | 550 | 5.2.2 | Mailbox full: x@example.com
          452 | 4.2.2 | 450 | 4.2.2 | Mailbox full: x@example.com
          550 | 5.2.1 | 550 | 5.2.1 | Mailbox disabled: x@example.com
          550 | 5.7.1 | 550 | 5.7.1 | Recipient refused by policy: x@example.com
          550 | 5.1.6 | 550 | 5.1.6 | Unable to relay to x@example.com
          550 | ''    | 550 | 5.1.1 | Unable to relay to x@example.com
          550 | 5.0.0 | 550 | 5.1.1 | Unable to relay to x@example.com
          550 | 5.2.2 | 450 | 4.2.2 | Mailbox full: x@example.com
          """)
  void aRejectionSaysWhatTheBackendMeantInTheRejectCodesClass(
      int backendCode, String backendEnhanced, int rejectCode, String enhanced, String text) {
    Verdict rejected =
        new Verdict.Rejected(new BackendReply(backendCode, backendEnhanced, "mx7.internal"), MS);

    assertThat(
            ReplyPolicy.builder().rejectCode(rejectCode).build().decide(rejected, "x@example.com"))
        .isEqualTo(new RecipientDecision.Reject(rejectCode, enhanced, text));
  }

  @Test
  void anUnconfirmedRefusalIsDeferredEvenWhenTheUnverifiedAreAccepted() {
    Verdict unconfirmed =
        unverified(Reason.REFUSAL_UNCONFIRMED, new BackendReply(550, "", "Unknown user"));

    assertThat(defaults.decide(unconfirmed, "a@b"))
        .isEqualTo(
            new RecipientDecision.Defer(
                451, "4.4.3", "Recipient verification unavailable, try again later"));
  }

  @Test
  void whatIsNotARejectionIsAcceptedByDefault() {
    assertThat(defaults.decide(ACCEPTED, "a@b")).isEqualTo(RecipientDecision.ACCEPT);
    assertThat(defaults.decide(MAILBOX_FULL, "a@b")).isEqualTo(RecipientDecision.ACCEPT);
    assertThat(defaults.decide(unverified(Reason.TIMEOUT, null), "a@b"))
        .isEqualTo(RecipientDecision.ACCEPT);
    assertThat(closed.decide(unverified(Reason.CATCH_ALL, null), "a@b"))
        .isEqualTo(RecipientDecision.ACCEPT);
    assertThat(closed.decide(unverified(Reason.INVALID_ADDRESS, null), "a@b"))
        .isEqualTo(new RecipientDecision.Refuse(501, "5.1.3", "Bad recipient address syntax"));
  }

  @Test
  void aTemporarilyFullMailboxIsDeferredWithItsMeaningEvenWhenTemporaryFailuresAreAccepted() {
    Verdict full =
        unverified(
            Reason.TEMPORARY_FAILURE,
            new BackendReply(452, "4.2.2", "<x@example.com> Quota exceeded (mailbox is full)"));

    assertThat(defaults.decide(full, "x@example.com"))
        .isEqualTo(new RecipientDecision.Refuse(452, "4.2.2", "Mailbox full: x@example.com"));
    assertThat(closed.decide(full, "x@example.com"))
        .isEqualTo(new RecipientDecision.Refuse(452, "4.2.2", "Mailbox full: x@example.com"));
    assertThat(ReplyPolicy.builder().exposeBackendReply(true).build().decide(full, "x@example.com"))
        .isEqualTo(
            new RecipientDecision.Refuse(
                452, "4.2.2", "<x@example.com> Quota exceeded (mailbox is full)"));
  }

  @Test
  void failingClosedDefersOrPassesTheBackends4xxOn() {
    RecipientDecision.Defer unavailable =
        new RecipientDecision.Defer(
            451, "4.4.3", "Recipient verification unavailable, try again later");
    assertThat(closed.decide(unverified(Reason.BACKEND_UNAVAILABLE, null), "a@b"))
        .isEqualTo(unavailable);
    assertThat(closed.unverified()).isEqualTo(unavailable);
    assertThat(defaults.unverified()).isEqualTo(RecipientDecision.ACCEPT);
    assertThat(closed.decide(BACKEND_5XX_AFTER_RETRY, "a@b")).isEqualTo(unavailable);
    assertThat(closed.decide(MAILBOX_FULL, "a@b"))
        .isEqualTo(new RecipientDecision.Refuse(452, "4.0.0", ReplyPolicy.TRY_LATER));
    assertThat(
            ReplyPolicy.builder()
                .onBackendTemporaryFailure(FailureMode.TEMPFAIL)
                .exposeBackendReply(true)
                .build()
                .decide(MAILBOX_FULL, "a@b"))
        .isEqualTo(new RecipientDecision.Refuse(452, "4.0.0", "Full at mx7.internal"));
  }

  @Test
  void bypassRangesMatchByPrefixAndOnlyLiterals() throws Exception {
    ReplyPolicy policy =
        ReplyPolicy.builder().bypass("10.1.0.0/16", "192.0.2.128/25", "2001:db8::/32").build();

    assertThat(policy.bypasses(InetAddress.getByName("10.1.255.3"))).isTrue();
    assertThat(policy.bypasses(InetAddress.getByName("10.2.0.1"))).isFalse();
    assertThat(policy.bypasses("192.0.2.200")).isTrue();
    assertThat(policy.bypasses("192.0.2.127")).isFalse();
    assertThat(policy.bypasses("2001:DB8:ffff::1")).isTrue();
    assertThat(policy.bypasses("2001:db9::1")).isFalse();
    assertThat(policy.bypasses("unknown")).isFalse();
    assertThat(policy.bypasses((String) null)).isFalse();
    assertThat(defaults.bypasses("127.0.0.1")).isFalse();
    assertThat(ReplyPolicy.builder().bypass("0.0.0.0/0").build().bypasses("198.51.100.1")).isTrue();
    assertThat(ReplyPolicy.builder().bypass("::/0").build().bypasses("198.51.100.1")).isFalse();
  }

  @Test
  void refusesBadValuesNamingThem() {
    refuses(b -> b.rejectCode(399), "reject code");
    refuses(b -> b.rejectCode(600), "reject code");
    refuses(b -> b.rejectMessage("two\r\nlines"), "reject message");
    refuses(b -> b.rejectMessage(" "), "reject message");
    refuses(b -> b.rejectMessage("x".repeat(401)), "400 characters");
    refuses(b -> b.bypass("example.com"), "not an IP address");
    refuses(b -> b.bypass("10.1"), "not an IP address");
    refuses(b -> b.bypass("10.0.0.0/33"), "prefix length");
    refuses(b -> b.bypass("::1/129"), "prefix length");
    refuses(b -> b.bypass("10.0.0.0/x"), "prefix length");
    assertThat(ReplyPolicy.builder().rejectCode(400).build().rejectCode()).isEqualTo(400);
    assertThat(ReplyPolicy.builder().rejectCode(599).build().rejectCode()).isEqualTo(599);
  }

  private static void refuses(UnaryOperator<ReplyPolicy.Builder> change, String message) {
    assertThatThrownBy(() -> change.apply(ReplyPolicy.builder()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }
}
