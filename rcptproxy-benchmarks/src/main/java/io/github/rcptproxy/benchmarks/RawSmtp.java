package io.github.rcptproxy.benchmarks;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A hand-written SMTP client on a raw socket, as lean as it gets: the baseline every other figure
 * is compared with.
 */
final class RawSmtp implements AutoCloseable {
  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final byte[] line = new byte[4096];

  RawSmtp(int port) throws IOException {
    socket = new Socket();
    socket.setTcpNoDelay(true);
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    socket.setSoTimeout(10_000);
    in = new BufferedInputStream(socket.getInputStream());
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
    while (true) {
      int length = 0;
      for (int b = in.read(); b != '\n'; b = in.read()) {
        if (b < 0) {
          throw new IOException("connection closed");
        }
        if (length < line.length) {
          line[length++] = (byte) b;
        }
      }
      if (length < 4 || line[3] != '-') {
        return (char) line[0];
      }
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
