package io.github.rcptproxy.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A message kept before relaying: exactly as it will be sent, and nowhere once closed. */
class SpoolTest {
  @TempDir Path directory;

  private static byte[] lines(int count) {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < count; i++) {
      text.append(i % 10 == 0 ? ".dot line " : "line ").append(i).append("\r\n");
    }
    return text.toString().getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] stuffed(byte[] message) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SmtpRelay.writeDotStuffed(new ByteArrayInputStream(message), out);
    return out.toByteArray();
  }

  private static byte[] copied(Spool spool) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    spool.copyTo(out);
    return out.toByteArray();
  }

  @Test
  void aSmallMessageStaysInMemory() throws IOException {
    byte[] message = lines(10);
    try (Spool spool = Spool.receive(new ByteArrayInputStream(message), directory)) {
      assertThat(spool.onDisk()).isFalse();
      assertThat(copied(spool)).isEqualTo(stuffed(message));
    }
  }

  @Test
  void aLargeMessageGoesToAFileThatHasNoNameAndIsSentWholeTwice() throws IOException {
    byte[] message = lines(40_000); // about 400 KB, past the memory bound
    try (Spool spool = Spool.receive(new ByteArrayInputStream(message), directory)) {
      assertThat(spool.onDisk()).isTrue();
      assertThat(spool.size()).isGreaterThan(Spool.IN_MEMORY);
      try (var names = Files.list(directory)) {
        assertThat(names).as("nothing named in the spool directory, even while open").isEmpty();
      }
      assertThat(copied(spool)).isEqualTo(stuffed(message));
      assertThat(copied(spool))
          .as("a second attempt sends it all again")
          .isEqualTo(stuffed(message));
    }
  }

  @Test
  void aBareLineEndPastTheMemoryBoundIsRefusedAndLeavesNothingBehind() {
    byte[] good = lines(40_000);
    byte[] message = new byte[good.length + 5];
    System.arraycopy(good, 0, message, 0, good.length);
    System.arraycopy("bad\nx".getBytes(StandardCharsets.US_ASCII), 0, message, good.length, 5);
    assertThatThrownBy(() -> Spool.receive(new ByteArrayInputStream(message), directory))
        .isInstanceOf(SmtpRelay.BareLineEndException.class);
    assertThat(directory.toFile().list()).isEmpty();
  }
}
