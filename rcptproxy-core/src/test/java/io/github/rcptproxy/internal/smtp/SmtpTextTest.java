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
  void forReplyIsPrintableAsciiOneQuestionMarkPerCodePoint() {
    assertThat(SmtpText.forReply("Jürgen \uD83D\uDE00\t~")).isEqualTo("J?rgen ??~");
  }
}
