package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.rcptproxy.internal.BackendSession;
import io.github.rcptproxy.internal.InvalidAddressException;
import io.github.rcptproxy.internal.Mailbox;
import io.github.rcptproxy.internal.smtp.MalformedReplyException;
import io.github.rcptproxy.internal.smtp.SmtpReply;
import io.github.rcptproxy.internal.smtp.SmtpReplyReader;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;

/**
 * Fuzz tests of what reads the backend's bytes and what writes the client's address. By default
 * they run once per stored input (regression mode, in {@code mvn verify}); to fuzz for real: {@code
 * JAZZER_FUZZ=1 mvn -pl rcptproxy-core test -Dtest=ParserFuzzTest#replyReader}.
 */
class ParserFuzzTest {

  /**
   * No input makes the one reply reader (the verifier's, the relay's, the probe's) throw anything
   * but a malformed reply or the end of input, loop, or return a bad reply.
   */
  @FuzzTest(maxDuration = "2m")
  void replyReader(byte[] input) {
    SmtpReplyReader reader = new SmtpReplyReader(new ByteArrayInputStream(input));
    try {
      for (int replies = 0; replies <= input.length; replies++) {
        SmtpReply reply = reader.read();
        assertThat(reply.lines()).hasSizeBetween(1, SmtpReplyReader.MAX_LINES);
        assertThat(reply.toString().chars()).noneMatch(Character::isISOControl);
        BackendReply backendReply = BackendSession.backendReply(reply);
        assertThat(backendReply.code()).isBetween(200, 599);
        assertThat(backendReply.text().chars()).noneMatch(Character::isISOControl);
        assertThat(backendReply.enhancedStatus()).matches("|[245]\\.\\d{1,3}\\.\\d{1,3}");
      }
      throw new AssertionError("more replies than input bytes");
    } catch (MalformedReplyException | EOFException expected) {
      // malformed, too long, or the end of the input: all refused cleanly
    } catch (IOException e) {
      throw new AssertionError("only a malformed reply or EOF may come out of the reader", e);
    }
  }

  /** A validated address never encodes to bytes holding CR, LF or NUL, nor to a line over 512. */
  @FuzzTest(maxDuration = "2m")
  void addressEncoder(FuzzedDataProvider data) {
    boolean smtputf8 = data.consumeBoolean();
    String address = data.consumeRemainingAsString();
    Mailbox mailbox;
    try {
      mailbox = Mailbox.parse(address);
    } catch (InvalidAddressException refused) {
      assertThat(AddressCheck.problem(address)).isPresent();
      return;
    }
    assertThat(AddressCheck.problem(address)).isEmpty();
    byte[] line;
    try {
      line = mailbox.command("RCPT TO:", smtputf8);
    } catch (InvalidAddressException refused) {
      assertThat(smtputf8 && !mailbox.needsSmtputf8())
          .as("only SMTPUTF8 can make a valid address unsendable")
          .isFalse();
      return;
    }
    assertThat(line.length).isLessThanOrEqualTo(Mailbox.MAX_COMMAND_LINE_BYTES);
    assertThat(line[line.length - 2]).isEqualTo((byte) '\r');
    assertThat(line[line.length - 1]).isEqualTo((byte) '\n');
    for (int i = 0; i < line.length - 2; i++) {
      assertThat(line[i]).isNotIn((byte) '\r', (byte) '\n', (byte) 0);
    }
  }
}
