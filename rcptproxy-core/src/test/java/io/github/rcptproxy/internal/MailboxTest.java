package io.github.rcptproxy.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class MailboxTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "alice@example.com",
        "<alice@example.com>",
        "first.last+tag@sub.example.com",
        "!#$%&'*+-/=?^_`{|}~@example.com",
        "\"john.doe@home\"@example.com",
        "user@[192.0.2.1]",
        "user@[IPv6:2001:db8::1]",
        "USER@EXAMPLE.COM"
      })
  void acceptsValidAddresses(String address) throws Exception {
    Mailbox mailbox = Mailbox.parse(address);

    assertThat(mailbox.needsSmtputf8()).isFalse();
    assertThat(mailbox.command("RCPT TO:", false)).endsWith('\r', '\n');
  }

  static Stream<Arguments> invalidAddresses() {
    return Stream.of(
        Arguments.of("alice@example.com\r\nDATA", "control"),
        Arguments.of("alice@example.com\nRSET", "control"),
        Arguments.of("alice@example.com\rRSET", "control"),
        Arguments.of("alice\u0000@example.com", "control"),
        Arguments.of("alice\u007f@example.com", "control"),
        Arguments.of("alice\u0085@example.com", "control"),
        Arguments.of("alice\u2028@example.com", "control"),
        Arguments.of("alice\u200b@example.com", "control"),
        Arguments.of("ali<ce@example.com", "inside the path"),
        Arguments.of("alice@exa>mple.com", "inside the path"),
        Arguments.of("<<alice@example.com>>", "inside the path"),
        Arguments.of("alice@example.com>", "inside the path"),
        Arguments.of("alice", "no @"),
        Arguments.of("@example.com", "empty local part"),
        Arguments.of("@a.example,@b.example:user@c.example", "source routes"),
        Arguments.of("alice@", "empty domain"),
        Arguments.of("alice@-bad.example", "malformed domain"),
        Arguments.of("alice@bad..example", "malformed domain"),
        Arguments.of("alice@example.com.", "malformed domain"),
        Arguments.of("al ice@example.com", "not allowed"),
        Arguments.of(".alice@example.com", "leading or double dot"),
        Arguments.of("al..ice@example.com", "leading or double dot"),
        Arguments.of("alice.@example.com", "ends with a dot"),
        Arguments.of("\"unterminated@example.com", "unterminated"),
        Arguments.of("\"a\"b\"@example.com", "quotes or escapes"),
        Arguments.of("\"john doe\"@example.com", "with spaces"),
        Arguments.of("\"a\\\\b\"@example.com", "escapes"),
        Arguments.of("\"\"@example.com", "empty quoted"),
        Arguments.of("alice@[300.1.1.1]", "address literal"),
        Arguments.of("alice@[not-an-ip]", "address literal"));
  }

  @ParameterizedTest
  @MethodSource("invalidAddresses")
  void refusesInvalidAddressesWithAReason(String address, String reason) {
    assertThatThrownBy(() -> Mailbox.parse(address))
        .isInstanceOf(InvalidAddressException.class)
        .hasMessageContaining(reason);
  }

  @Test
  void refusesEmptyAndNull() {
    assertThatThrownBy(() -> Mailbox.parse("")).isInstanceOf(InvalidAddressException.class);
    assertThatThrownBy(() -> Mailbox.parse(null)).isInstanceOf(InvalidAddressException.class);
    assertThatThrownBy(() -> Mailbox.parse("<>")).isInstanceOf(InvalidAddressException.class);
  }

  @Test
  void refusesUnpairedSurrogates() {
    assertThatThrownBy(() -> Mailbox.parse("a\ud800b@example.com")).hasMessageContaining("U+D800");
    assertThatThrownBy(() -> Mailbox.parse("ab\udc00@example.com")).hasMessageContaining("U+DC00");
  }

  @Test
  void localPartLimitIsCountedInBytes() throws Exception {
    assertThat(Mailbox.parse("a".repeat(64) + "@example.com").localPart()).hasSize(64);
    assertThatThrownBy(() -> Mailbox.parse("a".repeat(65) + "@example.com"))
        .hasMessageContaining("local part longer than 64 bytes");
    // 32 × 'ä' is 32 characters but 64 bytes in UTF-8; 33 is over.
    assertThat(Mailbox.parse("ä".repeat(32) + "@example.com").needsSmtputf8()).isTrue();
    assertThatThrownBy(() -> Mailbox.parse("ä".repeat(33) + "@example.com"))
        .hasMessageContaining("local part longer than 64 bytes");
  }

  @Test
  void domainAndPathLimits() {
    String label = "a".repeat(63);
    String domain256 = String.join(".", label, label, label, label) + ".com"; // 259 bytes
    assertThatThrownBy(() -> Mailbox.parse("u@" + domain256))
        .hasMessageContaining("domain longer than 255");
    String domain250 = String.join(".", label, label, label, "a".repeat(58)); // 250 bytes
    assertThatThrownBy(() -> Mailbox.parse("a".repeat(10) + "@" + domain250))
        .hasMessageContaining("path longer than 256 bytes");
  }

  @Test
  void internationalDomainIsSentAsALabels() throws Exception {
    Mailbox mailbox = Mailbox.parse("user@bücher.example");

    assertThat(mailbox.domain()).isEqualTo("xn--bcher-kva.example");
    assertThat(mailbox.needsSmtputf8()).isFalse();
    assertThat(new String(mailbox.command("RCPT TO:", false), StandardCharsets.US_ASCII))
        .isEqualTo("RCPT TO:<user@xn--bcher-kva.example>\r\n");
  }

  @Test
  void nonAsciiLocalPartNeedsSmtputf8() throws Exception {
    Mailbox mailbox = Mailbox.parse("jörg@example.com");

    assertThat(mailbox.needsSmtputf8()).isTrue();
    assertThatThrownBy(() -> mailbox.command("RCPT TO:", false)).hasMessageContaining("SMTPUTF8");
    assertThat(mailbox.command("RCPT TO:", true))
        .isEqualTo("RCPT TO:<jörg@example.com>\r\n".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void charactersALossyEncoderTurnsIntoLineBreaksStayIntactInUtf8() throws Exception {
    // U+760D and U+760A end in 0x0D / 0x0A in UTF-16; a careless byte cast makes CR / LF of them.
    Mailbox mailbox = Mailbox.parse("\u760d\u760a@example.com");

    byte[] bytes = mailbox.command("RCPT TO:", true);

    for (int i = 0; i < bytes.length - 2; i++) {
      assertThat(bytes[i]).isNotIn((byte) '\r', (byte) '\n', (byte) 0);
    }
    assertThatThrownBy(() -> mailbox.command("RCPT TO:", false))
        .isInstanceOf(InvalidAddressException.class);
  }

  @Test
  void commandLineLimitIs512Bytes() {
    assertThatThrownBy(() -> Mailbox.encodeLine("X".repeat(511), false))
        .hasMessageContaining("longer than 512 bytes");
  }

  @Test
  void encoderRefusesWhatTheCharsetCannotEncode() {
    assertThatThrownBy(() -> Mailbox.encodeLine("RCPT TO:<ü@example.com>", false))
        .hasMessageContaining("cannot be encoded");
    assertThatThrownBy(() -> Mailbox.encodeLine("RCPT TO:<\ud800@example.com>", true))
        .hasMessageContaining("cannot be encoded");
  }
}
