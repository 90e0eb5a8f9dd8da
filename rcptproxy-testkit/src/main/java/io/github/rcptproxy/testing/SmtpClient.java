package io.github.rcptproxy.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A plain SMTP client over a socket for tests: sends lines, reads whole replies. */
public final class SmtpClient implements AutoCloseable {
  private final Socket socket;
  private final BufferedReader in;
  private final OutputStream out;

  public SmtpClient(String host, int port) throws IOException {
    socket = new Socket();
    socket.connect(new InetSocketAddress(host, port), 5000);
    socket.setSoTimeout(10_000);
    in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    out = socket.getOutputStream();
  }

  /** The last line of the next reply, e.g. {@code 250 2.1.5 Ok}; null if the server hung up. */
  public String readReply() throws IOException {
    String line;
    do {
      line = in.readLine();
    } while (line != null && line.length() > 3 && line.charAt(3) == '-');
    return line;
  }

  /** The next line, e.g. the {@code 220-} first line of a greeting; null if the server hung up. */
  public String readLine() throws IOException {
    return in.readLine();
  }

  /** Every line of the next reply, e.g. {@code [550-Verification failed ..., 550 Sender ...]}. */
  public List<String> readReplyLines() throws IOException {
    List<String> lines = new ArrayList<>();
    String line;
    do {
      line = in.readLine();
      if (line != null) {
        lines.add(line);
      }
    } while (line != null && line.length() > 3 && line.charAt(3) == '-');
    return lines;
  }

  /** Sends one command (CRLF appended) and returns the last line of its reply. */
  public String send(String command) throws IOException {
    sendRaw(command + "\r\n");
    return readReply();
  }

  public void sendRaw(String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
