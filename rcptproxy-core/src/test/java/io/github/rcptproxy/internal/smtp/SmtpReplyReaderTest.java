package io.github.rcptproxy.internal.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SmtpReplyReaderTest {

  private static SmtpReplyReader reader(String raw) {
    return reader(new ByteArrayInputStream(raw.getBytes(StandardCharsets.ISO_8859_1)));
  }

  private static SmtpReplyReader reader(InputStream in) {
    return new SmtpReplyReader(in);
  }

  /** Hands out one byte per read, as a slow network would. */
  private static InputStream oneByteAtATime(String raw) {
    ByteArrayInputStream all = new ByteArrayInputStream(raw.getBytes(StandardCharsets.ISO_8859_1));
    return new InputStream() {
      @Override
      public int read() {
        return all.read();
      }

      @Override
      public int read(byte[] b, int off, int len) {
        return all.read(b, off, Math.min(1, len));
      }
    };
  }

  @Test
  void readsSingleLineReplyWithEnhancedStatus() throws IOException {
    SmtpReply reply = reader("550 5.1.1 <x@y>: Recipient address rejected\r\n").read();

    assertThat(reply.code()).isEqualTo(550);
    assertThat(reply.enhancedStatus()).isEqualTo("5.1.1");
    assertThat(reply.text()).isEqualTo("<x@y>: Recipient address rejected");
  }

  @Test
  void joinsMultiLineReplyAndKeepsEachLineForEhlo() throws IOException {
    SmtpReply reply = reader("250-backend.test\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n").read();

    assertThat(reply.lines()).containsExactly("backend.test", "PIPELINING", "SMTPUTF8");
    assertThat(reply.text()).isEqualTo("backend.test PIPELINING SMTPUTF8");
  }

  @Test
  void extensionsAreTheKeywordsAfterTheFirstLineWithTheirParameters() throws IOException {
    SmtpReply reply =
        reader("250-backend.test Hello\r\n250-pipelining\r\n250-AUTH PLAIN LOGIN \r\n250 SIZE\r\n")
            .read();

    assertThat(reply.extensions())
        .containsOnly(entry("PIPELINING", ""), entry("AUTH", "PLAIN LOGIN"), entry("SIZE", ""));
  }

  @Test
  void readsConsecutiveRepliesSplitAcrossReadsOfOneByte() throws IOException {
    SmtpReplyReader reader =
        reader(oneByteAtATime("250 2.1.0 Ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n"));

    assertThat(reader.read().code()).isEqualTo(250);
    SmtpReply second = reader.read();
    assertThat(second.code()).isEqualTo(550);
    assertThat(second.enhancedStatus()).isEqualTo("5.1.1");
    assertThat(second.text()).isEqualTo("no such user");
  }

  @Test
  void acceptsCodeWithoutText() throws IOException {
    assertThat(reader("250\r\n").read().text()).isEmpty();
  }

  @Test
  void ignoresEnhancedStatusOfAnotherClass() throws IOException {
    SmtpReply reply = reader("250 5.1.1 odd\r\n").read();

    assertThat(reply.enhancedStatus()).isEmpty();
    assertThat(reply.text()).isEqualTo("5.1.1 odd");
  }

  @Test
  void sanitisesControlCharactersInText() throws IOException {
    SmtpReply reply = reader("550 bad\u0007bell\u001b[31m\r\n").read();

    assertThat(reply.text()).isEqualTo("bad?bell?[31m");
  }

  @Test
  void refusesBareLf() {
    assertThatThrownBy(() -> reader("250 Ok\n").read()).hasMessageContaining("bare LF");
    assertThatThrownBy(() -> reader("\n").read()).hasMessageContaining("bare LF");
  }

  @Test
  void refusesBareCr() {
    assertThatThrownBy(() -> reader("250 O\rk\r\n").read()).hasMessageContaining("bare CR");
  }

  @Test
  void refusesMismatchedCodes() {
    assertThatThrownBy(() -> reader("250-a\r\n251 b\r\n").read())
        .hasMessageContaining("changes code");
  }

  @Test
  void refusesMalformedLines() {
    for (String raw :
        new String[] {
          "HTTP/1.1 200 OK\r\n", "25\r\n", "250x\r\n", "650 no\r\n", "150 no\r\n", "\r\n"
        }) {
      assertThatThrownBy(() -> reader(raw).read()).as(raw).hasMessageContaining("malformed");
    }
  }

  @Test
  void refusesMoreThanHundredLines() {
    String endless = "250-x\r\n".repeat(200);

    assertThatThrownBy(() -> reader(endless).read()).hasMessageContaining("100 lines");
  }

  @Test
  void acceptsExactlyHundredLines() throws IOException {
    assertThat(reader("250-x\r\n".repeat(99) + "250 x\r\n").read().lines()).hasSize(100);
  }

  @Test
  void refusesLongLineWithoutReadingItAll() {
    String line = "250 " + "x".repeat(10_000_000) + "\r\n";
    ByteArrayInputStream in = new ByteArrayInputStream(line.getBytes(StandardCharsets.ISO_8859_1));

    assertThatThrownBy(() -> reader(in).read()).hasMessageContaining("longer than 2048 bytes");
    assertThat(in.available()).isGreaterThan(9_000_000);
  }

  @Test
  void endOfStreamIsEof() {
    assertThatThrownBy(() -> reader("250-partial\r\n").read()).isInstanceOf(EOFException.class);
    assertThatThrownBy(() -> reader("").read()).isInstanceOf(EOFException.class);
  }

  @Test
  void malformedReplyIsMalformedReplyException() {
    assertThatThrownBy(() -> reader("garbage\r\n").read())
        .isInstanceOf(MalformedReplyException.class);
    assertThatThrownBy(() -> reader("250 Ok\n").read()).isInstanceOf(MalformedReplyException.class);
  }

  @Test
  void unaskedBytesAfterAReplyAreSeen() throws IOException {
    SmtpReplyReader reader = reader("220 go ahead\r\n250 injected\r\n");

    assertThat(reader.read().code()).isEqualTo(220);
    assertThat(reader.hasBufferedInput()).isTrue();
  }

  @Test
  void beforeReadCanRefuseTheRead() {
    SmtpReplyReader reader =
        new SmtpReplyReader(
            new ByteArrayInputStream("250 Ok\r\n".getBytes(StandardCharsets.US_ASCII)),
            () -> {
              throw new SocketTimeoutException("deadline passed");
            });

    assertThatThrownBy(reader::read).isInstanceOf(SocketTimeoutException.class);
  }

  @Test
  void toStringIsOneLineSafeForLogs() throws IOException {
    SmtpReply reply = reader("550-5.1.1 no such\r\n550 5.1.1 user\u001b[2J\r\n").read();

    assertThat(reply).hasToString("550 5.1.1 no such user?[2J");
    assertThat(reply.lines()).containsExactly("5.1.1 no such", "5.1.1 user\u001b[2J");
  }
}
