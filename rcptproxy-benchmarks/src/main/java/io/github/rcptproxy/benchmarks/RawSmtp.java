package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.internal.smtp.SmtpReplyReader;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A hand-written SMTP client on a raw socket, as lean as it gets: the baseline every other figure
 * is compared with. Replies are read by the one strict reader the verifier uses too.
 */
final class RawSmtp implements AutoCloseable {
  private final Socket socket;
  private final SmtpReplyReader in;
  private final OutputStream out;

  RawSmtp(int port) throws IOException {
    socket = new Socket();
    socket.setTcpNoDelay(true);
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    socket.setSoTimeout(10_000);
    in = new SmtpReplyReader(socket.getInputStream());
    out = socket.getOutputStream();
    expect(reply(), '2');
  }

  /** Sends a command and returns the first digit of the reply code. */
  char command(String command) throws IOException {
    out.write((command + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return reply();
  }

  void expectCommand(String command, char digit) throws IOException {
    expect(command(command), digit);
  }

  private static void expect(char got, char digit) throws IOException {
    if (got != digit) {
      throw new IOException("expected " + digit + "xx, got " + got + "xx");
    }
  }

  /** Reads a whole (possibly multi-line) reply; returns the first digit of its code. */
  private char reply() throws IOException {
    return (char) ('0' + in.read().code() / 100);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
