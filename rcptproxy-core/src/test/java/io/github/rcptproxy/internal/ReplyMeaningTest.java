package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.BackendReply;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** What a reply to RCPT or VRFY is about, from its code and enhanced status code alone. */
class ReplyMeaningTest {

  @ParameterizedTest(name = "{0} {1} {2}: {3}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          250 | 2.1.5 | Ok                                           | ACCEPTED
          251 | ''    | User not local; will forward                 | ACCEPTED
          252 | 2.0.0 | Cannot VRFY user, but will accept message    | ACCEPTED
          252 | ''    | Administrative prohibition                   | ACCEPTED
          550 | 5.1.1 | User unknown                                 | NO_SUCH_MAILBOX
          550 | 5.1.2 | Bad destination system                       | NO_SUCH_MAILBOX
          553 | 5.1.3 | Bad destination mailbox address syntax       | NO_SUCH_MAILBOX
          550 | 5.1.4 | Ambiguous                                    | NO_SUCH_MAILBOX
          551 | 5.1.6 | Mailbox moved                                | NO_SUCH_MAILBOX
          556 | 5.1.10 | Null MX                                     | NO_SUCH_MAILBOX
          550 | 5.2.1 | Mailbox disabled                             | NO_SUCH_MAILBOX
          552 | 5.2.2 | Mailbox full                                 | NO_SUCH_MAILBOX
          550 | ''    | Unknown user                                 | UNCLEAR_REFUSAL
          550 | 5.0.0 | Rejected                                     | UNCLEAR_REFUSAL
          550 | 5.1.0 | Address rejected                             | UNCLEAR_REFUSAL
          550 | 5.6.0 | Content rejected                             | UNCLEAR_REFUSAL
          553 | 5.1.7 | Sender address syntax                        | SENDER_REFUSED
          550 | 5.1.8 | Sender address rejected                      | SENDER_REFUSED
          554 | 5.7.1 | Client host rejected: Access denied          | POLICY_REFUSAL
          550 | 5.7.1 | <nobody@example.test>: user unknown          | POLICY_REFUSAL
          504 | 5.5.2 | Sender address rejected: need fully-qualified | REFUSED_FOR_OTHER_REASON
          550 | 5.3.0 | System not accepting network messages        | REFUSED_FOR_OTHER_REASON
          550 | 5.4.4 | Unable to route                              | REFUSED_FOR_OTHER_REASON
          530 | 5.7.0 | Must issue a STARTTLS command first          | REFUSED_FOR_OTHER_REASON
          450 | 4.2.0 | Mailbox busy                                 | TEMPORARY
          451 | ''    | Try again later                              | TEMPORARY
          454 | 4.7.1 | Relay access denied                          | TEMPORARY
          452 | 4.2.2 | Mailbox full                                 | TEMPORARY
          421 | 4.7.0 | Error: too many errors                       | SESSION_OVER
          421 | ''    | SMTP command timeout - closing connection    | SESSION_OVER
          503 | 5.5.1 | Error: need MAIL command                     | SESSION_OVER
          452 | 4.5.3 | Error: too many recipients                   | SESSION_OVER
          452 | ''    | Too many recipients                          | SESSION_OVER
          552 | 5.5.3 | Too many recipients                          | SESSION_OVER
          """)
  void aReplyMeans(int code, String enhanced, String text, ReplyMeaning meaning) {
    assertThat(ReplyMeaning.of(new BackendReply(code, enhanced, text))).isEqualTo(meaning);
  }

  @ParameterizedTest(name = "{0} {1}: {2}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          452 | 4.5.3 | true
          552 | 5.5.3 | true
          452 | ''    | true
          452 | 4.2.2 | false
          550 | 5.1.1 | false
          421 | ''    | false
          """)
  void tooManyRecipientsIsX53OrA452WithoutAnEnhancedCode(
      int code, String enhanced, boolean tooMany) {
    assertThat(ReplyMeaning.tooManyRecipients(new BackendReply(code, enhanced, "")))
        .isEqualTo(tooMany);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @CsvSource({
    "500, true",
    "502, true",
    "504, true",
    "252, false",
    "550, false",
    "501, false",
    "421, false"
  })
  void vrfyNotSupportedIs500Or502Or504(int code, boolean notSupported) {
    assertThat(ReplyMeaning.vrfyNotSupported(new BackendReply(code, "", "")))
        .isEqualTo(notSupported);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @CsvSource({"250, true", "251, true", "252, false", "550, false", "450, false"})
  void onlyA250Or251ToVrfySaysTheMailboxExists(int code, boolean exists) {
    assertThat(ReplyMeaning.vrfySaysExists(new BackendReply(code, "", ""))).isEqualTo(exists);
  }
}
