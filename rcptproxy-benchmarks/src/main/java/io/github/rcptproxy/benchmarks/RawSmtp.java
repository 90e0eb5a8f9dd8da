package io.github.rcptproxy.benchmarks;

import io.github.rcptproxy.internal.smtp.SmtpConnection;
import io.github.rcptproxy.internal.smtp.SmtpReply;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A hand-written SMTP client, as lean as it gets: the baseline every other figure is compared with.
 * It speaks over the one client connection the verifier uses too, its strict reader included.
 */
final class RawSmtp implements AutoCloseable {
  private final SmtpConnection connection;

  RawSmtp(int port) throws IOException {
    SmtpConnection.Endpoint endpoint =
        SmtpConnection.Endpoint.connect(
            new InetSocketAddress("127.0.0.1", port), "127.0.0.1", Duration.ofSeconds(5));
    connection =
        new SmtpConnection(
            endpoint.socket(), SmtpConnection.Timeout.eachRead(Duration.ofSeconds(10)));
    try {
      connection.greet();
    } catch (IOException e) {
      connection.close();
      throw e;
    }
  }

  /** Sends a command and returns the first digit of the reply code. */
  char command(String command) throws IOException {
    return (char) ('0' + connection.send(command).code() / 100);
  }

  /** Sends a command and returns its reply's last line as sent: the code, a space and the text. */
  String lastLine(String command) throws IOException {
    SmtpReply reply = connection.send(command);
    return reply.code() + " " + reply.lines().get(reply.lines().size() - 1);
  }

  void expectCommand(String command, char digit) throws IOException {
    char got = command(command);
    if (got != digit) {
      throw new IOException("expected " + digit + "xx, got " + got + "xx");
    }
  }

  /**
   * Sends the commands in one write, as a client using PIPELINING does (RFC 2920), and checks that
   * each reply starts with {@code digit}.
   */
  void expectPipelined(List<String> commands, char digit) throws IOException {
    List<byte[]> encoded = new ArrayList<>();
    for (String command : commands) {
      encoded.add((command + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }
    connection.write(encoded);
    for (String command : commands) {
      char got = (char) ('0' + connection.read().code() / 100);
      if (got != digit) {
        throw new IOException("expected " + digit + "xx to " + command + ", got " + got + "xx");
      }
    }
  }

  /** Sends a message's content after {@code 354}, its final dot included, and checks the reply. */
  void expectContent(byte[] dotTerminated, char digit) throws IOException {
    char got = (char) ('0' + connection.send(dotTerminated).code() / 100);
    if (got != digit) {
      throw new IOException("expected " + digit + "xx after the content, got " + got + "xx");
    }
  }

  @Override
  public void close() {
    connection.close();
  }
}
