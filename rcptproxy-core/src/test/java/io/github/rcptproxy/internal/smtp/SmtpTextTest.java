package io.github.rcptproxy.internal.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SmtpTextTest {

  @Test
  void forLogKeepsPrintableUnicodeAndReplacesWhatCouldForgeALine() {
    assertThat(SmtpText.forLog("Jürgen\r\nforged: line\u001b[2J\u202etxt\u2028"))
        .isEqualTo("Jürgen??forged: line?[2J?txt?");
  }

  @Test
  void forReplyIsPrintableAsciiWithEveryOtherCodePointWrittenAsRfc6533Does() {
    assertThat(SmtpText.forReply("Jürgen \uD83D\uDE00\t~"))
        .isEqualTo("J\\x{FC}rgen \\x{1F600}\\x{9}~");
    assertThat(SmtpText.forReply("a\\x{41}")).as("a backslash too").isEqualTo("a\\x{5C}x{41}");
  }
}
